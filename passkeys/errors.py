"""Ceremony failures, each with the stable code of the API contract."""

from __future__ import annotations

from tenants.errors import DomainError


class PasskeyError(DomainError):
    """A ceremony or credential operation failed; `code` says which rule."""


def credential_exists() -> PasskeyError:
    return PasskeyError("This credential is already registered.", code="credential_exists", status=409)
