"""Ceremony failures, each with the stable code of the API contract."""

from __future__ import annotations

from core.errors import DomainError, ErrorCode


class PasskeyError(DomainError):
    """A ceremony or credential operation failed; `code` says which rule."""


def credential_exists() -> PasskeyError:
    return PasskeyError("This credential is already registered.", code=ErrorCode.CREDENTIAL_EXISTS)
