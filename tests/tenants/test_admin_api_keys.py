"""API keys in the admin: issued with the secret shown once, narrowed, revoked, last use shown."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tenants.models import ApiKey, Membership, Role
from tenants.services import api_key_hash, api_key_issue

CHANGELIST = reverse("admin:tenants_apikey_changelist")
ADD = reverse("admin:tenants_apikey_add")


def change_url(key: ApiKey) -> str:
    return reverse("admin:tenants_apikey_change", args=[key.pk])


@pytest.fixture
def owner_client(tenant) -> Client:
    user = get_user_model().objects.create_user("owner", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=Role.OWNER)
    client = Client()
    client.force_login(user)
    return client


def call(secret: str, method: str, path: str, body: dict | None = None):
    client = APIClient()
    return getattr(client, method)(path, body, format="json", HTTP_AUTHORIZATION=f"Bearer {secret}")


def issue_in_admin(client: Client, tenant, scopes: list[str], label: str = "backend") -> tuple[ApiKey, str, object]:
    response = client.post(ADD, {"tenant": str(tenant.pk), "label": label, "scopes": scopes})
    assert response.status_code == 200, response.content
    secret = response.context["secret"]
    return ApiKey.objects.get(key_hash=api_key_hash(secret)), secret, response


def test_adding_a_key_shows_its_secret_once_and_stores_only_the_hash(owner_client, tenant):
    key, secret, page = issue_in_admin(owner_client, tenant, list(ApiKey.SCOPES))

    assert secret.encode() in page.content
    assert "no-store" in page["Cache-Control"]
    assert key.tenant == tenant and key.label == "backend"
    assert secret.startswith(key.prefix) and key.key_hash != secret
    for later in (owner_client.get(change_url(key)), owner_client.get(CHANGELIST)):
        assert later.status_code == 200
        assert secret.encode() not in later.content
        assert key.key_hash.encode() not in later.content
        assert key.prefix.encode() in later.content


def test_a_key_added_in_the_admin_works_with_exactly_its_scopes(owner_client, tenant):
    _, secret, _ = issue_in_admin(owner_client, tenant, ["credentials:read"])

    assert call(secret, "get", "/v1/users/alice/credentials").status_code == 200
    refused = call(secret, "post", "/v1/registrations/start", {"user_id": "alice", "username": "alice"})
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_scope"


def test_a_key_needs_at_least_one_scope(owner_client, tenant):
    response = owner_client.post(ADD, {"tenant": str(tenant.pk), "label": "none", "scopes": []})

    assert response.status_code == 200
    assert "scopes" in response.context["adminform"].form.errors
    assert not ApiKey.objects.filter(label="none").exists()


def test_revoking_in_the_admin_stops_the_key_at_once(owner_client, tenant, django_capture_on_commit_callbacks):
    _, secret, _ = issue_in_admin(owner_client, tenant, list(ApiKey.SCOPES))
    key = ApiKey.objects.get(key_hash=api_key_hash(secret))
    assert call(secret, "get", "/v1/users/alice/credentials").status_code == 200  # now cached

    with django_capture_on_commit_callbacks(execute=True):  # the admin request's commit drops the cache
        owner_client.post(CHANGELIST, {"action": "revoke", "_selected_action": [key.pk]})

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert call(secret, "get", "/v1/users/alice/credentials").status_code == 401


def test_narrowing_scopes_in_the_admin_applies_at_once(owner_client, tenant):
    key, secret, _ = issue_in_admin(owner_client, tenant, list(ApiKey.SCOPES))
    assert call(secret, "delete", "/v1/users/alice").status_code == 204  # now cached with every scope

    response = owner_client.post(
        change_url(key), {"label": "read only", "scopes": ["credentials:read"], "expires_at_0": "", "expires_at_1": ""}
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    key.refresh_from_db()
    assert key.scopes == ["credentials:read"] and key.label == "read only"
    assert call(secret, "delete", "/v1/users/alice").status_code == 403


def test_a_revoked_key_can_no_longer_be_edited(owner_client, tenant):
    key, _, _ = issue_in_admin(owner_client, tenant, ["ceremonies"])
    owner_client.post(CHANGELIST, {"action": "revoke", "_selected_action": [key.pk]})

    owner_client.post(change_url(key), {"label": "revived", "scopes": list(ApiKey.SCOPES)})

    key.refresh_from_db()
    assert key.scopes == ["ceremonies"] and key.label == "backend"


def test_changelist_shows_status_and_last_use(owner_client, tenant):
    issued = api_key_issue(tenant=tenant, label="used")
    call(issued.secret, "get", "/v1/users/alice/credentials")

    response = owner_client.get(CHANGELIST, {"status": "active"})

    rows = {row.pk: row for row in response.context["cl"].result_list}
    assert rows[issued.api_key.pk].last_used_at is not None
    assert b"active" in response.content


def test_keys_cannot_be_deleted_by_tenant_members(owner_client, tenant):
    key = api_key_issue(tenant=tenant).api_key

    response = owner_client.post(reverse("admin:tenants_apikey_delete", args=[key.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert ApiKey.objects.filter(pk=key.pk).exists()
