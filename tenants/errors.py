"""Errors of the tenants domain, in the shared family of core.errors."""

from __future__ import annotations

from core.errors import DomainError, ErrorCode

__all__ = ["DomainError", "InvalidApiKey", "NotFound"]


class InvalidApiKey(DomainError):
    code = ErrorCode.INVALID_API_KEY


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND
