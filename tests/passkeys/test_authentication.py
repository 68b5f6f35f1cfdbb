"""Authentication (WebAuthn §7.2) through the API: options, successful logins and what they store."""

from __future__ import annotations

import jwt
import pytest

from passkeys.models import Credential
from passkeys.tokens import jwks
from tests.support.authenticator import SoftAuthenticator, b64url_decode, b64url_encode

ORIGIN = "https://example.com"
RESULT_FIELDS = {"user_id", "credential_id", "user_verified", "backed_up", "token", "authenticator_attachment"}


def _register(api, authenticator: SoftAuthenticator, user_id: str) -> Credential:
    response = api.register(authenticator, user_id)
    assert response.status_code == 201, response.content
    return Credential.objects.get(credential_id=b64url_decode(response.json()["credential"]["id"]))


def _login_ok(api, authenticator: SoftAuthenticator, user_id: str | None = None, **kwargs) -> dict:
    response = api.login(authenticator, user_id, **kwargs)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def alice(api, authenticator) -> Credential:
    return _register(api, authenticator, "alice")


@pytest.fixture
def bob_authenticator() -> SoftAuthenticator:
    return SoftAuthenticator(alg=-8, transports=("usb", "nfc"), attachment="cross-platform")


@pytest.fixture
def bob(api, bob_authenticator) -> Credential:
    return _register(api, bob_authenticator, "bob")


# --- options -------------------------------------------------------------------------------


def test_start_for_user_allows_exactly_that_users_credentials_with_transports(api, alice, bob):
    second = SoftAuthenticator(transports=("usb",), attachment="cross-platform")
    alice_second = _register(api, second, "alice")

    options = api.authentication_options("alice")

    allowed = {entry["id"]: entry for entry in options["allowCredentials"]}
    expected = {b64url_encode(bytes(c.credential_id)): c for c in (alice, alice_second)}
    assert allowed.keys() == expected.keys()
    for credential_id, entry in allowed.items():
        assert entry["type"] == "public-key"
        assert entry["transports"] == expected[credential_id].transports
    assert b64url_encode(bytes(bob.credential_id)) not in allowed
    assert sorted(allowed[b64url_encode(bytes(alice_second.credential_id))]["transports"]) == ["usb"]


def test_discoverable_start_has_no_allow_list(api, alice):
    options = api.authentication_options()

    assert not options.get("allowCredentials")


def test_conditional_mediation_is_never_user_bound_and_is_echoed(api, alice):
    response = api.post("/v1/authentications/start", {"user_id": "alice", "mediation": "conditional"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["mediation"] == "conditional"
    assert not body["public_key"].get("allowCredentials")


def test_conditional_login_lets_any_registered_user_answer(api, alice, bob, bob_authenticator):
    result = _login_ok(api, bob_authenticator, "alice", start={"mediation": "conditional"})

    assert result["user_id"] == "bob"


def test_start_uses_tenant_user_verification_by_default(api):
    assert api.authentication_options()["userVerification"] == "preferred"


@pytest.mark.parametrize("requirement", ["required", "discouraged"])
def test_start_user_verification_override_lands_in_options(api, requirement):
    options = api.authentication_options(user_verification=requirement)

    assert options["userVerification"] == requirement


def test_options_carry_tenant_timeout_and_rp_id(api):
    options = api.authentication_options()

    assert options["timeout"] == 300_000
    assert options["rpId"] == "example.com"
    assert len(b64url_decode(options["challenge"])) >= 16


# --- successful logins ---------------------------------------------------------------------


def test_user_bound_login_returns_user_credential_and_token(api, tenant, authenticator, alice):
    result = _login_ok(api, authenticator, "alice")

    assert set(result) == RESULT_FIELDS
    assert result["user_id"] == "alice"
    assert result["credential_id"] == b64url_encode(bytes(alice.credential_id))
    assert result["user_verified"] is True
    assert result["backed_up"] is True
    key = jwt.PyJWKSet.from_dict(jwks(tenant=tenant)).keys[0]
    claims = jwt.decode(result["token"], key.key, algorithms=["ES256"], audience="example.com")
    assert claims["sub"] == "alice"
    assert claims["cred"] == result["credential_id"]
    assert claims["amr"] == ["passkey"]


def test_discoverable_login_finds_user_by_user_handle(api, alice, bob, bob_authenticator):
    result = _login_ok(api, bob_authenticator)

    assert result["user_id"] == "bob"
    assert result["credential_id"] == b64url_encode(bytes(bob.credential_id))


def test_login_reports_user_verified_false_when_not_required(api, authenticator, alice):
    result = _login_ok(api, authenticator, "alice", uv=False)

    assert result["user_verified"] is False
    alice.refresh_from_db()
    assert alice.user_verified is False


def test_login_stores_sign_count_last_used_and_backup_state(api, authenticator, alice):
    assert alice.backed_up is True and alice.last_used_at is None

    result = _login_ok(api, authenticator, "alice", sign_count=7, bs=False)

    alice.refresh_from_db()
    assert alice.sign_count == 7
    assert alice.last_used_at is not None
    assert alice.backed_up is False
    assert result["backed_up"] is False


def test_each_login_advances_stored_sign_count(api, authenticator, alice):
    _login_ok(api, authenticator, "alice", sign_count=3)
    _login_ok(api, authenticator, "alice", sign_count=4)

    alice.refresh_from_db()
    assert alice.sign_count == 4


def test_authenticator_without_counter_logs_in_repeatedly(api):
    counterless = SoftAuthenticator(counter=False)
    credential = _register(api, counterless, "carol")
    assert credential.sign_count == 0

    for _ in range(3):
        assert _login_ok(api, counterless, "carol")["user_id"] == "carol"

    credential.refresh_from_db()
    assert credential.sign_count == 0
    assert credential.last_used_at is not None


@pytest.mark.parametrize(
    ("registered_be", "asserted"),
    [(True, {"be": False, "bs": False}), (False, {"be": True, "bs": False}), (False, {"be": True, "bs": True})],
    ids=["eligible-then-not", "device-bound-then-eligible", "device-bound-then-backed-up"],
)
def test_finish_refuses_changed_backup_eligibility_and_changes_nothing(api, registered_be, asserted):
    """§7.2: BE is permanent; an assertion that disagrees is refused and the stored record stays as it was."""
    authenticator = SoftAuthenticator(backup_eligible=registered_be, backed_up=False)
    credential = _register(api, authenticator, "alice")
    before = Credential.objects.values().get(pk=credential.pk)

    response = api.login(authenticator, "alice", **asserted)

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_backup_flags"
    assert Credential.objects.values().get(pk=credential.pk) == before
