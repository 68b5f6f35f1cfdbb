"""GET /v1/tenants/{tenant_id}/related-origins: the WebAuthn L3 related origins document a relying party
serves at https://{rp_id}/.well-known/webauthn, public (no key), with only the tenant's own web origins."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from tests.support.api import assert_problem

ANDROID = "android:apk-key-hash:" + "A" * 43
WEB = ["https://example.com", "https://shop.example.net", "http://localhost:8000"]


def related(tenant_id, client: Client | None = None, **headers):
    """Fetched as a browser or a relying party's proxy would: no API key."""
    return (client or Client()).get(f"/v1/tenants/{tenant_id}/related-origins", **headers)


@pytest.fixture
def tenant(make_tenant):
    return make_tenant(origins=[*WEB, ANDROID])


def test_related_origins_lists_the_tenants_web_origins_in_order(tenant):
    response = related(tenant.pk)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"origins": WEB}


def test_related_origins_leaves_out_android_origins(tenant):
    assert ANDROID not in related(tenant.pk).json()["origins"]


def test_related_origins_of_a_tenant_with_only_android_origins_is_an_empty_list(make_tenant):
    android_only = make_tenant(name="App", origins=[ANDROID])
    assert related(android_only.pk).json() == {"origins": []}


def test_related_origins_needs_no_api_key(tenant):
    assert related(tenant.pk).status_code == 200
    # A wrong key is not even looked at: the route has no authentication.
    assert related(tenant.pk, HTTP_AUTHORIZATION="Bearer not-a-key").status_code == 200


def test_related_origins_is_cacheable_like_the_jwks(tenant):
    assert related(tenant.pk)["Cache-Control"] == "public, max-age=300"


def test_related_origins_never_show_another_tenants_origins(tenant, make_tenant):
    other = make_tenant(name="Other", rp_id="other.example", origins=["https://other.example"])
    assert related(tenant.pk).json() == {"origins": WEB}
    assert related(other.pk).json() == {"origins": ["https://other.example"]}


def test_related_origins_of_an_unknown_tenant_is_a_404_problem(db):
    assert_problem(related(uuid.uuid4()), 404, "not_found")


@pytest.mark.parametrize("tenant_id", ["not-a-uuid", "1234"])
def test_related_origins_of_a_tenant_id_that_is_no_uuid_is_a_404_problem(db, tenant_id):
    assert_problem(related(tenant_id), 404, "not_found")


@pytest.mark.parametrize("encoded", ["%00", "%0A", "%7F", "%C2%80"])
def test_control_character_in_a_related_origins_tenant_id_is_a_validation_error(db, encoded):
    assert_problem(related(f"a{encoded}b"), 400, "validation_error")


def test_related_origins_over_the_per_ip_limit_is_429_with_retry_after(tenant, settings):
    settings.RATE_LIMIT_JWKS_PER_IP = 2
    assert related(tenant.pk).status_code == 200
    assert related(tenant.pk).status_code == 200
    limited = related(tenant.pk)
    assert_problem(limited, 429, "rate_limited")
    assert int(limited["Retry-After"]) >= 1
