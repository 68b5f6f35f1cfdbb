"""Authentication finish refuses every assertion §7.2 rejects, with its code, and changes nothing stored."""

from __future__ import annotations

import os
import time

import pytest

from passkeys import challenges
from passkeys.models import Credential, PasskeyUser
from passkeys.signals import ceremony_failed
from tests.support.authenticator import OMIT, SoftAuthenticator, b64url_decode, b64url_encode

ORIGIN = "https://example.com"
FINISH = "/v1/authentications/finish"
BASELINE_SIGN_COUNT = 5


def _stored(credential_id: bytes) -> tuple:
    credential = Credential.objects.get(credential_id=credential_id)
    return credential.sign_count, credential.backed_up, credential.last_used_at


def _enroll(api, authenticator: SoftAuthenticator, user_id: str) -> bytes:
    """Register, then log in once so sign_count and last_used_at have non-default values."""
    registered = api.register(authenticator, user_id)
    assert registered.status_code == 201, registered.content
    login = api.login(authenticator, user_id, sign_count=BASELINE_SIGN_COUNT)
    assert login.status_code == 200, login.content
    return b64url_decode(registered.json()["credential"]["id"])


def _assertion(api, authenticator: SoftAuthenticator, user_id: str | None = None, *, start=None, **knobs) -> dict:
    # A wrongly accepted assertion would visibly change the stored backed_up and sign_count.
    knobs.setdefault("bs", False)
    knobs.setdefault("origin", ORIGIN)
    options = api.authentication_options(user_id, **(start or {}))
    return authenticator.get(options, **knobs)


def _assert_refused(response, code: str, credential_id: bytes, before: tuple) -> None:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert _stored(credential_id) == before


@pytest.fixture
def alice(api, authenticator) -> bytes:
    return _enroll(api, authenticator, "alice")


@pytest.fixture
def before(alice) -> tuple:
    return _stored(alice)


@pytest.fixture
def bob_authenticator() -> SoftAuthenticator:
    return SoftAuthenticator()


@pytest.fixture
def bob(api, bob_authenticator) -> bytes:
    return _enroll(api, bob_authenticator, "bob")


@pytest.fixture
def failures():
    received: list[dict] = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    ceremony_failed.connect(receiver)
    yield received
    ceremony_failed.disconnect(receiver)


def _finish(api, assertion: dict):
    return api.post(FINISH, {"credential": assertion})


# --- signature and counter -----------------------------------------------------------------


def test_finish_rejects_bad_signature(api, authenticator, alice, before):
    assertion = _assertion(api, authenticator, "alice", bad_signature=True)

    _assert_refused(_finish(api, assertion), "signature_invalid", alice, before)


@pytest.mark.parametrize("sign_count", [0, 3, BASELINE_SIGN_COUNT], ids=["zero", "lower", "equal"])
def test_finish_rejects_sign_count_regression(api, authenticator, alice, before, sign_count):
    assert before[0] == BASELINE_SIGN_COUNT
    assertion = _assertion(api, authenticator, "alice", sign_count=sign_count)

    _assert_refused(_finish(api, assertion), "sign_count_regression", alice, before)


def test_finish_records_sign_count_regression_as_possible_clone(api, authenticator, alice, before, failures, caplog):
    assertion = _assertion(api, authenticator, "alice", sign_count=3)

    _assert_refused(_finish(api, assertion), "sign_count_regression", alice, before)
    [failure] = failures
    assert failure["code"] == "sign_count_regression"
    assert failure["ceremony"] == "authentication"
    assert failure["user_id"] == "alice"
    assert bytes(failure["credential"].credential_id) == alice
    assert any("cloned" in record.getMessage() for record in caplog.records)


def test_finish_rejects_unknown_credential(api, alice, before):
    stranger = SoftAuthenticator()
    # The stranger holds a credential for example.com that was never registered here.
    stranger.create(
        {"rp": {"id": "example.com"}, "user": {"id": b64url_encode(os.urandom(32))}, "challenge": "AAAA"},
        origin=ORIGIN,
    )
    assertion = _assertion(api, stranger)

    _assert_refused(_finish(api, assertion), "credential_not_found", alice, before)
    assert Credential.objects.count() == 1


# --- user handle ---------------------------------------------------------------------------


def test_finish_rejects_user_handle_of_another_user(api, authenticator, alice, before, bob):
    bob_handle = bytes(PasskeyUser.objects.get(user_id="bob").handle)
    assertion = _assertion(api, authenticator, user_handle=bob_handle)

    _assert_refused(_finish(api, assertion), "user_handle_mismatch", alice, before)


@pytest.mark.parametrize("user_handle", [OMIT, None], ids=["omitted", "null"])
def test_discoverable_finish_requires_user_handle(api, authenticator, alice, before, user_handle):
    assertion = _assertion(api, authenticator, user_handle=user_handle)

    _assert_refused(_finish(api, assertion), "user_handle_mismatch", alice, before)


def test_user_bound_finish_rejects_another_users_credential(api, authenticator, alice, before, bob):
    assertion = _assertion(api, authenticator, "bob", credential_id=alice)

    _assert_refused(_finish(api, assertion), "user_handle_mismatch", alice, before)


# --- client data and authenticator data ----------------------------------------------------


@pytest.mark.parametrize(
    ("knobs", "code"),
    [
        ({"origin": "https://evil.example.com"}, "origin_not_allowed"),
        ({"origin": "http://example.com"}, "origin_not_allowed"),
        ({"client_data_type": "webauthn.create"}, "type_mismatch"),
        ({"rp_id": "evil.com"}, "rp_id_mismatch"),
        ({"up": False}, "user_presence_required"),
        ({"be": False, "bs": True}, "invalid_backup_flags"),
        ({"cross_origin": True}, "cross_origin_not_allowed"),
        ({"top_origin": "https://evil.com"}, "cross_origin_not_allowed"),
    ],
    ids=lambda value: value if isinstance(value, str) else "-".join(map(str, value)),
)
def test_finish_rejects_tampered_assertion(api, authenticator, alice, before, knobs, code):
    assertion = _assertion(api, authenticator, "alice", **knobs)

    _assert_refused(_finish(api, assertion), code, alice, before)


def test_finish_requires_user_verification_when_tenant_requires_it(make_tenant, make_api):
    strict = make_api(make_tenant(name="Strict", user_verification="required"))
    authenticator = SoftAuthenticator()
    credential_id = _enroll(strict, authenticator, "alice")
    before = _stored(credential_id)

    assertion = _assertion(strict, authenticator, "alice", uv=False)

    _assert_refused(_finish(strict, assertion), "user_verification_required", credential_id, before)


def test_finish_requires_user_verification_when_start_requires_it(api, authenticator, alice, before):
    assertion = _assertion(api, authenticator, "alice", start={"user_verification": "required"}, uv=False)

    _assert_refused(_finish(api, assertion), "user_verification_required", alice, before)


# --- challenges ----------------------------------------------------------------------------


def test_finish_rejects_replayed_assertion(api, authenticator, alice):
    assertion = _assertion(api, authenticator, "alice")
    assert _finish(api, assertion).status_code == 200
    after_first = _stored(alice)

    _assert_refused(_finish(api, assertion), "challenge_not_found", alice, after_first)


def test_finish_rejects_expired_challenge(api, authenticator, alice, before, monkeypatch):
    assertion = _assertion(api, authenticator, "alice")
    later = time.time() + api.tenant.challenge_timeout + 1
    monkeypatch.setattr(challenges.time, "time", lambda: later)

    _assert_refused(_finish(api, assertion), "challenge_expired", alice, before)


def test_finish_rejects_other_tenants_challenge(api, make_tenant, make_api, authenticator, alice, before):
    other = make_api(make_tenant(name="Other"))
    assertion = _assertion(other, authenticator)

    _assert_refused(_finish(api, assertion), "challenge_not_found", alice, before)


def test_finish_rejects_registration_challenge(api, authenticator, alice, before):
    registration_challenge = api.registration_options("carol")["challenge"]
    assertion = _assertion(api, authenticator, "alice", challenge=registration_challenge)

    _assert_refused(_finish(api, assertion), "challenge_not_found", alice, before)


def test_an_unsigned_assertion_flipping_be_is_a_bad_signature_not_a_backup_alarm(api, authenticator):
    """BE is compared only once the signature proved the assertion is the credential's: nobody without the key can
    make the service report invalid_backup_flags (a clone-like alarm) for somebody's passkey."""
    assert api.register(authenticator, "alice").status_code == 201
    options = api.authentication_options("alice")
    assertion = authenticator.get(options, origin="https://example.com", be=False, bs=False)
    assertion["response"]["signature"] = "AAAA"

    assert api.post("/v1/authentications/finish", {"credential": assertion}).json()["code"] == "signature_invalid"
