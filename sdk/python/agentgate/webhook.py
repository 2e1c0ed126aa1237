"""Verification of AgentGate webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Optional, Sequence, Union

__all__ = ["verify_webhook", "sign_webhook"]

_HEX_SHA256 = re.compile(r"\A[0-9a-fA-F]{64}\Z")

BytesLike = Union[str, bytes, bytearray, memoryview]


def _bytes(v: BytesLike) -> bytes:
    return v.encode("utf-8") if isinstance(v, str) else bytes(v)


def verify_webhook(
    secret: BytesLike,
    signature_header: Union[str, Sequence[str], None],
    raw_body: BytesLike,
) -> bool:
    """Check the ``X-AgentGate-Signature`` header of a webhook delivery.

    The header is the hex HMAC-SHA256 of the raw request body under the
    webhook's secret, as ``sha256=<hex>`` or bare ``<hex>`` (the upstream's
    form). Pass the body exactly as received (``request.get_data()`` in
    Flask, ``await request.body()`` in Starlette): parsing and re-encoding
    the JSON changes the bytes and the check fails.

    Returns False, never raises, for a missing or malformed header or an
    empty secret. The comparison is constant-time (``hmac.compare_digest``).
    """
    key = _bytes(secret)
    if not key:
        return False  # an empty secret would let anyone sign
    header: Optional[str]
    if isinstance(signature_header, (list, tuple)):
        header = signature_header[0] if signature_header else None
    else:
        header = signature_header  # type: ignore[assignment]
    if not isinstance(header, str):
        return False
    given = header.strip()
    if given[:7].lower() == "sha256=":
        given = given[7:]
    if not _HEX_SHA256.match(given):
        return False
    expected = hmac.new(key, _bytes(raw_body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.lower(), expected)


def sign_webhook(secret: BytesLike, raw_body: BytesLike) -> str:
    """The ``sha256=<hex>`` signature of raw_body under secret."""
    return "sha256=" + hmac.new(_bytes(secret), _bytes(raw_body), hashlib.sha256).hexdigest()
