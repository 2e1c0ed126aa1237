"""Verification of AgentGate webhook signatures and timestamps."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Optional, Sequence, Union

__all__ = [
    "verify_webhook",
    "verify_webhook_timestamp",
    "sign_webhook",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DEFAULT_WEBHOOK_TOLERANCE",
]

SIGNATURE_HEADER = "X-AgentGate-Signature"
TIMESTAMP_HEADER = "X-AgentGate-Timestamp"
DEFAULT_WEBHOOK_TOLERANCE = 300.0  # seconds

_HEX_SHA256 = re.compile(r"\A[0-9a-fA-F]{64}\Z")
_UNIX_SECONDS = re.compile(r"\A\s*-?\d+\s*\Z")

BytesLike = Union[str, bytes, bytearray, memoryview]
Header = Union[str, Sequence[str], None]


def _bytes(v: BytesLike) -> bytes:
    return v.encode("utf-8") if isinstance(v, str) else bytes(v)


def _header(v: Header, join: bool) -> Optional[str]:
    if isinstance(v, (list, tuple)):
        if not v:
            return None
        return ",".join(v) if join else v[0]
    return v if isinstance(v, str) else None


def verify_webhook(secret: BytesLike, signature_header: Header, raw_body: BytesLike) -> bool:
    """Check the ``X-AgentGate-Signature`` header of a webhook delivery.

    The header is the hex HMAC-SHA256 of the raw request body under the
    webhook's secret, as ``sha256=<hex>`` or bare ``<hex>`` (the upstream's
    form). During a secret rotation it may list several signatures
    separated by commas; one match is enough. Pass the body exactly as
    received (``request.get_data()`` in Flask, ``await request.body()`` in
    Starlette): parsing and re-encoding the JSON changes the bytes.

    Returns False, never raises, for a missing or malformed header or an
    empty secret. Comparisons are constant-time (``hmac.compare_digest``).
    """
    key = _bytes(secret)
    if not key:
        return False  # an empty secret would let anyone sign
    header = _header(signature_header, join=True)
    if header is None:
        return False
    expected = hmac.new(key, _bytes(raw_body), hashlib.sha256).hexdigest()
    ok = False
    for part in header.split(","):
        given = part.strip()
        if len(given) > 7 and given[:7].lower() == "sha256=":
            given = given[7:]
        if not _HEX_SHA256.match(given):
            continue
        # No early exit: every listed signature is compared.
        ok = hmac.compare_digest(given.lower(), expected) or ok
    return ok


def verify_webhook_timestamp(
    timestamp_header: Header, tolerance: float = DEFAULT_WEBHOOK_TOLERANCE, now: Optional[float] = None
) -> bool:
    """Check that the ``X-AgentGate-Timestamp`` header (Unix seconds) is
    within ``tolerance`` seconds of ``now`` (default: the current time), in
    either direction, to limit replays of old deliveries. Use it together
    with :func:`verify_webhook`. False for a missing or malformed value;
    a tolerance of 0 means the default, 5 minutes."""
    v = _header(timestamp_header, join=False)
    if v is None or not _UNIX_SECONDS.match(v):
        return False
    tol = tolerance if tolerance > 0 else DEFAULT_WEBHOOK_TOLERANCE
    current = time.time() if now is None else now
    return abs(current - int(v.strip())) <= tol


def sign_webhook(secret: BytesLike, raw_body: BytesLike) -> str:
    """The ``sha256=<hex>`` signature of raw_body under secret."""
    return "sha256=" + hmac.new(_bytes(secret), _bytes(raw_body), hashlib.sha256).hexdigest()
