"""``@require_approval``: run a function only after a person (or a policy)
approved it, with the arguments as approved."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Set, Tuple, TypeVar, Union

from .errors import ApprovalDenied, ApprovalEdited

if TYPE_CHECKING:
    from .client import AgentGate, ApprovalRequest, TimeLike

__all__ = ["require_approval"]

F = TypeVar("F", bound=Callable[..., Any])

# The keyword argument through which a decorated function receives the
# approved params.
APPROVED_PARAMS = "approved_params"


def _client_from_env() -> "AgentGate":
    # Built per call, not at import: importing a module that uses the
    # decorator must not need AGENTGATE_URL and AGENTGATE_API_KEY. A client
    # holds no connections, so this costs nothing worth caching.
    from .client import AgentGate

    return AgentGate()


def _json_encodable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def _takes_approved_params(sig: inspect.Signature) -> bool:
    p = sig.parameters.get(APPROVED_PARAMS)
    return p is not None and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class _Call:
    """One call of a decorated function: its arguments bound to the
    signature (defaults applied) and, for the default mapping, the params
    derived from them."""

    def __init__(self, fn: Callable[..., Any], sig: inspect.Signature, takes_approved: bool, args: tuple,
                 kwargs: Dict[str, Any]) -> None:
        self.sig = sig
        self.args = args
        self.kwargs = kwargs
        if takes_approved:
            bound = sig.bind_partial(*args, **kwargs)
            if APPROVED_PARAMS in bound.arguments:
                raise TypeError(
                    "%s(): %s is filled in by @require_approval; do not pass it" % (fn.__name__, APPROVED_PARAMS)
                )
            # Everything else must bind, as for a normal call: a call that
            # cannot work is refused before anyone is asked.
            sig.bind(*args, **{**kwargs, APPROVED_PARAMS: None})
        else:
            bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        self.bound = bound
        self.repr_keys: Set[str] = set()

    def default_params(self) -> Dict[str, Any]:
        """The call's arguments by parameter name; a leading ``self``/``cls``
        and ``approved_params`` are left out; ``*args`` becomes a list; a
        value JSON cannot encode is sent as its repr()."""
        names = list(self.sig.parameters)
        out: Dict[str, Any] = {}
        for name, value in self.bound.arguments.items():
            if name == APPROVED_PARAMS or (names and name == names[0] and name in ("self", "cls")):
                continue
            if self.sig.parameters[name].kind is inspect.Parameter.VAR_POSITIONAL:
                value = list(value)
            if not _json_encodable(value):
                value = repr(value)
                self.repr_keys.add(name)
            out[name] = value
        return out

    def substitute(self, asked: Mapping[str, Any], approved: Mapping[str, Any]) -> Optional[str]:
        """Puts the approver's edited values in place of the arguments they
        came from. Returns why it cannot (and changes nothing) or None."""
        from .client import json_equal

        added = sorted(set(approved) - set(asked))
        removed = sorted(set(asked) - set(approved))
        if added or removed:
            parts = []
            if added:
                parts.append("added %s" % ", ".join(added))
            if removed:
                parts.append("removed %s" % ", ".join(removed))
            return "the approver %s, which the arguments cannot express" % " and ".join(parts)
        changes: Dict[str, Any] = {}
        for name, new in approved.items():
            if json_equal(new, asked[name]):
                continue  # unchanged: keep the original object
            if name in self.repr_keys:
                return "the approver changed %s, which was sent as its repr() and cannot be rebuilt" % name
            kind = self.sig.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                if not isinstance(new, list):
                    return "the approver made *%s a %s, not a list" % (name, type(new).__name__)
                new = tuple(new)
            elif kind is inspect.Parameter.VAR_KEYWORD:
                clash = sorted(k for k in new if k in self.sig.parameters) if isinstance(new, dict) else []
                if not isinstance(new, dict) or clash:
                    return "the approver's **%s cannot be passed as keyword arguments" % name
            changes[name] = new
        self.bound.arguments.update(changes)
        return None


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

    Edited params: an approver may approve with changed params. The
    function then runs with the params **as approved**:

    - With the default mapping (``params=None``), the edited values replace
      the arguments they came from (a JSON value in place of the original:
      a list for a tuple, for example); unchanged arguments keep their
      original objects.
    - If the edit cannot be mapped back (a custom ``params=``; a key added
      or removed; an argument sent as its ``repr()`` changed), the function
      does **not** run: :class:`ApprovalEdited` is raised, carrying the
      request. Fail closed.
    - A function with an ``approved_params`` keyword argument always
      receives the params to act on there (the approved ones, edited or
      not), and then runs even when the edit cannot be mapped back: it
      takes responsibility for acting on them. Callers must not pass
      ``approved_params`` themselves; it is not part of the default params.

    An approver who sends the same params back is not an edit.

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
        sig = inspect.signature(fn)
        takes_approved = _takes_approved_params(sig)

        def params_for(call: _Call) -> Dict[str, Any]:
            if params is None:
                return call.default_params()
            p = params(*call.args, **call.kwargs) if callable(params) else params
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

        def ask(call: _Call) -> "ApprovalRequest":
            c = client or _client_from_env()
            req = c.request_and_wait(
                action, params_for(call), context=context, urgency=urgency, expires_at=expires_at, timeout=timeout,
            )
            if req.status != "approved":
                raise ApprovalDenied(req)
            return req

        def arguments(call: _Call, req: "ApprovalRequest") -> Tuple[tuple, Dict[str, Any]]:
            """The arguments to run fn with, as approved."""
            if not req.params_edited and not takes_approved:
                return call.args, call.kwargs
            if req.params_edited:
                if params is None:
                    why = call.substitute(req.params, req.action_params)
                else:
                    why = "its params came from params=, which the decorator cannot map back to arguments"
                if why is not None and not takes_approved:
                    raise ApprovalEdited(req, why)
            if takes_approved:
                call.bound.arguments[APPROVED_PARAMS] = dict(req.action_params)
            return call.bound.args, call.bound.kwargs

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                call = _Call(fn, sig, takes_approved, args, kwargs)
                req = await asyncio.get_running_loop().run_in_executor(None, ask, call)
                a, kw = arguments(call, req)
                return await fn(*a, **kw)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            call = _Call(fn, sig, takes_approved, args, kwargs)
            a, kw = arguments(call, ask(call))
            return fn(*a, **kw)

        return wrapper  # type: ignore[return-value]

    return decorate
