"""Synchronous client of the AgentGate REST API (standard library only)."""

from __future__ import annotations

import datetime as _dt
import email.utils
import http.client
import json
import math
import os
import random
import re
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from . import errors as _e
from .webhook import verify_webhook

__all__ = ["AgentGate", "ApprovalRequest", "Grant", "Page", "__version__"]

__version__ = "0.1.0"

# The long-poll's first timeout in seconds; the server's default maximum is 60.
_LONG_POLL_SECONDS = 30.0
# Retries follow the Go SDK. Idempotent calls (GET, PUT, DELETE, dry runs,
# creation with an Idempotency-Key, decide) are retried on connection
# errors, 429, 502, 503 and 504, and on 500 for GET, PUT and DELETE. A call
# that could act twice (creating a policy, key or webhook; PATCH) only when
# the server cannot have acted on it: 429 (refused before any work) or a
# connection that failed before anything was sent. A 502/503/504 may come
# from a proxy that passed the call on.
_RETRYABLE_STATUS = frozenset((429, 502, 503, 504))
_IDEMPOTENT_METHODS = frozenset(("GET", "PUT", "DELETE"))
_GO_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "\u00b5s": 1e-6, "ns": 1e-9}
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|\u00b5s|ns)")

TimeLike = Union[str, _dt.datetime]


class ApprovalRequest(dict):  # type: ignore[type-arg]
    """An approval request: the server's JSON object (camelCase keys, RFC 3339
    time strings) as a dict, with attribute shortcuts for the common fields.

    ``req["status"]`` and ``req.status`` are the same thing.
    """

    @property
    def id(self) -> str:
        return self["id"]

    @property
    def action(self) -> str:
        return self["action"]

    @property
    def params(self) -> Dict[str, Any]:
        return self.get("params") or {}

    @property
    def context(self) -> Dict[str, Any]:
        return self.get("context") or {}

    @property
    def status(self) -> str:
        """pending, approved, denied or expired."""
        return self["status"]

    @property
    def urgency(self) -> str:
        return self.get("urgency", "normal")

    @property
    def decided_by(self) -> Optional[str]:
        return self.get("decidedBy")

    @property
    def decision_reason(self) -> Optional[str]:
        return self.get("decisionReason")

    @property
    def expires_at(self) -> Optional[str]:
        return self.get("expiresAt")

    @property
    def decided_by_type(self) -> Optional[str]:
        """policy, human, system or grant; None while pending."""
        return self.get("decidedByType")

    @property
    def approved_params(self) -> Optional[Dict[str, Any]]:
        """The params an approver edited and approved; None when not edited."""
        return self.get("approvedParams")

    @property
    def action_params(self) -> Dict[str, Any]:
        """The params to act on: the approver's edited params when there are
        any, else the params asked with (the Go SDK's ActionParams)."""
        approved = self.get("approvedParams")
        return approved if approved is not None else self.params

    @property
    def params_edited(self) -> bool:
        """True when an approver changed the params: ``approved_params`` are
        present and differ (as JSON values, key order aside) from ``params``."""
        approved = self.get("approvedParams")
        return approved is not None and not json_equal(approved, self.params)

    @property
    def approvals(self) -> Optional[Dict[str, int]]:
        """A quorum's progress, ``{"required": n, "received": m}``; None
        unless the rule needs several approvals."""
        return self.get("approvals")

    @property
    def escalation_level(self) -> int:
        """How many escalation steps fired."""
        return int(self.get("escalationLevel") or 0)

    @property
    def grant_id(self) -> Optional[str]:
        """The grant that approved the request (``decided_by_type == "grant"``)."""
        return self.get("grantId")

    @property
    def is_decided(self) -> bool:
        """True once the request is no longer pending."""
        return self.get("status") != "pending"

    @property
    def approved(self) -> bool:
        return self.get("status") == "approved"


def json_equal(a: Any, b: Any) -> bool:
    """Equality of decoded JSON values: key order aside, numbers by value
    (1 equals 1.0), but a bool is never a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Grant:
    """A time-boxed grant to create with an approval:
    ``decide(id, "approved", grant=Grant("1h", max_uses=10))``. It approves
    the same agent's next requests for the same action until it expires,
    is used up or is revoked.

    Attributes:
        duration: how long it lasts, at most 30 days: seconds (a number), a
            ``datetime.timedelta``, or a Go duration string such as "30m",
            "1h" or "1h30m". Sent as a Go duration string ("3600s").
        max_uses: how many requests it may approve; None means no limit.
        conditions: a policy match object the request must satisfy, e.g.
            ``{"params.amount": {"$lte": 100}}``.
    """

    duration: Union[float, _dt.timedelta, str]
    max_uses: Optional[int] = None
    conditions: Optional[Mapping[str, Any]] = None

    def to_wire(self) -> Dict[str, Any]:
        """The ``grant`` object of a decision body."""
        d = self.duration
        if isinstance(d, str):
            if _parse_go_duration(d.strip()) <= 0:
                raise ValueError('Grant: duration must be a Go duration such as "30m" or "1h", not %r' % d)
            text = d.strip()
        else:
            if isinstance(d, _dt.timedelta):
                secs = d.total_seconds()
            elif isinstance(d, (int, float)) and not isinstance(d, bool):
                secs = float(d)
            else:
                raise TypeError("Grant: duration must be seconds, a timedelta or a Go duration string")
            if not (secs > 0) or math.isinf(secs):
                raise ValueError("Grant: duration must be positive")
            ms = round(secs * 1000)
            text = "%ds" % (ms // 1000) if ms % 1000 == 0 else "%dms" % ms
        out: Dict[str, Any] = {"duration": text}
        if self.max_uses is not None:
            if isinstance(self.max_uses, bool) or not isinstance(self.max_uses, int) or self.max_uses < 1:
                raise ValueError("Grant: max_uses must be a positive integer (or None for no limit)")
            out["maxUses"] = self.max_uses
        if self.conditions is not None:
            if not isinstance(self.conditions, Mapping):
                raise TypeError('Grant: conditions must be a match object, e.g. {"params.amount": {"$lte": 100}}')
            out["conditions"] = dict(self.conditions)
        return out


class Page(list):  # type: ignore[type-arg]
    """One page of a listing: a list, with the page envelope attached."""

    def __init__(self, items: Sequence[Any], pagination: Mapping[str, Any]) -> None:
        super().__init__(items)
        self.pagination: Dict[str, Any] = dict(pagination)

    @property
    def total(self) -> int:
        return int(self.pagination.get("total", len(self)))

    @property
    def has_more(self) -> bool:
        return bool(self.pagination.get("hasMore", False))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None  # urllib then raises the 3xx as an HTTPError


class AgentGate:
    """Client of one AgentGate server.

    >>> gate = AgentGate("http://localhost:3000", os.environ["AGENTGATE_API_KEY"])
    >>> req = gate.request_and_wait("send_email", {"to": "bob@example.com"})
    >>> if req.approved: send_email()

    Args:
        base_url: the server URL; default ``$AGENTGATE_URL``.
        api_key: an ``agk_...`` key; default ``$AGENTGATE_API_KEY``.
        timeout: seconds a call may block on the network (socket timeout of
            one attempt; long-polls get their own). Default 30.
        max_retries: retries after the first attempt for retryable failures
            (network errors, 429, 502/503/504 on idempotent calls). Default 3.
        retry_delay: the first backoff delay in seconds, doubled per retry
            with jitter. Default 0.5.
        max_retry_delay: upper bound of one delay and of an honoured
            Retry-After, in seconds; a 429 asking for longer is raised at
            once. Default 30.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        retry_delay: float = 0.5,
        max_retry_delay: float = 30.0,
    ) -> None:
        base_url = base_url or os.environ.get("AGENTGATE_URL")
        api_key = api_key or os.environ.get("AGENTGATE_API_KEY")
        if not base_url:
            raise ValueError("AgentGate: base_url is required (or set AGENTGATE_URL)")
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("AgentGate: base_url must be an http:// or https:// URL, not %r" % base_url)
        if not api_key:
            raise ValueError("AgentGate: api_key is required (or set AGENTGATE_API_KEY)")
        for name, v in (("timeout", timeout), ("max_retries", max_retries), ("retry_delay", retry_delay),
                        ("max_retry_delay", max_retry_delay)):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 or math.isnan(v):
                raise ValueError("AgentGate: %s must be a non-negative number" % name)
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.retry_delay = float(retry_delay)
        self.max_retry_delay = float(max_retry_delay)
        # urllib's default handlers (HTTP(S)_PROXY and NO_PROXY apply), but
        # redirects are not followed: urllib would turn a POST into a GET
        # without its body, and send the API key to wherever it points.
        self._opener = urllib.request.build_opener(_NoRedirect())

    def __repr__(self) -> str:
        return "AgentGate(%r)" % self.base_url  # never the key

    # ---- approval requests ----------------------------------------------

    def request(
        self,
        action: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        context: Optional[Mapping[str, Any]] = None,
        urgency: Optional[str] = None,
        expires_at: Optional[TimeLike] = None,
        idempotency_key: Optional[str] = None,
    ) -> ApprovalRequest:
        """Ask for approval (POST /api/requests).

        The answer may already be decided (a policy auto-approved or
        auto-denied it); otherwise it is pending. Every call carries an
        ``Idempotency-Key`` (yours, or a fresh UUID) reused by its retries,
        so a retry after a lost answer returns the request the first
        attempt created instead of creating a second one.
        """
        if not isinstance(action, str) or not action.strip():
            raise ValueError("request: action must be a non-empty string")
        body: Dict[str, Any] = {"action": action}
        if params is not None:
            body["params"] = dict(params)
        if context is not None:
            body["context"] = dict(context)
        if urgency is not None:
            body["urgency"] = urgency
        if expires_at is not None:
            body["expiresAt"] = _time_string(expires_at)
        data = self._call(
            "POST",
            "/api/requests",
            body=body,
            headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4())},
            idempotent=True,
        )
        return ApprovalRequest(data)

    def get_request(self, request_id: str) -> ApprovalRequest:
        """GET /api/requests/{id}."""
        return ApprovalRequest(self._call("GET", "/api/requests/" + _path_id(request_id)))

    def list_requests(
        self,
        *,
        status: Optional[str] = None,
        action: Optional[str] = None,
        agent_id: Optional[str] = None,
        decided_by: Optional[str] = None,
        since: Optional[TimeLike] = None,
        until: Optional[TimeLike] = None,
        sort: Optional[str] = None,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
    ) -> Page:
        """One page of requests (GET /api/requests), newest first by default.

        ``sort`` is newest, created_at (oldest first), urgency or
        sla_remaining; ``limit`` 1..100 (server default 50); ``since`` and
        ``until`` are the API's ``from`` and ``to``. Returns a :class:`Page`
        (a list with ``.pagination``, ``.total``, ``.has_more``).
        """
        query = {
            "status": status,
            "action": action,
            "agentId": agent_id,
            "decidedBy": decided_by,
            "from": _time_string(since) if since is not None else None,
            "to": _time_string(until) if until is not None else None,
            "sort": sort,
            "limit": limit,
            "offset": offset,
        }
        data = self._call("GET", "/api/requests", query=query)
        return Page([ApprovalRequest(r) for r in data["requests"]], data["pagination"])

    def iter_requests(self, *, page_size: int = 100, **filters: Any) -> Iterator[ApprovalRequest]:
        """Every request matching the filters of :meth:`list_requests`, page
        by page. A request that moves between pages while iterating (new
        requests push older ones down under newest-first) is yielded once;
        ``sort="created_at"`` gives a stable walk."""
        filters.pop("offset", None)
        filters.pop("limit", None)
        seen = set()
        offset = 0
        while True:
            page = self.list_requests(limit=page_size, offset=offset, **filters)
            for r in page:
                if r["id"] not in seen:
                    seen.add(r["id"])
                    yield r
            if not page.has_more or not page:
                return
            offset += len(page)

    def wait_for_decision(
        self,
        request_id: str,
        timeout: Optional[float] = None,
        *,
        poll_interval: float = 2.0,
    ) -> ApprovalRequest:
        """Wait until the request is decided or expired and return it.

        Long-polls GET /api/requests/{id}/wait in a loop, so it returns
        within milliseconds of the decision. Dropped connections, 429 and
        502/503/504 are retried with backoff for as long as the wait lasts.
        Against a server without the long-poll route (404 "Route ... not
        found", unlike "Request not found") it polls GET /api/requests/{id}
        every ``poll_interval`` seconds.

        With ``timeout=None`` it waits until the server decides or expires
        the request; with a number of seconds it raises
        :class:`WaitTimeoutError` (the request stays pending). 401, 403 and
        404 are raised at once.
        """
        path = "/api/requests/" + _path_id(request_id)
        deadline = math.inf if timeout is None else time.monotonic() + max(0.0, float(timeout))
        long_poll = True
        chunk = _LONG_POLL_SECONDS
        failures = 0
        last: Optional[ApprovalRequest] = None
        asked = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and asked:
                raise _e.WaitTimeoutError(
                    "AgentGate request %s is still pending after %s s" % (request_id, timeout), last
                )
            asked = True
            try:
                if long_poll:
                    secs = max(0.001, min(chunk, remaining))
                    data = self._call(
                        "GET",
                        path + "/wait",
                        query={"timeout": "%dms" % math.ceil(secs * 1000)},
                        retries=0,
                        timeout=secs + 15.0,
                    )
                else:
                    data = self._call("GET", path, retries=0)
                last = ApprovalRequest(data)
                failures = 0
                if last.is_decided:
                    return last
                if not long_poll:
                    time.sleep(max(0.0, min(poll_interval, deadline - time.monotonic())))
            except _e.NotFoundError as err:
                if long_poll and "request not found" not in err.message.lower():
                    # The server has no long-poll route: poll instead. An
                    # unknown request still fails, on the GET.
                    long_poll = False
                    continue
                raise
            except _e.BadRequestError as err:
                if long_poll:
                    # The server caps long-polls below ours: adopt its cap,
                    # or poll when its answer cannot be read.
                    cap = _max_wait_of(err.message)
                    if 0 < cap < chunk:
                        chunk = cap
                    else:
                        long_poll = False
                    continue
                raise
            except (_e.AgentGateConnectionError, _e.RateLimitError, _e.ServerError) as err:
                # Dropped connections, 429 and any 5xx (a restarting server,
                # a proxy's gateway error) are retried while the wait lasts.
                failures += 1
                delay = self._backoff(failures, err)
                time.sleep(max(0.0, min(delay, deadline - time.monotonic())))

    def request_and_wait(
        self,
        action: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        context: Optional[Mapping[str, Any]] = None,
        urgency: Optional[str] = None,
        expires_at: Optional[TimeLike] = None,
        idempotency_key: Optional[str] = None,
        timeout: Optional[float] = None,
        poll_interval: float = 2.0,
    ) -> ApprovalRequest:
        """:meth:`request`, then :meth:`wait_for_decision` when pending.
        Returns the final request (approved, denied or expired); it does not
        raise for a denial: check ``.approved``."""
        req = self.request(
            action, params, context=context, urgency=urgency, expires_at=expires_at, idempotency_key=idempotency_key
        )
        if req.is_decided:
            return req
        return self.wait_for_decision(req.id, timeout, poll_interval=poll_interval)

    def require_approval(self, action: str, params: Any = None, **options: Any) -> Callable[[Any], Any]:
        """Decorator: see :func:`agentgate.require_approval`; this client asks."""
        from .decorators import require_approval

        return require_approval(action, params, client=self, **options)

    def decide(
        self,
        request_id: str,
        decision: str,
        *,
        reason: Optional[str] = None,
        decided_by: Optional[str] = None,
        params: Optional[Mapping[str, Any]] = None,
        grant: Optional[Grant] = None,
    ) -> ApprovalRequest:
        """Approve or deny a pending request (POST /api/requests/{id}/decide).

        ``decision`` is "approved" or "denied". The key needs the
        request:decide scope and may not be the key that created the request
        (ForbiddenError). A request that is no longer pending raises
        ConflictError, except when this call's own earlier attempt made the
        decision before its answer was lost (the recorded decision is this
        key's, with the same outcome): then the request is returned.

        With an approval, ``params`` are edited params that replace the
        agent's (it receives them as ``approved_params``; an edit the
        policies would deny raises BadRequestError, status 422), and
        ``grant`` (a :class:`Grant`) also approves the same agent's next
        requests for the same action for a while. A request that needs
        several approvals (a quorum) stays pending until the last one; its
        ``approvals["received"]`` counts them.
        """
        if decision not in ("approved", "denied"):
            raise ValueError('decide: decision must be "approved" or "denied"')
        body: Dict[str, Any] = {"decision": decision}
        if reason is not None:
            body["reason"] = reason
        if decided_by is not None:
            body["decidedBy"] = decided_by
        if params is not None:
            if not isinstance(params, Mapping):
                raise TypeError("decide: params must be a dict (the edited params), not %s" % type(params).__name__)
            body["params"] = dict(params)
        if grant is not None:
            if not isinstance(grant, Grant):
                raise TypeError("decide: grant must be an agentgate.Grant, e.g. Grant(\"1h\", max_uses=10)")
            body["grant"] = grant.to_wire()
        retried: List[bool] = []
        try:
            data = self._call(
                "POST",
                "/api/requests/%s/decide" % _path_id(request_id),
                body=body,
                idempotent=True,
                on_retry=lambda: retried.append(True),
            )
        except _e.ConflictError:
            if retried:
                # An earlier attempt may have won with its answer lost: it
                # did when the recorded decision is this key's, same outcome.
                mine = self._reconcile_decision(request_id, decision)
                if mine is not None:
                    return mine
            raise
        return ApprovalRequest(data)

    def decide_batch(
        self,
        request_ids: Sequence[str],
        decision: str,
        *,
        reason: Optional[str] = None,
        decided_by: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """Decide many requests at once (POST /api/requests/decide-batch).

        Each is decided and audited on its own and may fail on its own: the
        answer has one result per id, in order, ``{"id", "ok", "status",
        "error"?, "request"?}`` (``status`` is the HTTP status that decision
        alone would have had: 200, 403, 404, 409, ...; ``request`` an
        :class:`ApprovalRequest`). Edited params and grants cannot be given
        in a batch. Safe to retry: a decision already recorded comes back as
        a 409 result.
        """
        if isinstance(request_ids, str) or not request_ids or not all(
            isinstance(i, str) and i for i in request_ids
        ):
            raise ValueError("decide_batch: request_ids must be a non-empty list of request ids")
        if decision not in ("approved", "denied"):
            raise ValueError('decide_batch: decision must be "approved" or "denied"')
        body: Dict[str, Any] = {"ids": list(request_ids), "decision": decision}
        if reason is not None:
            body["reason"] = reason
        if decided_by is not None:
            body["decidedBy"] = decided_by
        results = self._call("POST", "/api/requests/decide-batch", body=body, idempotent=True)["results"]
        for r in results:
            if r.get("request") is not None:
                r["request"] = ApprovalRequest(r["request"])
        return results

    def _reconcile_decision(self, request_id: str, outcome: str) -> Optional[ApprovalRequest]:
        try:
            me = self.whoami()
            r = self.get_request(request_id)
        except _e.AgentGateError:
            return None
        if r.status == outcome and r.get("decidedByType") == "human" and r.get("decidedById") == me.get("id"):
            return r
        return None

    # ---- grants and groups ----------------------------------------------

    def list_grants(
        self,
        *,
        agent_id: Optional[str] = None,
        action: Optional[str] = None,
        active_only: bool = False,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
    ) -> Page:
        """Grants, newest first (GET /api/grants; request:read). A
        :class:`Page` of dicts ``{id, agentId, action, conditions, expiresAt,
        maxUses, uses, requestId, createdBy, createdAt, revokedAt, revokedBy,
        active}``. ``active_only`` leaves out revoked, expired and used-up
        grants."""
        query = {
            "agentId": agent_id,
            "action": action,
            "active": "true" if active_only else None,
            "limit": limit,
            "offset": offset,
        }
        data = self._call("GET", "/api/grants", query=query)
        return Page(data["grants"], data["pagination"])

    def revoke_grant(self, grant_id: str) -> Dict[str, Any]:
        """End a grant at once (DELETE /api/grants/{id}; request:decide) and
        return it. Revoking twice is not an error."""
        return self._call("DELETE", "/api/grants/" + _path_id(grant_id))

    def list_groups(self) -> List[Dict[str, Any]]:
        """The approver groups (GET /api/groups; admin)."""
        return self._call("GET", "/api/groups")["groups"]

    def get_group(self, name: str) -> Dict[str, Any]:
        """GET /api/groups/{name} (admin)."""
        return self._call("GET", "/api/groups/" + _path_id(name))

    def save_group(self, name: str, members: Sequence[str]) -> Dict[str, Any]:
        """Create or replace a group (PUT /api/groups/{name}; admin). Rules
        name it as "group:NAME" in approvers and quorums. Members are
        identities: key names or ids, "slack:U…", "email:…"."""
        if isinstance(members, str) or not all(isinstance(m, str) for m in members):
            raise TypeError("save_group: members must be a list of strings")
        return self._call("PUT", "/api/groups/" + _path_id(name), body={"members": list(members)})

    def delete_group(self, name: str) -> None:
        """DELETE /api/groups/{name} (admin); an unknown group raises
        NotFoundError."""
        self._delete("/api/groups/" + _path_id(name))

    # ---- audit ----------------------------------------------------------

    def get_request_audit(self, request_id: str) -> List[Dict[str, Any]]:
        """The audit trail of one request, oldest first
        (GET /api/requests/{id}/audit)."""
        return self._call("GET", "/api/requests/%s/audit" % _path_id(request_id))

    def list_audit_logs(
        self,
        *,
        request_id: Optional[str] = None,
        event_type: Optional[str] = None,
        actor: Optional[str] = None,
        action: Optional[str] = None,
        status: Optional[str] = None,
        since: Optional[TimeLike] = None,
        until: Optional[TimeLike] = None,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
    ) -> Page:
        """One page of the audit trail (GET /api/audit). Event types:
        created, approved, denied, expired, key.*, policy.*."""
        query = {
            "requestId": request_id,
            "eventType": event_type,
            "actor": actor,
            "action": action,
            "status": status,
            "from": _time_string(since) if since is not None else None,
            "to": _time_string(until) if until is not None else None,
            "limit": limit,
            "offset": offset,
        }
        data = self._call("GET", "/api/audit", query=query)
        return Page(data["entries"], data["pagination"])

    # ---- policies -------------------------------------------------------

    def list_policies(self, *, limit: Optional[int] = None, offset: Optional[int] = None) -> Page:
        """GET /api/policies (admin)."""
        data = self._call("GET", "/api/policies", query={"limit": limit, "offset": offset})
        return Page(data["policies"], data["pagination"])

    def get_policy(self, policy_id: str) -> Dict[str, Any]:
        """GET /api/policies/{id}."""
        return self._call("GET", "/api/policies/" + _path_id(policy_id))

    def create_policy(
        self,
        name: str,
        rules: Sequence[Mapping[str, Any]],
        *,
        priority: Optional[int] = None,
        enabled: Optional[bool] = None,
        scope: Optional[str] = None,
        agent_ids: Optional[Sequence[str]] = None,
        tool_ids: Optional[Sequence[str]] = None,
    ) -> Dict[str, Any]:
        """POST /api/policies. Rules are ``{"match": {...}, "decision":
        "auto_approve" | "auto_deny" | "route_to_human", ...}``. Defaults:
        priority 100 (lower runs first), enabled, global scope."""
        body = _policy_body(name=name, rules=rules, priority=priority, enabled=enabled, scope=scope,
                            agent_ids=agent_ids, tool_ids=tool_ids)
        return self._call("POST", "/api/policies", body=body, idempotent=False)

    def update_policy(
        self,
        policy_id: str,
        name: str,
        rules: Sequence[Mapping[str, Any]],
        *,
        priority: Optional[int] = None,
        enabled: Optional[bool] = None,
        scope: Optional[str] = None,
        agent_ids: Optional[Sequence[str]] = None,
        tool_ids: Optional[Sequence[str]] = None,
    ) -> Dict[str, Any]:
        """PUT /api/policies/{id}: replaces the whole policy."""
        body = _policy_body(name=name, rules=rules, priority=priority, enabled=enabled, scope=scope,
                            agent_ids=agent_ids, tool_ids=tool_ids)
        return self._call("PUT", "/api/policies/" + _path_id(policy_id), body=body)

    def patch_policy(self, policy_id: str, **fields: Any) -> Dict[str, Any]:
        """PATCH /api/policies/{id}: changes only the given fields (name,
        rules, priority, enabled, scope, agent_ids, tool_ids)."""
        body = _policy_body(**fields)
        return self._call("PATCH", "/api/policies/" + _path_id(policy_id), body=body, idempotent=False)

    def delete_policy(self, policy_id: str) -> None:
        """DELETE /api/policies/{id}."""
        self._delete("/api/policies/" + _path_id(policy_id))

    def dry_run(
        self,
        action: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        context: Optional[Mapping[str, Any]] = None,
        urgency: Optional[str] = None,
        agent: Optional[Mapping[str, str]] = None,
        policy_id: Optional[str] = None,
    ) -> Dict[str, Any]:
        """What the policies would decide, without creating a request (POST
        /api/policies/dry-run, or one policy's, even a disabled one, with
        ``policy_id``). The answer has decision, matched, policyId, reason."""
        body: Dict[str, Any] = {"action": action}
        if params is not None:
            body["params"] = dict(params)
        if context is not None:
            body["context"] = dict(context)
        if urgency is not None:
            body["urgency"] = urgency
        if agent is not None:
            body["agent"] = dict(agent)
        path = "/api/policies/dry-run" if policy_id is None else "/api/policies/%s/dry-run" % _path_id(policy_id)
        return self._call("POST", path, body=body)

    # ---- webhooks -------------------------------------------------------

    def list_webhooks(self) -> List[Dict[str, Any]]:
        """GET /api/webhooks."""
        data = self._call("GET", "/api/webhooks")
        return data if isinstance(data, list) else data["webhooks"]

    def create_webhook(
        self,
        url: str,
        events: Sequence[str],
        *,
        secret: Optional[str] = None,
        enabled: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """POST /api/webhooks. ``events`` are names such as
        "request.decided", or "*". The answer holds the signing ``secret``,
        shown only this once (generated by the server when omitted)."""
        body: Dict[str, Any] = {"url": url, "events": list(events)}
        if secret is not None:
            body["secret"] = secret
        if enabled is not None:
            body["enabled"] = enabled
        return self._call("POST", "/api/webhooks", body=body, idempotent=False)

    def delete_webhook(self, webhook_id: str) -> None:
        """DELETE /api/webhooks/{id}."""
        self._delete("/api/webhooks/" + _path_id(webhook_id))

    verify_webhook = staticmethod(verify_webhook)

    # ---- API keys -------------------------------------------------------

    def create_api_key(
        self, name: str, scopes: Sequence[str], *, rate_limit: Optional[int] = None
    ) -> Dict[str, Any]:
        """POST /api/keys (admin). Scopes: admin, request:create,
        request:read, request:decide, webhook:manage. The answer's ``key``
        is the secret, shown only this once."""
        body: Dict[str, Any] = {"name": name, "scopes": list(scopes)}
        if rate_limit is not None:
            body["rateLimit"] = rate_limit
        return self._call("POST", "/api/keys", body=body, idempotent=False)

    def list_api_keys(self) -> List[Dict[str, Any]]:
        """GET /api/keys (admin). Never includes secrets."""
        return self._call("GET", "/api/keys")["keys"]

    def revoke_api_key(self, key_id: str) -> None:
        """DELETE /api/keys/{id}: revokes at once; revoking twice is fine."""
        self._delete("/api/keys/" + _path_id(key_id))

    def whoami(self) -> Dict[str, Any]:
        """GET /api/me: the calling key's id, name and scopes."""
        return self._call("GET", "/api/me")

    # ---- transport ------------------------------------------------------

    def _delete(self, path: str) -> None:
        retried: List[bool] = []
        try:
            self._call("DELETE", path, on_retry=lambda: retried.append(True))
        except _e.NotFoundError:
            if not retried:
                raise
            # The lost first attempt deleted it.

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, Any]] = None,
        body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        idempotent: bool = True,
        retries: Optional[int] = None,
        timeout: Optional[float] = None,
        on_retry: Optional[Callable[[], Any]] = None,
    ) -> Any:
        url = self.base_url + path
        if query:
            pairs = [(k, _query_value(v)) for k, v in query.items() if v is not None]
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs)
        # One id for the call and all its retries: the server logs it, and
        # the error carries it even when no answer came.
        http_request_id = secrets.token_hex(12)
        hdrs = {
            "Authorization": "Bearer " + self._api_key,
            "Accept": "application/json",
            "User-Agent": "agentgate-sdk-python/" + __version__,
            "X-Request-Id": http_request_id,
        }
        if headers:
            hdrs.update(headers)
        data: Optional[bytes] = None
        if body is not None:
            hdrs["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        max_retries = self.max_retries if retries is None else retries
        attempt = 0
        while True:
            try:
                return self._attempt(method, url, hdrs, data, http_request_id, timeout or self.timeout)
            except _e.AgentGateError as err:
                if attempt >= max_retries or not _retryable(err, idempotent, method):
                    raise
                if err.retry_after is not None and err.retry_after > self.max_retry_delay:
                    raise  # the server asks for longer than we are willing to block
                attempt += 1
                time.sleep(self._backoff(attempt, err))
                if on_retry is not None:
                    on_retry()

    def _attempt(
        self, method: str, url: str, headers: Mapping[str, str], data: Optional[bytes], request_id: str, timeout: float
    ) -> Any:
        req = urllib.request.Request(url, data=data, headers=dict(headers), method=method)
        try:
            with self._opener.open(req, timeout=timeout) as res:
                status = res.status
                raw = res.read()
                rid = res.headers.get("X-Request-Id") or request_id
        except urllib.error.HTTPError as err:
            # Read the body of the error answer: its {"error": "..."} is the
            # message. (The upstream SDK expected another shape here and
            # turned every error, a 401 included, into a "connectivity
            # error" that could fail open.)
            try:
                raw = err.read()
            except (OSError, http.client.HTTPException):
                raw = b""
            finally:
                err.close()
            rid = err.headers.get("X-Request-Id") if err.headers else None
            if 300 <= err.code < 400:
                where = err.headers.get("Location") if err.headers else None
                raise _e.UnexpectedResponseError(
                    err.code,
                    "%s %s was redirected (HTTP %d) to %s: set base_url to the server's real address "
                    "(redirects are not followed)" % (method, url, err.code, where or "an unknown location"),
                    rid or request_id,
                ) from None
            raise _e.error_for_status(
                err.code,
                _error_message(err.code, err.reason, raw),
                rid or request_id,
                _retry_after(err.headers.get("Retry-After") if err.headers else None),
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            raise _connection_error(method, url, err, request_id) from err
        if not raw:
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _e.UnexpectedResponseError(
                status, "%s %s: the answer is not JSON (HTTP %d)" % (method, url, status), rid
            ) from None

    def _backoff(self, retry: int, err: _e.AgentGateError) -> float:
        if err.retry_after is not None:
            return min(err.retry_after, self.max_retry_delay)
        ceiling = min(self.max_retry_delay, self.retry_delay * (2 ** (retry - 1)))
        # "Equal jitter": half fixed, half random, so that many clients
        # failing together do not retry together.
        return ceiling / 2 + random.random() * ceiling / 2


def _retryable(err: _e.AgentGateError, idempotent: bool, method: str) -> bool:
    if isinstance(err, _e.AgentGateConnectionError):
        return idempotent or getattr(err, "_not_sent", False)
    if err.status == 429:
        return True
    if not idempotent:
        return False
    return err.status in _RETRYABLE_STATUS or (err.status == 500 and method in _IDEMPOTENT_METHODS)


def _max_wait_of(message: str) -> float:
    """The server's long-poll maximum in seconds from its 400 answer
    "timeout must be between 0s and 1m0s"; 0 when it says otherwise."""
    m = re.fullmatch(r"timeout must be between \S+ and (\S+)", message.strip())
    return _parse_go_duration(m.group(1)) if m else 0.0


def _parse_go_duration(s: str) -> float:
    """A Go duration such as "1m0s" or "1.5h" in seconds; 0 when it is not one."""
    total, pos = 0.0, 0
    while pos < len(s):
        m = _GO_DURATION_PART.match(s, pos)
        if not m:
            return 0.0
        total += float(m.group(1)) * _GO_DURATION_UNITS[m.group(2)]
        pos = m.end()
    return total


def _connection_error(method: str, url: str, err: BaseException, request_id: str) -> _e.AgentGateConnectionError:
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    # urllib wraps failures to connect (refused, DNS) in URLError; those
    # happen before the request is sent, so even a call that could act twice
    # may be repeated.
    not_sent = isinstance(err, urllib.error.URLError) and isinstance(
        reason, (ConnectionRefusedError, socket.gaierror)
    )
    if isinstance(reason, (socket.timeout, TimeoutError)):
        text = "no answer within the timeout"
    else:
        text = "%s: %s" % (type(reason).__name__, reason) if str(reason) else type(reason).__name__
    ce = _e.AgentGateConnectionError(0, "%s %s: %s" % (method, url, text), request_id)
    ce._not_sent = not_sent  # type: ignore[attr-defined]
    return ce


def _error_message(status: int, reason: Any, raw: bytes) -> str:
    """The server's {"error": "..."} text, or the best the body offers."""
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, str) and err:
            return err
        if isinstance(body.get("message"), str) and body["message"]:
            return body["message"]
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
    snippet = text.strip()[:200]
    msg = "HTTP %d" % status
    if reason:
        msg += " %s" % reason
    if snippet:
        msg += ": " + snippet
    return msg


def _retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds())


def _time_string(t: TimeLike) -> str:
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware (e.g. datetime.now(timezone.utc))")
        return t.astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return t


def _query_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, _dt.datetime):
        return _time_string(v)
    return str(v)


def _path_id(v: str) -> str:
    if not isinstance(v, str) or not v:
        raise ValueError("id must be a non-empty string")
    return urllib.parse.quote(v, safe="")


_POLICY_FIELDS = {
    "name": "name",
    "rules": "rules",
    "priority": "priority",
    "enabled": "enabled",
    "scope": "scope",
    "agent_ids": "agentIds",
    "tool_ids": "toolIds",
}


def _policy_body(**fields: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {}
    for k, v in fields.items():
        if k not in _POLICY_FIELDS:
            raise TypeError("unknown policy field %r (use %s)" % (k, ", ".join(sorted(_POLICY_FIELDS))))
        if v is not None:
            body[_POLICY_FIELDS[k]] = list(v) if k in ("rules", "agent_ids", "tool_ids") else v
    return body
