"""The domain's exception family: each carries a stable `code` from the API contract."""

from __future__ import annotations


class DomainError(Exception):
    """A failure the caller can act on; the API turns it into problem+json."""

    code = "validation_error"
    status = 400

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class InvalidApiKey(DomainError):
    code = "invalid_api_key"
    status = 401


class NotFound(DomainError):
    code = "not_found"
    status = 404
