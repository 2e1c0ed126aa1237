"""Errors raised by the AgentGate client.

Every failure of a call is an :class:`AgentGateError` whose ``message`` is
the server's own ``{"error": "..."}`` text. The classes tell apart what a
caller handles differently; in particular an authentication failure
(:class:`AuthenticationError`) is never reported as a connectivity problem
(:class:`AgentGateConnectionError`), and nothing here is ever turned into
an approval.

None of them derives from a built-in ``OSError`` (``PermissionError``,
``ConnectionError``): an ``except OSError`` written for other code must not
swallow an AgentGate failure by accident.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

__all__ = [
    "AgentGateError",
    "BadRequestError",
    "AuthenticationError",
    "ForbiddenError",
    "NotFoundError",
    "ConflictError",
    "RateLimitError",
    "ServerError",
    "AgentGateConnectionError",
    "UnexpectedResponseError",
    "WaitTimeoutError",
    "ApprovalDenied",
    "ApprovalEdited",
    "error_for_status",
]


class AgentGateError(Exception):
    """A call to AgentGate failed.

    Attributes:
        status: the HTTP status, or 0 when no HTTP answer arrived.
        message: the server's error text (or a description of the failure).
        request_id: the HTTP request id (``X-Request-Id``) of the call; the
            server logs it. The client sets it itself, so it is present even
            when the server never answered.
        retry_after: for 429/503, the seconds the server asked to wait.
    """

    def __init__(
        self,
        status: int,
        message: str,
        request_id: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return "%s(status=%d, message=%r, request_id=%r)" % (
            type(self).__name__,
            self.status,
            self.message,
            self.request_id,
        )


class BadRequestError(AgentGateError):
    """400, 413, 415 or 422: the input was rejected; retrying will not help."""


class AuthenticationError(AgentGateError):
    """401: missing, unknown or revoked API key."""


class ForbiddenError(AgentGateError):
    """403: the key lacks the scope, or the caller may not do this (for
    example decide a request it created)."""


class NotFoundError(AgentGateError):
    """404: unknown request, policy, key or webhook."""


class ConflictError(AgentGateError):
    """409: for example deciding a request that is no longer pending."""


class RateLimitError(AgentGateError):
    """429 after the retries ran out; ``retry_after`` says how long to wait."""


class ServerError(AgentGateError):
    """5xx after the retries ran out (for the calls that are retried)."""


class AgentGateConnectionError(AgentGateError):
    """No HTTP answer at all (refused, reset, DNS, timeout), after the
    retries ran out. ``status`` is 0."""


class UnexpectedResponseError(AgentGateError):
    """An answer the client cannot read (not JSON, or the wrong shape)."""


class WaitTimeoutError(AgentGateError):
    """``wait_for_decision`` reached its timeout while the request was still
    pending (status 408, as the upstream SDK's TimeoutError). The request
    stays pending on the server; ``request`` is the last state seen."""

    def __init__(self, message: str, request: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(408, message)
        self.request = request


class ApprovalDenied(Exception):
    """The request ended denied or expired, so the guarded function did not
    run. Not an :class:`AgentGateError`: the call worked, the answer was no.

    Attributes:
        request: the final request (a dict-like ``ApprovalRequest``).
        status: ``"denied"`` or ``"expired"``.
        reason: the decider's reason, or None.
    """

    def __init__(self, request: Mapping[str, Any]) -> None:
        self.request = request
        self.status = request.get("status")
        self.reason = request.get("decisionReason")
        why = ": %s" % self.reason if self.reason else ""
        super().__init__(
            "AgentGate request %s (%s) was %s%s" % (request.get("id"), request.get("action"), self.status, why)
        )


class ApprovalEdited(Exception):
    """The request was approved with params an approver edited, and
    ``@require_approval`` cannot hand the edit to the function, so the
    function did **not** run: running it with the call's own arguments would
    act on what was asked, not on what was approved (fail closed).

    This happens when the params came from a custom ``params=`` (the
    decorator cannot map them back to arguments), or when the edit added or
    removed a key, or changed an argument that was sent as its ``repr()``.
    Give the function an ``approved_params`` keyword argument to receive the
    approved params instead.

    Not an :class:`AgentGateError` (the call worked) and not an
    :class:`ApprovalDenied` (it was approved).

    Attributes:
        request: the approved request (an ``ApprovalRequest``).
        requested_params: the params the agent asked with.
        approved_params: the params the approver approved.
        detail: why the edit could not be applied.
    """

    def __init__(self, request: Mapping[str, Any], detail: str) -> None:
        self.request = request
        self.requested_params = request.get("params") or {}
        self.approved_params = request.get("approvedParams")
        self.detail = detail
        super().__init__(
            "AgentGate request %s (%s) was approved with edited params, but %s: the function was not run "
            "(give it an approved_params keyword argument to receive them)" % (request.get("id"), request.get("action"), detail)
        )


_BY_STATUS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: BadRequestError,
    415: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_for_status(
    status: int, message: str, request_id: Optional[str] = None, retry_after: Optional[float] = None
) -> AgentGateError:
    """The error class that matches an HTTP status."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else AgentGateError
    return cls(status, message, request_id, retry_after)
