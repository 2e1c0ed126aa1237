"""AgentGate: ask a human (or a policy) before an AI agent acts.

    from agentgate import AgentGate
    gate = AgentGate("http://localhost:3000", "agk_...")
    if gate.request_and_wait("send_email", {"to": "bob@example.com"}).approved: send()
"""

from .client import AgentGate, ApprovalRequest, Grant, Page, __version__
from .decorators import require_approval
from .errors import (
    AgentGateConnectionError,
    AgentGateError,
    ApprovalDenied,
    ApprovalEdited,
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
from .webhook import (
    DEFAULT_WEBHOOK_TOLERANCE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign_webhook,
    verify_webhook,
    verify_webhook_timestamp,
)

__all__ = [
    "AgentGate",
    "ApprovalRequest",
    "Grant",
    "Page",
    "require_approval",
    "verify_webhook",
    "verify_webhook_timestamp",
    "sign_webhook",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DEFAULT_WEBHOOK_TOLERANCE",
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
    "__version__",
]
