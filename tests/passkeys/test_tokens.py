"""Login tokens: ES256 JWTs that verify offline against the tenant's JWKS, across key rotations."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from io import StringIO

import jwt
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from passkeys import tokens
from passkeys.models import SigningKey
from tests.support.authenticator import SoftAuthenticator

CLAIMS = {"iss", "sub", "aud", "iat", "exp", "jti", "cred", "amr", "uv", "auth_time", "cred_backed_up"}


def jwks_of(tenant_id) -> dict:
    """The published keys, fetched as a relying party would: no API key."""
    response = APIClient().get(f"/v1/tenants/{tenant_id}/jwks.json")
    assert response.status_code == 200, response.content
    return response.json()


def kids(tenant) -> list[str]:
    return [key["kid"] for key in jwks_of(tenant.pk)["keys"]]


def verify(token: str, tenant) -> dict:
    """Verify with PyJWT against the JWKS only, as an RP's backend would."""
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [key for key in jwks_of(tenant.pk)["keys"] if key["kid"] == kid]
    return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"], audience=tenant.rp_id)


def rotate(tenant) -> str:
    out = StringIO()
    call_command("rotate_signing_key", str(tenant.pk), stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["tenant_id"] == str(tenant.pk)
    return printed["kid"]


@pytest.fixture
def login(api, authenticator):
    """Register alice once; each call logs her in and returns the finish response body."""
    assert api.register(authenticator).status_code == 201

    def login() -> dict:
        response = api.login(authenticator, "alice")
        assert response.status_code == 200, response.content
        return response.json()

    return login


# --- the token -----------------------------------------------------------------------------


def test_login_token_verifies_against_the_tenants_jwks(login, tenant):
    claims = verify(login()["token"], tenant)
    assert claims["sub"] == "alice"


def test_login_token_header_is_es256_with_a_published_kid(login, tenant):
    header = jwt.get_unverified_header(login()["token"])
    assert header["alg"] == "ES256"
    assert header["kid"] in kids(tenant)


def test_login_token_carries_the_contract_claims(login, tenant):
    body = login()
    claims = verify(body["token"], tenant)
    assert set(claims) == CLAIMS
    assert claims["iss"].endswith(str(tenant.pk))
    assert claims["sub"] == "alice"
    assert claims["aud"] == tenant.rp_id
    assert abs(claims["iat"] - time.time()) < 10
    assert claims["exp"] == claims["iat"] + 300
    assert claims["cred"] == body["credential_id"]
    assert claims["amr"] == ["passkey"]


@pytest.mark.parametrize("uv", [True, False])
def test_login_token_uv_claim_is_the_assertions_uv_flag(api, tenant, uv):
    authenticator = SoftAuthenticator()
    assert api.register(authenticator).status_code == 201
    response = api.login(authenticator, "alice", uv=uv)
    assert response.status_code == 200, response.content
    claims = verify(response.json()["token"], tenant)
    assert claims["uv"] is uv
    assert claims["amr"] == ["passkey"]


@pytest.mark.parametrize("backed_up", [True, False])
def test_login_token_cred_backed_up_claim_is_the_assertions_bs_flag(api, tenant, backed_up):
    authenticator = SoftAuthenticator(backup_eligible=True, backed_up=not backed_up)
    assert api.register(authenticator).status_code == 201
    # BS may change between ceremonies (BE may not): the claim follows this assertion, not the registration.
    response = api.login(authenticator, "alice", bs=backed_up)
    assert response.status_code == 200, response.content
    claims = verify(response.json()["token"], tenant)
    assert claims["cred_backed_up"] is backed_up


def test_login_token_auth_time_is_the_issue_time(login, tenant):
    before = int(time.time())
    claims = verify(login()["token"], tenant)
    assert claims["auth_time"] == claims["iat"]
    assert before <= claims["auth_time"] <= int(time.time())


def test_login_token_issuer_is_the_service_url_plus_the_tenant(login, tenant, settings):
    settings.SERVICE_URL = "https://passkeys.example.net"
    claims = verify(login()["token"], tenant)
    assert claims["iss"] == f"https://passkeys.example.net/v1/tenants/{tenant.pk}"


def test_login_token_jti_is_unique_per_login(login, tenant):
    first, second = verify(login()["token"], tenant), verify(login()["token"], tenant)
    assert first["jti"] != second["jti"]


def test_login_token_does_not_verify_with_another_tenants_keys(login, tenant, make_tenant):
    token = login()["token"]
    other = make_tenant(name="Other", rp_id=tenant.rp_id)
    [other_key] = jwks_of(other.pk)["keys"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, jwt.PyJWK(other_key).key, algorithms=["ES256"], audience=tenant.rp_id)


# --- the JWKS ------------------------------------------------------------------------------


def test_jwks_publishes_only_public_es256_keys(login, tenant):
    login()
    [key] = jwks_of(tenant.pk)["keys"]
    assert {key["kty"], key["crv"], key["alg"], key["use"]} == {"EC", "P-256", "ES256", "sig"}
    assert "d" not in key
    assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}


def test_jwks_of_a_tenant_without_logins_already_publishes_a_key(tenant):
    [key] = jwks_of(tenant.pk)["keys"]
    assert SigningKey.objects.get(tenant=tenant).kid == key["kid"]


def test_jwks_of_unknown_tenant_is_not_found(db):
    response = APIClient().get("/v1/tenants/00000000-0000-4000-8000-000000000000/jwks.json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
    assert not SigningKey.objects.exists()


@pytest.mark.parametrize("tenant_id", ["nope", "123", "00000000-0000-4000-8000", "%20", "' or 1=1 --"])
def test_jwks_of_malformed_tenant_id_is_not_found(db, tenant_id):
    response = APIClient().get(f"/v1/tenants/{tenant_id}/jwks.json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- rotation ------------------------------------------------------------------------------


def test_rotation_publishes_the_new_key_and_keeps_the_old_one(login, tenant):
    old_token = login()["token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    new_kid = rotate(tenant)
    assert new_kid != old_kid
    assert kids(tenant) == [new_kid, old_kid]  # newest first


def test_token_signed_before_rotation_still_verifies(login, tenant):
    old_token = login()["token"]
    rotate(tenant)
    assert verify(old_token, tenant)["sub"] == "alice"


def test_tokens_after_rotation_use_the_new_kid(login, tenant):
    login()
    new_kid = rotate(tenant)
    token = login()["token"]
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    assert verify(token, tenant)["sub"] == "alice"


def test_rotation_leaves_exactly_one_current_key(login, tenant):
    login()
    rotate(tenant)
    rotate(tenant)
    assert SigningKey.objects.filter(tenant=tenant, retired_at__isnull=True).count() == 1
    assert SigningKey.objects.filter(tenant=tenant).count() == 3


def test_retired_key_stays_published_while_its_tokens_may_be_valid(login, tenant):
    old_kid = jwt.get_unverified_header(login()["token"])["kid"]
    rotate(tenant)
    almost = timezone.now() - tokens.RETIRED_KEY_PUBLISHED + timedelta(seconds=30)
    SigningKey.objects.filter(kid=old_kid).update(retired_at=almost)
    assert old_kid in kids(tenant)


def test_key_retired_longer_ago_than_its_tokens_live_is_no_longer_published(login, tenant):
    old_kid = jwt.get_unverified_header(login()["token"])["kid"]
    new_kid = rotate(tenant)
    long_ago = timezone.now() - tokens.RETIRED_KEY_PUBLISHED - timedelta(seconds=1)
    SigningKey.objects.filter(kid=old_kid).update(retired_at=long_ago)
    assert kids(tenant) == [new_kid]


def test_retired_key_window_covers_a_token_lifetime():
    assert tokens.RETIRED_KEY_PUBLISHED >= timedelta(seconds=tokens.TOKEN_LIFETIME_SECONDS)


def test_rotate_signing_key_of_unknown_tenant_is_a_command_error(db):
    with pytest.raises(CommandError):
        call_command("rotate_signing_key", "00000000-0000-4000-8000-000000000000", stdout=StringIO())
    assert not SigningKey.objects.exists()


# --- the private key at rest ---------------------------------------------------------------


@pytest.fixture
def stored_key(tenant, settings) -> SigningKey:
    """A key encrypted under SECRET_KEY (no separate encryption key configured)."""
    settings.SIGNING_KEY_ENCRYPTION_KEY = ""
    jwks_of(tenant.pk)  # makes the tenant's first key
    return SigningKey.objects.get(tenant=tenant)


def test_private_key_is_encrypted_at_rest(stored_key):
    blob = bytes(stored_key.private_key_encrypted)
    private_key = tokens._decrypt(blob, stored_key.kid)
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    scalar = private_key.private_numbers().private_value.to_bytes(32, "big")
    assert der not in blob
    assert scalar not in blob
    assert tokens._public_jwk(private_key)["kid"] == stored_key.kid  # the blob holds this very key


def test_private_key_does_not_decrypt_under_another_secret_key(stored_key, settings):
    settings.SECRET_KEY = "another-secret-key"
    with pytest.raises(InvalidTag):
        tokens._decrypt(bytes(stored_key.private_key_encrypted), stored_key.kid)


def test_private_key_does_not_decrypt_under_another_encryption_key(stored_key, settings):
    settings.SIGNING_KEY_ENCRYPTION_KEY = "another-encryption-key"
    with pytest.raises(InvalidTag):
        tokens._decrypt(bytes(stored_key.private_key_encrypted), stored_key.kid)


def test_private_key_is_bound_to_its_kid(stored_key):
    """The kid is associated data: a blob copied onto another key row does not decrypt."""
    with pytest.raises(InvalidTag):
        tokens._decrypt(bytes(stored_key.private_key_encrypted), "another-kid")
