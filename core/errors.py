"""The error family every app raises, and the one list of error codes the API contract names.

Each code carries its HTTP status and problem title, so the problem+json handler, the OpenAPI
schema and the tests all read them from here. The strings are the contract: never rename one.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """A stable, machine-readable `code` of an application/problem+json answer."""

    status: int
    title: str
    ceremony: str  # which ceremony's finish may fail with it: "registration", "authentication", "both" or ""

    def __new__(cls, value: str, status: int, title: str, ceremony: str = "") -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        member.title = title
        member.ceremony = ceremony
        return member

    @classmethod
    def of_ceremony(cls, ceremony: str) -> list[ErrorCode]:
        """The codes a `ceremony` ("registration" or "authentication") finish may answer with."""
        return [code for code in cls if code.ceremony in (ceremony, "both")]

    # Requests and keys.
    INVALID_API_KEY = "invalid_api_key", 401, "Invalid API key"
    INSUFFICIENT_SCOPE = "insufficient_scope", 403, "Insufficient scope"
    VALIDATION_ERROR = "validation_error", 400, "Invalid request", "both"
    PAYLOAD_TOO_LARGE = "payload_too_large", 413, "Payload too large"
    NOT_FOUND = "not_found", 404, "Not found"
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, "Method not allowed"
    RATE_LIMITED = "rate_limited", 429, "Too many requests"
    # A browser's report of a ceremony's outcome (v1.1): its client token is bad, expired or used up.
    INVALID_CLIENT_TOKEN = "invalid_client_token", 401, "Invalid client token"
    # Both ceremonies: the challenge, client data and authenticator data.
    CHALLENGE_NOT_FOUND = "challenge_not_found", 400, "Challenge not found", "both"
    CHALLENGE_EXPIRED = "challenge_expired", 400, "Challenge expired", "both"
    TYPE_MISMATCH = "type_mismatch", 400, "Type mismatch", "both"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed", 400, "Origin not allowed", "both"
    CROSS_ORIGIN_NOT_ALLOWED = "cross_origin_not_allowed", 400, "Cross origin not allowed", "both"
    RP_ID_MISMATCH = "rp_id_mismatch", 400, "Rp id mismatch", "both"
    USER_PRESENCE_REQUIRED = "user_presence_required", 400, "User presence required", "both"
    USER_VERIFICATION_REQUIRED = "user_verification_required", 400, "User verification required", "both"
    INVALID_BACKUP_FLAGS = "invalid_backup_flags", 400, "Invalid backup flags", "both"
    # The tenant's authenticator policy (v1.1): the credential kind, or the authenticator's reported status.
    AUTHENTICATOR_NOT_ALLOWED = "authenticator_not_allowed", 400, "Authenticator not allowed", "both"
    # Registration only.
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm", 400, "Unsupported algorithm", "registration"
    ATTESTATION_INVALID = "attestation_invalid", 400, "Attestation invalid", "registration"
    ATTESTATION_UNTRUSTED = "attestation_untrusted", 400, "Attestation untrusted", "registration"
    CREDENTIAL_EXISTS = "credential_exists", 409, "Credential exists", "registration"
    # Authentication only.
    SIGNATURE_INVALID = "signature_invalid", 400, "Signature invalid", "authentication"
    CREDENTIAL_NOT_FOUND = "credential_not_found", 400, "Credential not found", "authentication"
    USER_HANDLE_MISMATCH = "user_handle_mismatch", 400, "User handle mismatch", "authentication"
    SIGN_COUNT_REGRESSION = "sign_count_regression", 400, "Sign count regression", "authentication"
    # The service itself.
    SERVICE_UNAVAILABLE = "service_unavailable", 503, "Service unavailable"
    INTERNAL_ERROR = "internal_error", 500, "Internal error"


class DomainError(Exception):
    """A failure the caller can act on; the API turns it into problem+json with the code's status."""

    code: ErrorCode = ErrorCode.VALIDATION_ERROR

    def __init__(self, detail: str, *, code: ErrorCode | None = None, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = ErrorCode(code)
        self.status = status if status is not None else self.code.status


class InvalidApiKey(DomainError):
    code = ErrorCode.INVALID_API_KEY


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND
