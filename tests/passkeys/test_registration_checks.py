"""Registration (WebAuthn §7.1): every check a finish must pass, each failing with its own code."""

from __future__ import annotations

import os
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from passkeys.models import Credential
from tests.support.authenticator import SoftAuthenticator, b64url_encode

ORIGIN = "https://example.com"
TOP_ORIGIN = "https://top.example"
FINISH = "/v1/registrations/finish"


def assert_rejected(response, code: str, *, status: int = 400, stored: int = 0) -> None:
    """The finish failed with `code` as problem+json and the credential table holds `stored` rows."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert Credential.objects.count() == stored


def assert_registered(response) -> None:
    assert response.status_code == 201, response.content


def pem_of(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode()


def cose_int(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


# --- client data: origin, type, cross-origin (§7.1 steps 7-10) -------------------------------


@pytest.mark.parametrize(
    "origin",
    ["https://evil.com", "https://login.example.com", "https://example.com:8443", "http://example.com"],
)
def test_finish_rejects_an_origin_the_tenant_does_not_list(api, authenticator, origin):
    assert_rejected(api.register(authenticator, origin=origin), "origin_not_allowed")


def test_finish_rejects_an_android_origin_the_tenant_does_not_list(api, authenticator):
    android = "android:apk-key-hash:" + b64url_encode(bytes(32))

    assert_rejected(api.register(authenticator, origin=android), "origin_not_allowed")


def test_finish_rejects_client_data_of_type_get(api, authenticator):
    assert_rejected(api.register(authenticator, client_data_type="webauthn.get"), "type_mismatch")


def test_finish_rejects_cross_origin_by_default(api, authenticator):
    assert_rejected(api.register(authenticator, cross_origin=True), "cross_origin_not_allowed")


def test_finish_rejects_a_top_origin_by_default(api, authenticator):
    assert_rejected(api.register(authenticator, top_origin=TOP_ORIGIN), "cross_origin_not_allowed")


@pytest.fixture
def cross_origin_api(make_tenant, make_api):
    return make_api(make_tenant(allow_cross_origin=True, top_origins=[TOP_ORIGIN]))


@pytest.mark.parametrize(
    "knobs",
    [{"cross_origin": True, "top_origin": TOP_ORIGIN}, {"top_origin": TOP_ORIGIN}],
)
def test_finish_accepts_cross_origin_when_the_tenant_allows_that_top_origin(cross_origin_api, authenticator, knobs):
    assert_registered(cross_origin_api.register(authenticator, **knobs))


def test_finish_accepts_any_top_origin_when_the_tenant_allows_cross_origin_without_a_list(
    make_tenant, make_api, authenticator
):
    api = make_api(make_tenant(allow_cross_origin=True))

    assert_registered(api.register(authenticator, cross_origin=True, top_origin="https://any.example"))


@pytest.mark.parametrize(
    "knobs",
    [{"cross_origin": True, "top_origin": "https://evil.com"}, {"cross_origin": True}],
)
def test_finish_rejects_a_top_origin_the_tenant_does_not_list(cross_origin_api, authenticator, knobs):
    assert_rejected(cross_origin_api.register(authenticator, **knobs), "cross_origin_not_allowed")


# --- authenticator data: rp id, flags (§7.1 steps 13-16) -------------------------------------


def test_finish_rejects_an_rp_id_hash_of_another_domain(api, authenticator):
    assert_rejected(api.register(authenticator, rp_id="evil.com"), "rp_id_mismatch")


def test_finish_requires_user_presence(api, authenticator):
    assert_rejected(api.register(authenticator, up=False), "user_presence_required")


def test_finish_requires_user_verification_when_the_tenant_requires_it(make_tenant, make_api, authenticator):
    api = make_api(make_tenant(user_verification="required"))

    assert_rejected(api.register(authenticator, uv=False), "user_verification_required")


def test_finish_requires_user_verification_when_start_asked_for_it(api, authenticator):
    response = api.register(authenticator, start={"user_verification": "required"}, uv=False)

    assert_rejected(response, "user_verification_required")


def test_finish_accepts_an_unverified_user_when_verification_is_preferred(api, authenticator):
    response = api.register(authenticator, uv=False)

    assert_registered(response)
    assert response.json()["credential"]["user_verified"] is False


def test_finish_rejects_backed_up_without_backup_eligible(api, authenticator):
    assert_rejected(api.register(authenticator, be=False, bs=True), "invalid_backup_flags")


# --- the credential: algorithm, key, id (§7.1 steps 17-18, 24) -------------------------------


def test_finish_rejects_an_algorithm_that_was_not_offered(api, authenticator):
    assert_rejected(api.register(authenticator, alg=-35), "unsupported_algorithm")


def test_finish_rejects_an_algorithm_the_tenant_no_longer_offers(make_tenant, make_api):
    api = make_api(make_tenant(algorithms=[-7]))
    options = api.registration_options("alice")
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7]
    options["pubKeyCredParams"].append({"type": "public-key", "alg": -8})  # a tampering client

    credential = SoftAuthenticator(alg=-8).create(options, origin=ORIGIN)

    assert_rejected(api.post(FINISH, {"credential": credential}), "unsupported_algorithm")


def test_finish_rejects_a_p384_key_labelled_es256(api, authenticator):
    numbers = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
    p384 = {1: 2, 3: -7, -1: 2, -2: cose_int(numbers.x, 48), -3: cose_int(numbers.y, 48)}

    assert_rejected(api.register(authenticator, cose_public_key=p384), "unsupported_algorithm")


def test_finish_rejects_an_rsa_key_shorter_than_2048_bits(api):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weak key is the point
    numbers = weak.public_key().public_numbers()
    rsa1024 = {1: 3, 3: -257, -1: cose_int(numbers.n, 128), -2: cose_int(numbers.e, 3)}

    assert_rejected(api.register(SoftAuthenticator(alg=-257), cose_public_key=rsa1024), "unsupported_algorithm")


def test_finish_rejects_a_credential_id_longer_than_1023_bytes(api, authenticator):
    assert_rejected(api.register(authenticator, credential_id=os.urandom(1024)), "validation_error")


def test_finish_rejects_a_raw_id_that_differs_from_id(api, authenticator):
    assert_rejected(api.register(authenticator, raw_id=b64url_encode(os.urandom(32))), "validation_error")


@pytest.mark.parametrize("second_user", ["alice", "bob"])
def test_finish_rejects_a_credential_id_already_registered(api, second_user):
    credential_id = os.urandom(32)
    assert_registered(api.register(SoftAuthenticator(), "alice", credential_id=credential_id))
    original = Credential.objects.get()

    response = api.register(SoftAuthenticator(), second_user, credential_id=credential_id)

    assert_rejected(response, "credential_exists", status=409, stored=1)
    kept = Credential.objects.get()
    assert (kept.pk, kept.user.user_id, bytes(kept.public_key)) == (original.pk, "alice", bytes(original.public_key))


def test_finish_accepts_the_same_credential_id_in_another_tenant(api, make_tenant, make_api):
    credential_id = os.urandom(32)
    other = make_api(make_tenant(name="Other"))

    assert_registered(api.register(SoftAuthenticator(), credential_id=credential_id))
    assert_registered(other.register(SoftAuthenticator(), credential_id=credential_id))
    assert Credential.objects.filter(credential_id=credential_id).count() == 2


# --- attestation (§7.1 steps 19-21) ----------------------------------------------------------


@pytest.mark.parametrize("attestation", ["packed", "packed-self"])
def test_finish_rejects_a_bad_attestation_signature_even_without_attestation_preference(api, attestation):
    authenticator = SoftAuthenticator(attestation=attestation)

    assert_rejected(api.register(authenticator, bad_attestation_signature=True), "attestation_invalid")


def test_finish_rejects_an_unknown_attestation_format(api, authenticator):
    assert_rejected(api.register(authenticator, attestation_format="bogus"), "attestation_invalid")


def test_finish_rejects_a_packed_format_with_an_empty_statement(api, authenticator):
    assert_rejected(api.register(authenticator, attestation_format="packed"), "attestation_invalid")


@pytest.fixture
def trusted_authenticator() -> SoftAuthenticator:
    return SoftAuthenticator(attestation="packed")


@pytest.fixture
def roots_api(make_tenant, make_api, trusted_authenticator):
    """A tenant that trusts only the root of `trusted_authenticator`."""
    return make_api(
        make_tenant(attestation="direct", attestation_roots=pem_of(trusted_authenticator.attestation_root_der))
    )


def test_finish_accepts_attestation_chaining_to_a_tenant_root(roots_api, trusted_authenticator):
    assert_registered(roots_api.register(trusted_authenticator))
    assert Credential.objects.get().attestation_format == "packed"


@pytest.mark.parametrize("attestation", ["packed", "packed-self", "none"])
def test_finish_rejects_attestation_not_chaining_to_a_tenant_root(roots_api, attestation):
    authenticator = SoftAuthenticator(attestation=attestation)  # "packed": its own, untrusted root

    assert_rejected(roots_api.register(authenticator), "attestation_untrusted")


# --- the challenge (§7.1 step 8) -------------------------------------------------------------


def test_finish_rejects_a_replayed_response(api, authenticator):
    credential = authenticator.create(api.registration_options("alice"), origin=ORIGIN)
    assert_registered(api.post(FINISH, {"credential": credential}))

    assert_rejected(api.post(FINISH, {"credential": credential}), "challenge_not_found", stored=1)


def shift_clock(monkeypatch, seconds: float) -> None:
    now = time.time()
    monkeypatch.setattr("passkeys.challenges.time.time", lambda: now + seconds)


def test_finish_rejects_an_expired_challenge(api, tenant, authenticator, monkeypatch):
    credential = authenticator.create(api.registration_options("alice"), origin=ORIGIN)
    shift_clock(monkeypatch, tenant.challenge_timeout + 1)

    assert_rejected(api.post(FINISH, {"credential": credential}), "challenge_expired")


def test_finish_accepts_a_challenge_just_before_it_expires(api, tenant, authenticator, monkeypatch):
    credential = authenticator.create(api.registration_options("alice"), origin=ORIGIN)
    shift_clock(monkeypatch, tenant.challenge_timeout - 5)

    assert_registered(api.post(FINISH, {"credential": credential}))


def test_finish_rejects_a_challenge_of_another_tenant(api, make_tenant, make_api, authenticator):
    other = make_api(make_tenant(name="Other"))  # same rp id and origin: only the challenge differs
    credential = authenticator.create(other.registration_options("alice"), origin=ORIGIN)

    assert_rejected(api.post(FINISH, {"credential": credential}), "challenge_not_found")
    assert_registered(other.post(FINISH, {"credential": credential}))


def test_finish_rejects_an_authentication_challenge(api, authenticator):
    login_challenge = api.authentication_options()["challenge"]

    response = api.register(authenticator, challenge=login_challenge)

    assert_rejected(response, "challenge_not_found")


def test_finish_rejects_a_challenge_that_was_never_issued(api, authenticator):
    response = api.register(authenticator, challenge=b64url_encode(os.urandom(32)))

    assert_rejected(response, "challenge_not_found")


# --- settings written around validation ------------------------------------------------------


@pytest.mark.parametrize("stored", [["x"], [], "nope", [-7, -7, 3.5, True]], ids=["junk", "empty", "string", "mixed"])
def test_unusable_stored_algorithms_fall_back_instead_of_failing(api, authenticator, stored):
    """A row written around the settings service must not turn the tenant's ceremonies into 500s."""
    type(api.tenant).objects.filter(pk=api.tenant.pk).update(algorithms=stored)

    offered = [p["alg"] for p in api.registration_options("alice")["pubKeyCredParams"]]
    assert offered == ([-7] if stored == [-7, -7, 3.5, True] else [-8, -7, -257])
    assert api.register(authenticator).status_code == 201
    assert api.login(authenticator, "alice").status_code == 200


def test_unreadable_stored_attestation_roots_trust_nothing(api):
    type(api.tenant).objects.filter(pk=api.tenant.pk).update(
        attestation_roots="-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    )

    response = api.register(SoftAuthenticator(attestation="packed"))

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "attestation_untrusted"
    assert not Credential.objects.exists()
