"""Listing, renaming and deleting credentials; erasing users."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from passkeys.models import Credential, PasskeyUser
from tests.support.api import assert_problem
from tests.support.authenticator import SoftAuthenticator, b64url_decode, b64url_encode

ORIGIN = "https://example.com"
CREDENTIAL_FIELDS = {
    "id",
    "user_id",
    "user_handle",
    "name",
    "aaguid",
    "provider_name",
    "provider_icon_light",
    "provider_icon_dark",
    "transports",
    "backup_eligible",
    "backed_up",
    "user_verified",
    "sign_count",
    "discoverable",
    "prf_enabled",
    "created_via",
    "authenticator_attachment",
    "attestation",
    "authenticator_name",
    "authenticator_status",
    "created_at",
    "last_used_at",
}
B64URL = re.compile(r"[A-Za-z0-9_-]+")
UNKNOWN_ID = b64url_encode(b"\x01" * 32)


def listed(api, user_id: str = "alice") -> list[dict]:
    response = api.get(f"/v1/users/{user_id}/credentials")
    assert response.status_code == 200, response.content
    return response.json()["credentials"]


@pytest.fixture
def register(api):
    """Register a passkey on a fresh authenticator; returns (authenticator, credential JSON)."""

    def register(user_id: str = "alice", name: str = "", **kwargs) -> tuple[SoftAuthenticator, dict]:
        authenticator = SoftAuthenticator(**kwargs)
        response = api.register(authenticator, user_id, finish={"name": name} if name else None)
        assert response.status_code == 201, response.content
        return authenticator, response.json()["credential"]

    return register


@pytest.fixture
def alice(register) -> tuple[SoftAuthenticator, dict]:
    return register("alice", "Laptop")


# --- listing -------------------------------------------------------------------------------


def test_list_returns_the_credential_shape(api, alice):
    _, registered = alice
    [credential] = listed(api)
    assert set(credential) == CREDENTIAL_FIELDS
    assert credential == registered
    assert B64URL.fullmatch(credential["id"])
    assert credential["user_id"] == "alice"
    assert credential["name"] == "Laptop"
    assert credential["aaguid"] == "00000000-0000-0000-0000-000000000000"
    assert credential["provider_icon_light"] is None and credential["provider_icon_dark"] is None
    assert credential["transports"] == ["internal", "hybrid"]
    assert (credential["backup_eligible"], credential["backed_up"], credential["user_verified"]) == (True, True, True)
    assert credential["sign_count"] == 0
    datetime.fromisoformat(credential["created_at"])
    assert credential["last_used_at"] is None


def test_list_gives_what_the_signal_api_needs(api, tenant, alice):
    _, registered = alice
    body = api.get("/v1/users/alice/credentials").json()
    handle = PasskeyUser.objects.get(tenant=tenant, user_id="alice").handle
    assert body["rp_id"] == tenant.rp_id
    assert body["user_handle"] == registered["user_handle"] == b64url_encode(bytes(handle))


def test_list_of_an_unknown_user_has_no_handle(api, tenant):
    body = api.get("/v1/users/nobody/credentials").json()
    assert body == {"credentials": [], "rp_id": tenant.rp_id, "user_handle": None}


def test_credential_names_its_provider_with_icons(api, register):
    apple = bytes.fromhex("fbfc3007154e4ecc8c0b6e020557d7bd")
    _, credential = register("alice", aaguid=apple)
    assert credential["provider_name"] == "Apple Passwords"
    assert credential["provider_icon_light"].startswith("data:image/")
    assert credential["provider_icon_dark"].startswith("data:image/")


def test_list_reflects_a_login(api, alice):
    authenticator, _ = alice
    assert api.login(authenticator, "alice").status_code == 200
    [credential] = listed(api)
    assert credential["sign_count"] == 1
    assert datetime.fromisoformat(credential["last_used_at"]) >= datetime.fromisoformat(credential["created_at"])


def test_list_is_in_creation_order(api, register):
    ids = [register("alice", name)[1]["id"] for name in ("first", "second", "third")]
    assert [c["id"] for c in listed(api)] == ids
    assert [c["name"] for c in listed(api)] == ["first", "second", "third"]


def test_list_holds_only_that_users_credentials(api, alice, register):
    register("bob")
    assert [c["id"] for c in listed(api, "alice")] == [alice[1]["id"]]
    assert listed(api, "nobody") == []


# --- renaming ------------------------------------------------------------------------------


def test_patch_renames_the_credential(api, alice):
    credential_id = alice[1]["id"]
    response = api.patch(f"/v1/credentials/{credential_id}", {"name": "Work phone"})
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"credential"}
    assert response.json()["credential"]["name"] == "Work phone"
    assert response.json()["credential"]["id"] == credential_id
    assert [c["name"] for c in listed(api)] == ["Work phone"]


def test_patch_accepts_a_name_of_200_characters(api, alice):
    response = api.patch(f"/v1/credentials/{alice[1]['id']}", {"name": "n" * 200})
    assert response.status_code == 200, response.content
    assert Credential.objects.get().name == "n" * 200


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": None}, {"name": "n" * 201}])
def test_patch_requires_a_name_of_at_most_200_characters(api, alice, body):
    problem = assert_problem(api.patch(f"/v1/credentials/{alice[1]['id']}", body), 400, "validation_error")
    assert "name" in problem["errors"]
    assert Credential.objects.get().name == "Laptop"


def test_patch_of_unknown_credential_is_not_found(api, alice):
    assert_problem(api.patch(f"/v1/credentials/{UNKNOWN_ID}", {"name": "x"}), 404, "not_found")
    assert Credential.objects.get().name == "Laptop"


# --- deleting credentials ------------------------------------------------------------------


def test_delete_removes_the_credential(api, alice):
    response = api.delete(f"/v1/credentials/{alice[1]['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert listed(api) == []
    assert not Credential.objects.exists()


def test_delete_of_a_deleted_credential_is_not_found(api, alice):
    assert api.delete(f"/v1/credentials/{alice[1]['id']}").status_code == 204
    assert_problem(api.delete(f"/v1/credentials/{alice[1]['id']}"), 404, "not_found")


def test_delete_leaves_the_users_other_credentials(api, alice, register):
    _, second = register("alice", "Phone")
    assert api.delete(f"/v1/credentials/{alice[1]['id']}").status_code == 204
    assert [c["id"] for c in listed(api)] == [second["id"]]


def test_login_with_a_deleted_credential_fails_credential_not_found(api, alice):
    authenticator, _ = alice
    assert api.delete(f"/v1/credentials/{alice[1]['id']}").status_code == 204
    assert_problem(api.login(authenticator), 400, "credential_not_found")


def test_deleted_credential_is_no_longer_in_exclude_credentials(api, alice, register):
    _, second = register("alice", "Phone")
    excluded = [d["id"] for d in api.registration_options("alice")["excludeCredentials"]]
    assert excluded == [alice[1]["id"], second["id"]]
    assert api.delete(f"/v1/credentials/{alice[1]['id']}").status_code == 204
    assert [d["id"] for d in api.registration_options("alice")["excludeCredentials"]] == [second["id"]]


def test_deleted_credential_can_be_registered_again(api, alice):
    authenticator, registered = alice
    assert api.delete(f"/v1/credentials/{registered['id']}").status_code == 204
    again = api.register(authenticator, credential_id=b64url_decode(registered["id"]))
    assert again.status_code == 201, again.content


# --- erasing users -------------------------------------------------------------------------


def test_delete_user_erases_credentials_and_handle(api, tenant, alice, register):
    register("alice", "Phone")
    register("bob")
    response = api.delete("/v1/users/alice")
    assert response.status_code == 204
    assert response.content == b""
    assert listed(api, "alice") == []
    assert not PasskeyUser.objects.filter(tenant=tenant, user_id="alice").exists()
    assert not Credential.objects.filter(user__user_id="alice").exists()
    assert len(listed(api, "bob")) == 1


def test_registration_after_user_deletion_gets_a_new_user_handle(api, alice):
    old_handle = api.registration_options("alice")["user"]["id"]
    assert api.delete("/v1/users/alice").status_code == 204
    new_options = api.registration_options("alice")
    assert new_options["user"]["id"] != old_handle
    assert new_options["excludeCredentials"] == []


def test_login_after_user_deletion_fails_credential_not_found(api, alice):
    authenticator, _ = alice
    assert api.delete("/v1/users/alice").status_code == 204
    assert_problem(api.login(authenticator), 400, "credential_not_found")


def test_delete_user_is_idempotent(api, alice):
    assert api.delete("/v1/users/alice").status_code == 204
    assert api.delete("/v1/users/alice").status_code == 204
    assert api.delete("/v1/users/never-registered").status_code == 204
