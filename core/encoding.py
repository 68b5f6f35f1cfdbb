"""base64url without padding (RFC 4648 §5), the one text form of binary values at the edges."""

from __future__ import annotations

import base64
import re

from .errors import DomainError, ErrorCode

_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(value: str) -> bytes:
    """Strict: only the URL-safe alphabet, no padding, never a length of 4n + 1 (a validation_error otherwise)."""
    if not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise DomainError(f"{value[:40]!r} is not base64url without padding", code=ErrorCode.VALIDATION_ERROR)
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
