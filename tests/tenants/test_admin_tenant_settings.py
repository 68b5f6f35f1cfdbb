"""A tenant's settings page in the admin, and the allowed-authenticator list it sets."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from passkeys.models import Credential
from tenants.models import AuditEntry, Membership, Role, Tenant
from tests.support.api import assert_problem
from tests.support.authenticator import SoftAuthenticator

YUBIKEY = uuid.UUID("cb69481e-8ff7-4039-93ec-0a2729a154a8")


def settings_url(tenant: Tenant) -> str:
    return reverse("admin:tenants_tenant_change", args=[tenant.pk])


def form_data(response) -> dict[str, Any]:
    """The POST body the rendered change form would send unchanged, inlines included."""
    forms_shown = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms_shown += [inline.formset.management_form, *inline.formset.forms]
    data: dict[str, Any] = {}
    for form in forms_shown:
        for name, field in form.fields.items():
            value = form[name].value()
            key = form.add_prefix(name)
            if isinstance(field.widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
            elif isinstance(field.widget, forms.MultiWidget):
                for index, part in enumerate(field.widget.decompress(value)):
                    data[f"{key}_{index}"] = "" if part is None else part
            elif value is not None:
                data[key] = value
    return data


@pytest.fixture
def member(tenant):
    def make(role: str) -> Client:
        user = get_user_model().objects.create_user(f"{role}-user", is_staff=True)
        Membership.objects.create(user=user, tenant=tenant, role=role)
        client = Client()
        client.force_login(user)
        return client

    return make


def save_settings(client: Client, tenant: Tenant, **changes: Any):
    data = form_data(client.get(settings_url(tenant)))
    data.update(changes)
    return client.post(settings_url(tenant), data)


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owner_and_admin_change_their_tenants_webauthn_settings(member, tenant, role):
    response = save_settings(
        member(role),
        tenant,
        user_verification="required",
        challenge_timeout="120",
        origins="https://example.com\nhttps://app.example.com",
        rate_limit_per_user="5",
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant.refresh_from_db()
    assert tenant.user_verification == "required"
    assert tenant.challenge_timeout == 120
    assert tenant.origins == ["https://example.com", "https://app.example.com"]
    assert tenant.rate_limit_per_user == 5


def test_analyst_reads_the_settings_but_cannot_save_them(member, tenant):
    client = member(Role.ANALYST)

    page = client.get(settings_url(tenant))
    refused = client.post(settings_url(tenant), {"name": "renamed"})

    assert page.status_code == 200 and tenant.rp_id.encode() in page.content
    assert refused.status_code == 403
    tenant.refresh_from_db()
    assert tenant.name != "renamed"


def test_a_settings_change_is_audited_with_old_and_new_values(member, tenant, settings):
    middleware = "tenants.middleware.AuditContextMiddleware"
    if middleware not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, middleware]
    before = set(AuditEntry.objects.values_list("pk", flat=True))

    save_settings(member(Role.ADMIN), tenant, challenge_timeout="120", user_verification="required")

    [entry] = AuditEntry.objects.exclude(pk__in=before)
    assert (entry.action, entry.actor, entry.tenant, entry.ip) == ("tenant.updated", "admin-user", tenant, "127.0.0.1")
    assert entry.changes == {"challenge_timeout": [300, 120], "user_verification": ["preferred", "required"]}


def test_superuser_creates_a_tenant_in_the_admin_and_it_is_audited(db):
    root = get_user_model().objects.create_superuser("root", "root@example.com", None)
    client = Client()
    client.force_login(root)
    data = form_data(client.get(reverse("admin:tenants_tenant_add")))
    data.update(name="Charlie", rp_name="Charlie", rp_id="charlie.example", origins="https://charlie.example")

    response = client.post(reverse("admin:tenants_tenant_add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    created = Tenant.objects.get(rp_id="charlie.example")
    assert created.origins == ["https://charlie.example"] and not created.api_keys.exists()
    assert AuditEntry.objects.get(tenant=created).action == "tenant.created"


def test_saving_unchanged_settings_is_not_audited(member, tenant):
    before = AuditEntry.objects.count()

    assert save_settings(member(Role.OWNER), tenant).status_code == 302

    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("origins", "example.com"),
        ("origins", "http://example.com"),
        ("origins", ""),
        ("allowed_aaguids", "not-a-uuid"),
        ("rp_id", "https://example.com"),
        ("challenge_timeout", "5"),
    ],
)
def test_settings_page_rejects_invalid_values(member, tenant, field, value):
    response = save_settings(member(Role.OWNER), tenant, **{field: value})

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors


def test_aaguids_are_stored_lowercase_and_dashed(member, tenant):
    save_settings(member(Role.OWNER), tenant, allowed_aaguids=YUBIKEY.hex.upper())

    tenant.refresh_from_db()
    assert tenant.allowed_aaguids == [str(YUBIKEY)]


# --- the allow-list at registration ---------------------------------------------------------


def soft(aaguid: uuid.UUID) -> SoftAuthenticator:
    return SoftAuthenticator(aaguid=aaguid.bytes)


def test_registration_rejects_an_authenticator_the_tenant_does_not_allow(api, tenant, member):
    save_settings(member(Role.ADMIN), tenant, allowed_aaguids=str(YUBIKEY))
    api.tenant.refresh_from_db()

    response = api.register(soft(uuid.UUID(bytes=os.urandom(16))))

    assert_problem(response, 400, "attestation_untrusted")
    assert Credential.objects.count() == 0


def test_registration_accepts_an_allowed_authenticator(api, tenant, member):
    save_settings(member(Role.ADMIN), tenant, allowed_aaguids=f"{uuid.uuid4()}\n{YUBIKEY}")

    response = api.register(soft(YUBIKEY))

    assert response.status_code == 201, response.content
    assert response.json()["credential"]["aaguid"] == str(YUBIKEY)


def test_an_empty_allow_list_allows_every_authenticator(api):
    assert api.register(soft(uuid.UUID(bytes=os.urandom(16)))).status_code == 201
