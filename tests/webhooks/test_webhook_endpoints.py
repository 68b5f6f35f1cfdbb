"""Endpoints: which URLs are accepted, how secrets are made and kept, and what webhooks cost a ceremony."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidTag
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import DomainError
from tenants.models import AuditEntry
from webhooks import caching
from webhooks.models import Delivery, Endpoint, EventType
from webhooks.services import endpoint_create, endpoint_delete, endpoint_update
from webhooks.signing import secret_decrypt, secret_encrypt


@pytest.mark.parametrize(
    "url",
    [
        "https://rp.example/hooks",
        "https://rp.example:8443/hooks?source=passkeys",
        "http://localhost:8000/hooks",
        "http://127.0.0.1:9000/hooks",
        "http://[::1]:9000/hooks",
    ],
)
def test_https_urls_and_plain_http_to_this_machine_are_accepted(tenant, url):
    created = endpoint_create(tenant=tenant, url=url, event_types=[EventType.PASSKEY_CREATED])
    assert created.endpoint.url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://rp.example/hooks",  # plain http off this machine
        "http://10.0.0.5/hooks",
        "http://localhost.rp.example/hooks",
        "ftp://rp.example/hooks",
        "file:///etc/passwd",
        "https://user:password@rp.example/hooks",
        "https:///hooks",
        "https://rp.example/hooks#fragment",
        "https://rp.example:99999/hooks",
        "rp.example/hooks",
    ],
)
def test_other_urls_are_refused(tenant, url):
    with pytest.raises(DomainError):
        endpoint_create(tenant=tenant, url=url, event_types=[EventType.PASSKEY_CREATED])
    endpoint = Endpoint(tenant=tenant, url=url, event_types=[EventType.PASSKEY_CREATED], secret_encrypted=b"x")
    with pytest.raises(ValidationError):  # what the admin's forms run
        endpoint.full_clean()
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("event_types", [[], ["passkey.exploded"]])
def test_unknown_or_missing_event_types_are_refused(tenant, event_types):
    with pytest.raises(DomainError):
        endpoint_create(tenant=tenant, url="https://rp.example/hooks", event_types=event_types)


def test_a_secret_is_32_random_bytes_in_the_whsec_form_and_stored_only_encrypted(tenant):
    created = endpoint_create(tenant=tenant, url="https://rp.example/hooks", event_types=[EventType.USER_DELETED])
    other = endpoint_create(tenant=tenant, url="https://rp.example/hooks", event_types=[EventType.USER_DELETED])

    assert created.secret.startswith("whsec_") and created.secret != other.secret
    key = base64.b64decode(created.secret.removeprefix("whsec_"), validate=True)
    assert len(key) == 32
    stored = bytes(Endpoint.objects.get(pk=created.endpoint.pk).secret_encrypted)
    assert created.secret.encode() not in stored and key not in stored
    assert secret_decrypt(stored, endpoint_id=str(created.endpoint.pk)) == created.secret
    with pytest.raises(InvalidTag):  # bound to its endpoint: a copied blob does not decrypt
        secret_decrypt(stored, endpoint_id=str(other.endpoint.pk))


def test_secret_encryption_round_trips():
    blob = secret_encrypt("whsec_c2VjcmV0", endpoint_id="e1")
    assert secret_decrypt(blob, endpoint_id="e1") == "whsec_c2VjcmV0"


def test_endpoint_changes_are_audited_without_the_secret(tenant):
    created = endpoint_create(tenant=tenant, url="https://rp.example/hooks", event_types=[EventType.USER_DELETED])
    endpoint_update(endpoint=created.endpoint, enabled=False)
    endpoint_delete(endpoint=created.endpoint)

    entries = list(AuditEntry.objects.filter(tenant=tenant, action__startswith="webhook_").order_by("id"))
    assert [e.action for e in entries] == [
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.deleted",
    ]
    assert entries[1].changes == {"enabled": [True, False]}
    assert all(created.secret not in str(e.changes) for e in entries)


# --- what webhooks cost the ceremony hot path ------------------------------------------------


def _statements(call) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        result = call()
    assert result.status_code in (200, 201), result.content
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


@pytest.fixture
def logged_in(api, authenticator):
    assert api.register(authenticator).status_code == 201
    assert api.login(authenticator, "alice").status_code == 200  # warms key, signing key and subscriptions caches
    return authenticator


def _login(api, authenticator):
    options = api.authentication_options("alice")
    assertion = authenticator.get(options, origin="https://example.com")
    return lambda: api.post("/v1/authentications/finish", {"credential": assertion})


def test_a_login_of_a_tenant_without_endpoints_costs_no_webhook_query(api, logged_in):
    statements = _statements(_login(api, logged_in))
    assert not [s for s in statements if "webhooks_" in s], statements
    assert not Delivery.objects.exists()


def test_a_login_of_a_tenant_with_an_endpoint_costs_one_insert(api, logged_in, tenant, receiver, make_endpoint):
    make_endpoint(tenant, receiver.url(), [EventType.PASSKEY_LOGIN_SUCCEEDED])
    cache.delete(f"webhooks:subscriptions:{tenant.pk}")  # as 10 s after the change: the tombstone has gone
    assert _login(api, logged_in)().status_code == 200  # reads the endpoints once, into the cache

    statements = _statements(_login(api, logged_in))
    webhook_statements = [s for s in statements if "webhooks_" in s]
    assert len(webhook_statements) == 1 and webhook_statements[0].startswith('INSERT INTO "webhooks_delivery"')
    assert Delivery.objects.count() == 2


def test_a_new_endpoint_gets_the_very_next_event_though_the_tenant_was_cached(
    api, logged_in, tenant, receiver, make_endpoint
):
    assert caching.subscriptions_get(tenant.pk) == ([], False)  # cached: "no endpoints"

    created = make_endpoint(tenant, receiver.url())
    assert _login(api, logged_in)().status_code == 200
    assert Delivery.objects.filter(endpoint=created.endpoint).count() == 1

    endpoint_update(endpoint=created.endpoint, enabled=False)
    assert _login(api, logged_in)().status_code == 200
    assert Delivery.objects.count() == 1


def test_another_process_s_endpoint_change_applies_here_within_the_process_ttl(
    api, logged_in, tenant, receiver, make_endpoint, monkeypatch
):
    make_endpoint(tenant, receiver.url(), [EventType.PASSKEY_LOGIN_SUCCEEDED])
    cache.delete(f"webhooks:subscriptions:{tenant.pk}")  # as 10 s after the change: the tombstone has gone
    assert _login(api, logged_in)().status_code == 200
    assert Delivery.objects.count() == 1  # this process holds the subscriptions now
    # Another process disables the endpoint: its signal reaches Redis, not this process's memory.
    Endpoint.objects.filter(tenant=tenant).update(enabled=False)
    cache.set(f"webhooks:subscriptions:{tenant.pk}", caching.TOMBSTONE, caching.TOMBSTONE_SECONDS)

    assert _login(api, logged_in)().status_code == 200
    assert Delivery.objects.count() == 2  # within the process's seconds: still logged (and not sent: disabled)
    later = caching.time.monotonic() + caching.PROCESS_TTL_SECONDS + 0.1
    monkeypatch.setattr(caching.time, "monotonic", lambda: later)
    assert _login(api, logged_in)().status_code == 200
    assert Delivery.objects.count() == 2
