"""API keys: the key alone identifies the tenant, failures all look alike, and cached keys never outlive a change."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from passkeys.models import Credential, PasskeyUser
from tenants.models import ApiKey
from tenants.services import api_key_issue, api_key_revoke

ORIGIN = "https://example.com"
CREDENTIALS = "/v1/users/alice/credentials"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code"}


def assert_invalid_api_key(response) -> dict:
    """401 invalid_api_key as problem+json, with the challenge header RFC 6750 asks for."""
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert PROBLEM_MEMBERS <= set(body)
    assert body["code"] == "invalid_api_key"
    return body


def assert_insufficient_scope(response) -> None:
    assert response.status_code == 403, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "insufficient_scope"


def get_with(api, authorization: str | None):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    return api.client.get(CREDENTIALS, **headers)


@pytest.fixture
def key_row(api) -> ApiKey:
    return ApiKey.objects.get(tenant=api.tenant)


@pytest.fixture
def cached(api):
    """The key has been used once, so it now sits in the shared cache."""
    assert api.get(CREDENTIALS).status_code == 200
    return api


# --- who may call --------------------------------------------------------------------------


def test_request_without_authorization_header_is_invalid_api_key(api):
    assert_invalid_api_key(get_with(api, None))


@pytest.mark.parametrize("authorization", ["", "Bearer", "Bearer ", "Bearer    ", "Basic YWxpY2U6c2VjcmV0"])
def test_request_without_a_bearer_key_is_invalid_api_key(api, authorization):
    assert_invalid_api_key(get_with(api, authorization))


@pytest.mark.parametrize("scheme", ["Token", "Basic", ""])
def test_valid_key_under_another_scheme_is_invalid_api_key(api, scheme):
    assert_invalid_api_key(get_with(api, f"{scheme} {api.key}".strip()))


@pytest.mark.parametrize("secret", ["nope", "psk_000000000000_" + "A" * 43, "psk_", "_" * 40, "x" * 5000])
def test_unknown_key_is_invalid_api_key(api, secret):
    assert_invalid_api_key(get_with(api, f"Bearer {secret}"))


def test_key_with_valid_prefix_but_wrong_secret_is_invalid_api_key(api, key_row):
    wrong = f"{key_row.prefix}_{'A' * 43}"
    assert wrong != api.key
    assert_invalid_api_key(get_with(api, f"Bearer {wrong}"))


def test_key_with_wrong_secret_is_refused_even_when_the_real_key_is_cached(cached):
    last = "B" if cached.key[-1] != "B" else "C"
    assert_invalid_api_key(get_with(cached, f"Bearer {cached.key[:-1]}{last}"))


def test_revoked_key_is_invalid_api_key(api, key_row, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(api_key=key_row)
    assert_invalid_api_key(api.get(CREDENTIALS))


def test_expired_key_is_invalid_api_key(api, tenant):
    issued = api_key_issue(tenant=tenant, expires_at=timezone.now() - timedelta(seconds=1))
    assert_invalid_api_key(get_with(api, f"Bearer {issued.secret}"))


def test_key_not_yet_expired_is_accepted(api, tenant):
    issued = api_key_issue(tenant=tenant, expires_at=timezone.now() + timedelta(hours=1))
    assert get_with(api, f"Bearer {issued.secret}").status_code == 200


def test_every_refusal_looks_the_same(api, key_row, tenant, django_capture_on_commit_callbacks):
    """Unknown, wrong-secret, expired and revoked keys are indistinguishable to the caller."""
    expired = api_key_issue(tenant=tenant, expires_at=timezone.now() - timedelta(seconds=1)).secret
    bodies = [
        assert_invalid_api_key(get_with(api, None)),
        assert_invalid_api_key(get_with(api, "Bearer nope")),
        assert_invalid_api_key(get_with(api, f"Bearer {key_row.prefix}_{'A' * 43}")),
        assert_invalid_api_key(get_with(api, f"Bearer {expired}")),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(api_key=key_row)
    bodies.append(assert_invalid_api_key(api.get(CREDENTIALS)))
    assert all(body == bodies[0] for body in bodies), bodies


# --- cached keys follow changes at once ----------------------------------------------------


def test_revocation_takes_effect_immediately_although_the_key_was_cached(
    cached, key_row, django_capture_on_commit_callbacks
):
    # The cache is dropped on commit; the test transaction never commits, so run those callbacks.
    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(api_key=key_row)
    assert_invalid_api_key(cached.get(CREDENTIALS))


def test_revocation_by_saving_the_row_takes_effect_immediately(cached, key_row):
    key_row.revoked_at = timezone.now()  # what the admin does
    key_row.save()
    assert_invalid_api_key(cached.get(CREDENTIALS))


def test_deleted_key_is_refused_immediately_although_it_was_cached(cached, key_row):
    key_row.delete()
    assert_invalid_api_key(cached.get(CREDENTIALS))


def test_cached_key_expires_on_time(api, tenant, monkeypatch):
    issued = api_key_issue(tenant=tenant, expires_at=timezone.now() + timedelta(minutes=1))
    assert get_with(api, f"Bearer {issued.secret}").status_code == 200  # now cached
    later = timezone.now() + timedelta(minutes=2)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    assert_invalid_api_key(get_with(api, f"Bearer {issued.secret}"))


def test_tenant_edit_takes_effect_on_the_next_request_although_the_key_was_cached(api, authenticator, tenant):
    login_origin = "https://login.example.com"
    refused = api.register(authenticator, origin=login_origin)  # also puts the key and tenant in the cache
    assert refused.status_code == 400 and refused.json()["code"] == "origin_not_allowed"
    tenant.origins = [*tenant.origins, login_origin]
    tenant.save()
    accepted = api.register(authenticator, origin=login_origin)
    assert accepted.status_code == 201, accepted.content


# --- scopes --------------------------------------------------------------------------------


@pytest.fixture
def reader(make_api, tenant, api, authenticator):
    """A credentials:read key of a tenant where alice has a passkey."""
    assert api.register(authenticator).status_code == 201
    return make_api(tenant, scopes=["credentials:read"])


def test_read_only_key_cannot_start_a_registration(reader):
    users = PasskeyUser.objects.count()
    assert_insufficient_scope(reader.post("/v1/registrations/start", {"user_id": "bob", "username": "bob"}))
    assert PasskeyUser.objects.count() == users


def test_read_only_key_cannot_delete_a_user(reader):
    assert_insufficient_scope(reader.delete("/v1/users/alice"))
    assert Credential.objects.filter(user__user_id="alice").count() == 1


def test_read_only_key_cannot_rename_or_delete_a_credential(reader):
    credential_id = reader.get(CREDENTIALS).json()["credentials"][0]["id"]
    assert_insufficient_scope(reader.patch(f"/v1/credentials/{credential_id}", {"name": "mine now"}))
    assert_insufficient_scope(reader.delete(f"/v1/credentials/{credential_id}"))
    assert Credential.objects.values_list("name", flat=True).get() != "mine now"


def test_read_only_key_can_list_credentials(reader):
    response = reader.get(CREDENTIALS)
    assert response.status_code == 200
    assert len(response.json()["credentials"]) == 1


def test_key_made_without_scope_list_has_every_scope(api, authenticator, key_row):
    assert set(key_row.scopes) == set(ApiKey.SCOPES)
    assert api.register(authenticator).status_code == 201  # ceremonies
    credential_id = api.get(CREDENTIALS).json()["credentials"][0]["id"]  # credentials:read
    assert api.patch(f"/v1/credentials/{credential_id}", {"name": "Laptop"}).status_code == 200  # credentials:write
    assert api.delete("/v1/users/alice").status_code == 204  # users:delete


# --- what is stored ------------------------------------------------------------------------


def test_request_records_last_used_at(api, key_row):
    assert key_row.last_used_at is None
    before = timezone.now()
    assert api.get(CREDENTIALS).status_code == 200
    key_row.refresh_from_db()
    assert key_row.last_used_at is not None and before <= key_row.last_used_at <= timezone.now()


def test_key_row_stores_only_the_sha256_of_the_secret(api, key_row):
    assert key_row.key_hash == hashlib.sha256(api.key.encode()).hexdigest()
    secret_part = api.key.removeprefix(f"{key_row.prefix}_")
    row = ApiKey.objects.filter(pk=key_row.pk).values().get()
    for column, value in row.items():
        assert api.key not in str(value), column
        assert secret_part not in str(value), column


def test_warm_key_check_costs_no_query(api, django_assert_num_queries, settings):
    if not settings.REDIS_URL:
        pytest.skip("without Redis every process reads keys from the database, so revocation is immediate")
    assert api.get("/v1/users/u/credentials").status_code == 200  # cold: key lookup, last_used_at update, list
    # Warm: the key and its tenant come from the shared Redis cache and last_used_at was written
    # less than a minute ago (api_key_touch), so the only query is the credential list itself.
    with django_assert_num_queries(1):
        assert api.get("/v1/users/u/credentials").status_code == 200
