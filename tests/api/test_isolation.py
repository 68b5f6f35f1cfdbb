"""Tenant isolation: a key sees and changes only its own tenant's users, credentials and ceremonies."""

from __future__ import annotations

import pytest

from passkeys.models import Credential, PasskeyUser
from tests.support.api import assert_problem
from tests.support.authenticator import SoftAuthenticator, b64url_decode, b64url_encode

ORIGIN_A = "https://a.example.com"
ORIGIN_B = "https://b.example.org"
CREDENTIAL_NAME = "Alice's laptop"
UNKNOWN_ID = b64url_encode(b"\x01" * 32)


@pytest.fixture
def tenant_a(make_tenant):
    return make_tenant(name="Alpha Corp", rp_id="a.example.com", origins=[ORIGIN_A])


@pytest.fixture
def tenant_b(make_tenant):
    return make_tenant(name="Beta Corp", rp_id="b.example.org", origins=[ORIGIN_B])


@pytest.fixture
def api_a(make_api, tenant_a):
    return make_api(tenant_a)


@pytest.fixture
def api_b(make_api, tenant_b):
    return make_api(tenant_b)


@pytest.fixture
def credential_id(api_a, authenticator) -> str:
    """Alice's passkey at tenant A, as its base64url id."""
    response = api_a.register(authenticator, origin=ORIGIN_A, finish={"name": CREDENTIAL_NAME})
    assert response.status_code == 201, response.content
    return response.json()["credential"]["id"]


def a_state() -> list[tuple]:
    """Everything stored about tenant A's user and credential that B must not change."""
    return list(
        Credential.objects.order_by("pk").values_list(
            "user__user_id", "user__handle", "name", "sign_count", "last_used_at", "credential_id"
        )
    )


# --- credentials and users -----------------------------------------------------------------


def test_other_tenant_cannot_list_the_credential(api_a, api_b, credential_id):
    other = api_b.get("/v1/users/alice/credentials").json()
    assert other["credentials"] == [] and other["user_handle"] is None  # not even the handle leaks
    assert other["rp_id"] == api_b.tenant.rp_id
    assert [c["id"] for c in api_a.get("/v1/users/alice/credentials").json()["credentials"]] == [credential_id]


def test_other_tenant_cannot_rename_the_credential(api_b, credential_id):
    before = a_state()
    assert_problem(api_b.patch(f"/v1/credentials/{credential_id}", {"name": "stolen"}), 404, "not_found")
    assert a_state() == before


def test_other_tenant_cannot_delete_the_credential(api_a, api_b, credential_id):
    before = a_state()
    assert_problem(api_b.delete(f"/v1/credentials/{credential_id}"), 404, "not_found")
    assert a_state() == before
    assert len(api_a.get("/v1/users/alice/credentials").json()["credentials"]) == 1


def test_user_deletion_by_other_tenant_leaves_the_user_intact(api_a, api_b, tenant_a, authenticator, credential_id):
    before = a_state()
    assert api_b.delete("/v1/users/alice").status_code == 204
    assert a_state() == before
    assert PasskeyUser.objects.filter(tenant=tenant_a, user_id="alice").exists()
    assert api_a.login(authenticator, "alice", origin=ORIGIN_A).status_code == 200


def test_credential_id_taken_in_one_tenant_is_free_in_another(api_b, credential_id):
    """A 409 credential_exists here would tell B that A holds this credential."""
    response = api_b.register(SoftAuthenticator(), origin=ORIGIN_B, credential_id=b64url_decode(credential_id))
    assert response.status_code == 201, response.content
    assert Credential.objects.filter(credential_id=b64url_decode(credential_id)).count() == 2


# --- ceremonies ----------------------------------------------------------------------------


def test_other_tenant_cannot_log_in_with_the_credential(api_b, authenticator, credential_id):
    before = a_state()
    options = api_b.authentication_options()
    assertion = authenticator.get(options, origin=ORIGIN_B, credential_id=b64url_decode(credential_id))
    assert_problem(api_b.post("/v1/authentications/finish", {"credential": assertion}), 400, "credential_not_found")
    assert a_state() == before


def test_other_tenant_cannot_log_in_with_an_assertion_made_for_the_owner(api_b, authenticator, credential_id):
    before = a_state()
    options = api_b.authentication_options()
    assertion = authenticator.get(
        options, origin=ORIGIN_A, rp_id="a.example.com", credential_id=b64url_decode(credential_id)
    )
    assert_problem(api_b.post("/v1/authentications/finish", {"credential": assertion}), 400, "credential_not_found")
    assert a_state() == before


def test_other_tenant_cannot_finish_a_login_started_by_the_owner(api_a, api_b, authenticator, credential_id):
    before = a_state()
    assertion = authenticator.get(api_a.authentication_options("alice"), origin=ORIGIN_A)
    assert_problem(api_b.post("/v1/authentications/finish", {"credential": assertion}), 400, "challenge_not_found")
    assert a_state() == before
    # B's attempt did not consume A's challenge: the owner still finishes.
    assert api_a.post("/v1/authentications/finish", {"credential": assertion}).status_code == 200


def test_other_tenant_cannot_finish_a_registration_started_by_the_owner(api_a, api_b, tenant_b):
    created = SoftAuthenticator().create(api_a.registration_options("bob"), origin=ORIGIN_A)
    assert_problem(api_b.post("/v1/registrations/finish", {"credential": created}), 400, "challenge_not_found")
    assert not Credential.objects.filter(tenant=tenant_b).exists()
    assert api_a.post("/v1/registrations/finish", {"credential": created}).status_code == 201


def test_same_user_id_gets_different_handles_in_each_tenant(api_a, api_b, tenant_a, tenant_b):
    handle_a = api_a.registration_options("alice")["user"]["id"]
    handle_b = api_b.registration_options("alice")["user"]["id"]
    assert handle_a != handle_b
    assert b64url_decode(handle_a) == bytes(PasskeyUser.objects.get(tenant=tenant_a, user_id="alice").handle)
    assert b64url_decode(handle_b) == bytes(PasskeyUser.objects.get(tenant=tenant_b, user_id="alice").handle)
    assert b"alice" not in b64url_decode(handle_a) + b64url_decode(handle_b)


# --- nothing leaks -------------------------------------------------------------------------


def test_other_tenants_key_never_reveals_the_owners_data(api_a, api_b, tenant_a, authenticator, credential_id):
    handle = bytes(PasskeyUser.objects.get(tenant=tenant_a).handle)
    secrets = [str(tenant_a.pk), tenant_a.rp_id, ORIGIN_A, tenant_a.name, CREDENTIAL_NAME, b64url_encode(handle)]
    options = api_b.authentication_options("alice")
    assertion = authenticator.get(options, origin=ORIGIN_B, credential_id=b64url_decode(credential_id))
    started_at_a = authenticator.get(api_a.authentication_options("alice"), origin=ORIGIN_A)
    responses = [
        api_b.patch(f"/v1/credentials/{credential_id}", {"name": "x"}),
        api_b.delete(f"/v1/credentials/{credential_id}"),
        api_b.post("/v1/authentications/finish", {"credential": assertion}),
        api_b.post("/v1/authentications/finish", {"credential": started_at_a}),
        api_b.get("/v1/users/alice/credentials"),
    ]
    for response in responses:
        text = response.content.decode()
        for secret in secrets:
            assert secret not in text, (secret, text)


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_other_tenants_credential_looks_exactly_like_a_missing_one(api_b, credential_id, method):
    def call(cid: str):
        if method == "PATCH":
            return api_b.patch(f"/v1/credentials/{cid}", {"name": "x"})
        return api_b.delete(f"/v1/credentials/{cid}")

    foreign, missing = call(credential_id), call(UNKNOWN_ID)
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
