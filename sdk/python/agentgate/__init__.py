"""AgentGate: ask a human (or a policy) before an AI agent acts.

    from agentgate import AgentGate
    gate = AgentGate("http://localhost:3000", "agk_...")
    if gate.request_and_wait("send_email", {"to": "bob@example.com"}).approved: send()
"""

from .client import AgentGate, ApprovalRequest, Page, __version__
from .decorators import require_approval
from .errors import (
    AgentGateConnectionError,
    AgentGateError,
    ApprovalDenied,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    WaitTimeoutError,
)
from .webhook import sign_webhook, verify_webhook

__all__ = [
    "AgentGate",
    "ApprovalRequest",
    "Page",
    "require_approval",
    "verify_webhook",
    "sign_webhook",
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
    "__version__",
]
