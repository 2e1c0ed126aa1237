"""``@require_approval``: run a function only after a person (or a policy)
approved it."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, TypeVar, Union

from .errors import ApprovalDenied

if TYPE_CHECKING:
    from .client import AgentGate, TimeLike

__all__ = ["require_approval"]

F = TypeVar("F", bound=Callable[..., Any])

def _client_from_env() -> "AgentGate":
    # Built per call, not at import: importing a module that uses the
    # decorator must not need AGENTGATE_URL and AGENTGATE_API_KEY. A client
    # holds no connections, so this costs nothing worth caching.
    from .client import AgentGate

    return AgentGate()


def _json_safe(value: Any) -> Any:
    """value if JSON can encode it, else its repr()."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _bound_arguments(fn: Callable[..., Any], args: tuple, kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """The call's arguments by parameter name, defaults applied; a leading
    ``self``/``cls`` is left out; ``*args``/``**kwargs`` keep their names."""
    sig = inspect.signature(fn)
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    out: Dict[str, Any] = {}
    params = list(sig.parameters)
    for i, (name, value) in enumerate(bound.arguments.items()):
        if i == 0 and params and params[0] in ("self", "cls") and name == params[0]:
            continue
        if sig.parameters[name].kind is inspect.Parameter.VAR_POSITIONAL:
            value = list(value)
        out[name] = _json_safe(value)
    return out


def require_approval(
    action: str,
    params: Union[None, Mapping[str, Any], Callable[..., Mapping[str, Any]]] = None,
    *,
    client: Optional["AgentGate"] = None,
    context: Optional[Mapping[str, Any]] = None,
    urgency: Optional[str] = None,
    expires_at: Optional["TimeLike"] = None,
    timeout: Optional[float] = None,
) -> Callable[[F], F]:
    """Decorator: each call asks AgentGate for approval of ``action`` first,
    waits for the decision, and runs the function only when it is approved.

    Denied or expired: raises :class:`ApprovalDenied` (with ``.request``)
    and the function does not run. Any failure to ask or to wait (a wrong
    key, the server unreachable, ``timeout`` passed) raises that error and
    the function does not run either: nothing fails open.

    Args:
        action: the action name the policies and the approver see.
        params: what the approver sees as the request's params:
            - None (default): the call's arguments by parameter name, with
              defaults applied (``self``/``cls`` left out). A value that JSON
              cannot encode (an open file, a client object, bytes) is sent
              as its ``repr()`` string, so the approver sees what it was.
            - a dict: sent as is.
            - a callable: called with the call's arguments (``*args,
              **kwargs``); it must return a JSON-encodable dict. If it does
              not, TypeError is raised before anything is asked and the
              function does not run.
        client: the :class:`AgentGate` to ask; default one built from
            ``$AGENTGATE_URL`` and ``$AGENTGATE_API_KEY`` at each call.
        context, urgency, expires_at: as for :meth:`AgentGate.request`.
        timeout: seconds to wait for the decision (default: until the server
            decides or expires it); then :class:`WaitTimeoutError`.

    Works on ``async def`` functions too: the wait runs in a worker thread
    so that it does not block the event loop.
    """
    if not isinstance(action, str) or not action.strip():
        raise ValueError("require_approval: action must be a non-empty string")

    def decorate(fn: F) -> F:
        def params_for(args: tuple, kwargs: Dict[str, Any]) -> Dict[str, Any]:
            if params is None:
                return _bound_arguments(fn, args, kwargs)
            p = params(*args, **kwargs) if callable(params) else params
            if not isinstance(p, Mapping):
                raise TypeError("require_approval(%r): params must give a dict, not %s" % (action, type(p).__name__))
            try:
                json.dumps(p)
            except (TypeError, ValueError) as err:
                raise TypeError(
                    "require_approval(%r): params are not JSON-encodable (%s); the function was not run"
                    % (action, err)
                ) from None
            return dict(p)

        def ask(args: tuple, kwargs: Dict[str, Any]) -> Any:
            c = client or _client_from_env()
            req = c.request_and_wait(
                action, params_for(args, kwargs), context=context, urgency=urgency, expires_at=expires_at,
                timeout=timeout,
            )
            if req.status != "approved":
                raise ApprovalDenied(req)
            return req

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                await asyncio.get_running_loop().run_in_executor(None, ask, args, kwargs)
                return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ask(args, kwargs)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
