"""The operator commands: create_tenant and create_api_key print one JSON object whose key works."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from tenants.models import ApiKey, Tenant
from tenants.services import api_key_hash

MISSING_TENANT = "00000000-0000-4000-8000-000000000000"


def run(*args: str) -> dict:
    """Run a command; its stdout must be exactly one JSON object."""
    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def create_tenant(*extra: str) -> dict:
    return run("create_tenant", "Acme", "--rp-id", "acme.test", "--origin", "https://acme.test", *extra)


def call(key: str, method: str, path: str, body: dict | None = None):
    client = APIClient()
    return getattr(client, method)(path, body, format="json", HTTP_AUTHORIZATION=f"Bearer {key}")


# --- create_tenant -------------------------------------------------------------------------


def test_create_tenant_prints_exactly_tenant_id_and_api_key(db):
    printed = create_tenant()
    assert set(printed) == {"tenant_id", "api_key"}
    tenant = Tenant.objects.get(pk=printed["tenant_id"])
    assert (tenant.name, tenant.rp_id, tenant.origins) == ("Acme", "acme.test", ["https://acme.test"])


def test_create_tenant_key_works_against_the_api(db):
    printed = create_tenant()
    response = call(printed["api_key"], "post", "/v1/registrations/start", {"user_id": "alice", "username": "alice"})
    assert response.status_code == 200, response.content
    assert response.json()["public_key"]["rp"]["id"] == "acme.test"
    assert call(printed["api_key"], "get", "/v1/users/alice/credentials").status_code == 200


def test_create_tenant_key_has_every_scope_and_is_stored_hashed(db):
    printed = create_tenant()
    key = ApiKey.objects.get(tenant_id=printed["tenant_id"])
    assert set(key.scopes) == set(ApiKey.SCOPES)
    assert key.key_hash == api_key_hash(printed["api_key"])


def test_create_tenant_accepts_repeated_origins(db):
    printed = create_tenant("--origin", "https://login.acme.test", "--origin", "android:apk-key-hash:abc123")
    tenant = Tenant.objects.get(pk=printed["tenant_id"])
    assert tenant.origins == ["https://acme.test", "https://login.acme.test", "android:apk-key-hash:abc123"]


def test_create_tenant_sets_rp_name_and_challenge_timeout(db):
    printed = create_tenant("--rp-name", "Acme Sign-in", "--challenge-timeout", "120")
    tenant = Tenant.objects.get(pk=printed["tenant_id"])
    assert (tenant.rp_name, tenant.challenge_timeout) == ("Acme Sign-in", 120)


def test_create_tenant_defaults_rp_name_to_the_name_and_timeout_to_300(db):
    tenant = Tenant.objects.get(pk=create_tenant()["tenant_id"])
    assert (tenant.rp_name, tenant.challenge_timeout) == ("Acme", 300)


def test_create_tenant_allows_automatic_upgrades_unless_told_not_to(db):
    assert Tenant.objects.get(pk=create_tenant()["tenant_id"]).automatic_upgrades is True
    printed = create_tenant("--no-automatic-upgrades")
    assert Tenant.objects.get(pk=printed["tenant_id"]).automatic_upgrades is False


@pytest.mark.parametrize(
    "origin",
    [
        "ftp://x",
        "https://x/path",
        "https://x?query=1",
        "https://x#fragment",
        "http://acme.test",
        "https://user@acme.test",
        "acme.test",
        "android:apk-key-hash:",
    ],
)
def test_create_tenant_rejects_an_invalid_origin(db, origin):
    with pytest.raises(CommandError):
        create_tenant("--origin", origin)
    assert not Tenant.objects.exists()


@pytest.mark.parametrize("timeout", ["5", "3601", "soon"])
def test_create_tenant_rejects_a_challenge_timeout_out_of_range(db, timeout):
    with pytest.raises(CommandError):
        create_tenant("--challenge-timeout", timeout)
    assert not Tenant.objects.exists()


def test_create_tenant_requires_an_origin(db):
    with pytest.raises(CommandError):
        run("create_tenant", "Acme", "--rp-id", "acme.test")
    assert not Tenant.objects.exists()


# --- create_api_key ------------------------------------------------------------------------


@pytest.fixture
def tenant_id(db) -> str:
    return create_tenant()["tenant_id"]


def test_create_api_key_prints_an_api_key_with_every_scope(tenant_id):
    printed = run("create_api_key", tenant_id)
    assert set(printed) == {"api_key"}
    key = ApiKey.objects.get(key_hash=api_key_hash(printed["api_key"]))
    assert str(key.tenant_id) == tenant_id
    assert set(key.scopes) == set(ApiKey.SCOPES)
    assert call(printed["api_key"], "delete", "/v1/users/alice").status_code == 204


def test_create_api_key_scope_repeats_and_limits_the_scopes(tenant_id):
    printed = run("create_api_key", tenant_id, "--scope", "credentials:read", "--scope", "users:delete")
    key = ApiKey.objects.get(key_hash=api_key_hash(printed["api_key"]))
    assert set(key.scopes) == {"credentials:read", "users:delete"}
    assert call(printed["api_key"], "get", "/v1/users/alice/credentials").status_code == 200
    assert call(printed["api_key"], "delete", "/v1/users/alice").status_code == 204
    refused = call(printed["api_key"], "post", "/v1/registrations/start", {"user_id": "a", "username": "a"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"


def test_create_api_key_sets_the_label(tenant_id):
    printed = run("create_api_key", tenant_id, "--label", "backend")
    assert ApiKey.objects.get(key_hash=api_key_hash(printed["api_key"])).label == "backend"


def test_create_api_key_rejects_an_unknown_scope(tenant_id):
    with pytest.raises(CommandError):
        run("create_api_key", tenant_id, "--scope", "admin")
    assert ApiKey.objects.count() == 1  # only the tenant's first key


@pytest.mark.parametrize("unknown", [MISSING_TENANT, "not-a-uuid"])
def test_create_api_key_for_unknown_tenant_is_a_command_error(db, unknown):
    with pytest.raises(CommandError):
        run("create_api_key", unknown)
    assert not ApiKey.objects.exists()
