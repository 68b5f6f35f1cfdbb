"""ErrorCode is the contract's one list of error codes: each code's string, status, title and ceremony."""

from __future__ import annotations

import pytest

from api.errors import problem_exception_handler
from core.errors import DomainError, ErrorCode

# DESIGN.md "Errors", written out once: the strings are the contract and never change.
CONTRACT = {
    "invalid_api_key": (401, ""),
    "insufficient_scope": (403, ""),
    "validation_error": (400, "both"),
    "payload_too_large": (413, ""),
    "not_found": (404, ""),
    "method_not_allowed": (405, ""),
    "rate_limited": (429, ""),
    "invalid_client_token": (401, ""),  # v1.1
    "challenge_not_found": (400, "both"),
    "challenge_expired": (400, "both"),
    "type_mismatch": (400, "both"),
    "origin_not_allowed": (400, "both"),
    "cross_origin_not_allowed": (400, "both"),
    "rp_id_mismatch": (400, "both"),
    "user_presence_required": (400, "both"),
    "user_verification_required": (400, "both"),
    "invalid_backup_flags": (400, "both"),
    "authenticator_not_allowed": (400, "both"),  # v1.1
    "unsupported_algorithm": (400, "registration"),
    "attestation_invalid": (400, "registration"),
    "attestation_untrusted": (400, "registration"),
    "credential_exists": (409, "registration"),
    "signature_invalid": (400, "authentication"),
    "credential_not_found": (400, "authentication"),
    "user_handle_mismatch": (400, "authentication"),
    "sign_count_regression": (400, "authentication"),
    "service_unavailable": (503, ""),
    "internal_error": (500, ""),
}


def test_the_enum_holds_exactly_the_contracts_codes_with_their_status_and_ceremony():
    assert {code.value: (code.status, code.ceremony) for code in ErrorCode} == CONTRACT


def test_every_code_has_a_title_for_humans():
    assert all(code.title and code.title[0].isupper() for code in ErrorCode)


def test_a_ceremonys_codes_are_its_own_and_those_of_both():
    registration = {str(code) for code in ErrorCode.of_ceremony("registration")}
    authentication = {str(code) for code in ErrorCode.of_ceremony("authentication")}
    assert registration & authentication == {code for code, (_, kind) in CONTRACT.items() if kind == "both"}
    assert "credential_exists" in registration - authentication
    assert "sign_count_regression" in authentication - registration


def test_a_code_outside_the_contract_cannot_be_raised():
    with pytest.raises(ValueError):
        DomainError("x", code="no_such_code")


@pytest.mark.parametrize("code", list(ErrorCode))
def test_the_problem_handler_answers_each_code_with_its_status_and_title(code):
    response = problem_exception_handler(DomainError("What happened.", code=code), {})
    assert response.status_code == code.status
    assert response.data == {
        "type": f"urn:passkey-service:problem:{code.value}",
        "title": code.title,
        "status": code.status,
        "detail": "What happened.",
        "code": code.value,
    }
