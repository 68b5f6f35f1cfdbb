"""Registration (WebAuthn §7.1): the options start returns and what a successful finish stores."""

from __future__ import annotations

import datetime
import uuid

import pytest
from fido2 import cbor
from fido2.cose import ES256, RS256, EdDSA

from passkeys.models import Credential, PasskeyUser
from tests.support.authenticator import SoftAuthenticator, b64url_decode, b64url_encode

ORIGIN = "https://example.com"
APPLE_PASSWORDS = uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")  # "Apple Passwords" in the AAGUID list
CREDENTIAL_FIELDS = {
    "id", "user_id", "user_handle", "name", "aaguid", "provider_name", "provider_icon_light",
    "provider_icon_dark", "transports", "backup_eligible", "backed_up", "user_verified", "sign_count",
    "discoverable", "prf_enabled", "created_via", "authenticator_attachment",
    "attestation", "authenticator_name", "authenticator_status", "created_at", "last_used_at",
}  # fmt: skip
COSE_CLASSES = {-7: ES256, -8: EdDSA, -257: RS256}


@pytest.fixture
def other_api(make_tenant, make_api):
    """A second tenant with its own key."""
    return make_api(make_tenant(name="Other", rp_id="other.example", origins=["https://other.example"]))


def registered(response) -> dict:
    assert response.status_code == 201, response.content
    return response.json()["credential"]


def stored(credential_json: dict) -> Credential:
    return Credential.objects.get(credential_id=b64url_decode(credential_json["id"]))


# --- start: the creation options ---------------------------------------------------------------


def test_start_names_the_relying_party(api):
    options = api.registration_options("alice")

    assert options["rp"] == {"id": "example.com", "name": "Example"}
    assert options["user"]["name"] == "alice@example.com"
    assert options["user"]["displayName"] == "alice@example.com"


def test_start_user_handle_is_random_32_bytes_not_the_rp_user_id(api, tenant):
    options = api.registration_options("alice")

    handle = b64url_decode(options["user"]["id"])
    assert len(handle) == 32
    assert options["user"]["id"] == b64url_encode(handle)  # base64url without padding
    assert b"alice" not in handle
    assert bytes(PasskeyUser.objects.get(tenant=tenant, user_id="alice").handle) == handle


def test_start_reuses_the_user_handle_for_the_same_user(api):
    first = api.registration_options("alice")
    second = api.registration_options("alice")

    assert first["user"]["id"] == second["user"]["id"]
    assert first["challenge"] != second["challenge"]


def test_start_gives_each_user_their_own_handle(api):
    assert api.registration_options("alice")["user"]["id"] != api.registration_options("bob")["user"]["id"]


def test_start_gives_the_same_user_id_a_different_handle_in_each_tenant(api, other_api):
    assert api.registration_options("alice")["user"]["id"] != other_api.registration_options("alice")["user"]["id"]
    assert PasskeyUser.objects.filter(user_id="alice").count() == 2


def test_start_challenge_is_random_base64url(api):
    challenges = {api.registration_options("alice")["challenge"] for _ in range(3)}

    assert len(challenges) == 3
    assert all(len(b64url_decode(c)) >= 16 for c in challenges)


def test_start_offers_eddsa_es256_rs256_in_order(api):
    options = api.registration_options("alice")

    assert options["pubKeyCredParams"] == [
        {"type": "public-key", "alg": -8},
        {"type": "public-key", "alg": -7},
        {"type": "public-key", "alg": -257},
    ]


def test_start_defaults_to_discoverable_credentials_with_preferred_verification(api):
    selection = api.registration_options("alice")["authenticatorSelection"]

    assert selection["residentKey"] == "required"
    assert selection["requireResidentKey"] is True
    assert selection["userVerification"] == "preferred"
    assert "authenticatorAttachment" not in selection


def test_start_defaults_to_no_attestation_and_five_minute_timeout(api):
    options = api.registration_options("alice")

    assert options["attestation"] == "none"
    assert options["timeout"] == 300000


def test_start_follows_the_tenant_attestation_preference(make_tenant, make_api):
    api = make_api(make_tenant(attestation="direct"))

    assert api.registration_options("alice")["attestation"] == "direct"


@pytest.mark.parametrize(
    ("body", "member", "expected"),
    [
        ({"resident_key": "preferred"}, "residentKey", "preferred"),
        ({"resident_key": "discouraged"}, "residentKey", "discouraged"),
        ({"user_verification": "required"}, "userVerification", "required"),
        ({"user_verification": "discouraged"}, "userVerification", "discouraged"),
        ({"authenticator_attachment": "platform"}, "authenticatorAttachment", "platform"),
        ({"authenticator_attachment": "cross-platform"}, "authenticatorAttachment", "cross-platform"),
    ],
)
def test_start_applies_per_call_overrides(api, body, member, expected):
    selection = api.registration_options("alice", **body)["authenticatorSelection"]

    assert selection[member] == expected


def test_start_resident_key_override_clears_require_resident_key(api):
    selection = api.registration_options("alice", resident_key="discouraged")["authenticatorSelection"]

    assert selection.get("requireResidentKey", False) is False


def test_start_excludes_nothing_for_a_new_user(api):
    assert not api.registration_options("alice").get("excludeCredentials")


def test_start_excludes_the_users_existing_credentials_with_transports(api):
    credential = registered(api.register(SoftAuthenticator(transports=("usb", "nfc"))))

    options = api.registration_options("alice")

    assert options["excludeCredentials"] == [
        {"type": "public-key", "id": credential["id"], "transports": ["usb", "nfc"]}
    ]
    assert not api.registration_options("bob").get("excludeCredentials")


# --- finish: the stored credential -------------------------------------------------------------


def test_finish_returns_every_credential_field(api, authenticator):
    before = datetime.datetime.now(datetime.UTC)
    response = api.register(authenticator)

    credential = registered(response)
    assert set(credential) == CREDENTIAL_FIELDS
    assert b64url_decode(credential["id"]) in authenticator.credentials
    assert credential["user_id"] == "alice"
    assert credential["aaguid"] == "00000000-0000-0000-0000-000000000000"
    assert credential["transports"] == ["internal", "hybrid"]
    assert credential["backup_eligible"] is True
    assert credential["backed_up"] is True
    assert credential["user_verified"] is True
    assert credential["sign_count"] == 0
    created_at = datetime.datetime.fromisoformat(credential["created_at"])
    assert before - datetime.timedelta(seconds=5) <= created_at <= datetime.datetime.now(datetime.UTC)
    assert credential["last_used_at"] is None


def test_finish_names_the_user_handle_of_the_options(api, authenticator):
    options = api.registration_options("alice")
    credential = registered(
        api.post("/v1/registrations/finish", {"credential": authenticator.create(options, origin=ORIGIN)})
    )
    assert credential["user_handle"] == options["user"]["id"]


def test_finish_id_is_the_raw_id_of_the_response(api, authenticator):
    options = api.registration_options("alice")
    response_json = authenticator.create(options, origin=ORIGIN)

    credential = registered(api.post("/v1/registrations/finish", {"credential": response_json}))

    assert credential["id"] == response_json["rawId"]


def test_finish_names_the_credential_after_its_provider(api):
    credential = registered(api.register(SoftAuthenticator(aaguid=APPLE_PASSWORDS.bytes)))

    assert credential["aaguid"] == str(APPLE_PASSWORDS)
    assert credential["provider_name"] == "Apple Passwords"
    assert credential["name"] == "Apple Passwords"


def test_finish_unknown_aaguid_has_no_provider_and_is_named_passkey(api):
    credential = registered(api.register(SoftAuthenticator(aaguid=uuid.uuid4().bytes)))

    assert credential["provider_name"] == ""
    assert credential["name"] == "Passkey"


def test_finish_name_in_the_body_overrides_the_default(api):
    authenticator = SoftAuthenticator(aaguid=APPLE_PASSWORDS.bytes)

    credential = registered(api.register(authenticator, finish={"name": "Work laptop"}))

    assert credential["name"] == "Work laptop"
    assert credential["provider_name"] == "Apple Passwords"
    assert stored(credential).name == "Work laptop"


@pytest.mark.parametrize("alg", [-8, -7, -257])
def test_finish_stores_the_cose_public_key_of_each_offered_algorithm(api, alg):
    authenticator = SoftAuthenticator(alg=alg)

    row = stored(registered(api.register(authenticator)))

    soft = authenticator.credentials[bytes(row.credential_id)]
    expected = dict(COSE_CLASSES[alg].from_cryptography_key(soft.private_key.public_key()))
    assert cbor.decode(bytes(row.public_key)) == expected
    assert row.algorithm == alg


def test_finish_stores_flags_format_and_sign_count(api):
    authenticator = SoftAuthenticator(backup_eligible=True, backed_up=False, user_verifying=False)

    credential = registered(api.register(authenticator, sign_count=7))

    row = stored(credential)
    assert (row.backup_eligible, row.backed_up, row.user_verified) == (True, False, False)
    assert (credential["backup_eligible"], credential["backed_up"], credential["user_verified"]) == (True, False, False)
    assert row.attestation_format == "none"
    assert row.sign_count == credential["sign_count"] == 7
    assert row.user.user_id == "alice"


def test_finish_stores_a_device_bound_credential(api):
    credential = registered(api.register(SoftAuthenticator(backup_eligible=False, backed_up=False)))

    assert (credential["backup_eligible"], credential["backed_up"]) == (False, False)


@pytest.mark.parametrize("preference", ["none", "direct"])
@pytest.mark.parametrize("attestation", ["packed", "packed-self"])
def test_finish_verifies_and_accepts_packed_attestation(make_tenant, make_api, preference, attestation):
    api = make_api(make_tenant(attestation=preference))

    row = stored(registered(api.register(SoftAuthenticator(attestation=attestation))))

    assert row.attestation_format == "packed"


def test_finish_accepts_an_android_origin_the_tenant_lists(make_tenant, make_api, authenticator):
    android = "android:apk-key-hash:" + b64url_encode(bytes(range(32)))
    api = make_api(make_tenant(origins=[ORIGIN, android]))

    credential = registered(api.register(authenticator, origin=android))

    assert stored(credential).user.user_id == "alice"


def test_finish_registers_a_second_passkey_for_the_same_user(api):
    first = registered(api.register(SoftAuthenticator()))
    second = registered(api.register(SoftAuthenticator()))

    assert first["id"] != second["id"]
    assert Credential.objects.filter(user__user_id="alice").count() == 2
