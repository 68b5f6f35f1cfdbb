"""Hostile review of the login hot path made fast: the API key read and the rate-limit counts in one Redis round
trip, the login statements written once per process, the short middleware chain for the API, the per-process webhook
subscriptions. Each test states a rule a hostile browser, tenant admin or API caller would try to break."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import Resolver404, resolve
from rest_framework.test import APIClient

from analytics.models import Event, EventType
from api.throttling import _user_digest
from core import statements
from core.middleware import API_PATH_PREFIXES
from core.ratelimit import KEY_PREFIX, WINDOW_SECONDS
from passkeys.models import Credential, PasskeyUser
from passkeys.selectors import LOGIN_CREDENTIAL_FIELDS, LOGIN_OWNER_FIELDS, credential_for_login
from tenants import caching as tenant_caching
from tenants.models import ApiKey
from tenants.services import api_key_hash, api_key_revoke
from tests.support.api import PasskeyApi, assert_problem
from webhooks import caching as webhook_caching
from webhooks.models import Delivery
from webhooks.selectors import endpoint_subscriptions
from webhooks.services import endpoint_create, events_publish

START = "/v1/registrations/start"


@pytest.fixture
def store() -> redis.Redis:
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


def _start(api: PasskeyApi, user_id: str = "alice"):
    return api.post(START, {"user_id": user_id, "username": f"{user_id}@example.com"})


def _rate_limited(response) -> None:
    assert_problem(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= WINDOW_SECONDS


def _key(api: PasskeyApi) -> ApiKey:
    return ApiKey.objects.filter(tenant=api.tenant).order_by("-pk").first()


def _forget_key_owners(monkeypatch) -> None:
    """Every request is this process's first with its key: the buckets are only known once the key is checked."""
    monkeypatch.setattr(tenant_caching, "_key_owners", {})
    monkeypatch.setattr(tenant_caching, "key_owner_remember", lambda prefix, key_id, tenant_id: None)


def _forged(api: PasskeyApi) -> PasskeyApi:
    """A caller who knows the victim key's prefix (shown in the admin and the logs) but not its secret."""
    return PasskeyApi(APIClient(), f"{_key(api).prefix}_not-the-secret", api.tenant)


# --- API key and rate-limit counts in one round trip ------------------------------------------------------------


def test_forged_secret_with_a_victims_prefix_does_not_use_up_the_victims_budget(make_tenant, make_api, store):
    victim = make_api(make_tenant(rate_limit_per_key=3, rate_limit_per_user=3))
    assert _start(victim).status_code == 200  # this process now knows the prefix's owner
    attacker = _forged(victim)
    for _ in range(10):
        assert_problem(_start(attacker), 401, "invalid_api_key")
    assert store.get(f"{KEY_PREFIX}key:{_key(victim).pk}") == b"1"
    assert _start(victim, "bob").status_code == 200
    assert _start(victim).status_code == 200


def test_forged_secret_does_not_count_against_the_victim_tenants_users(make_tenant, make_api):
    victim = make_api(make_tenant(rate_limit_per_user=2, rate_limit_per_key=0))
    assert _start(victim, "alice").status_code == 200
    attacker = _forged(victim)
    for _ in range(5):
        assert_problem(_start(attacker, "alice"), 401, "invalid_api_key")
    assert _start(victim, "alice").status_code == 200
    _rate_limited(_start(victim, "alice"))


def test_revoked_key_counts_in_no_bucket(make_tenant, make_api, store, django_capture_on_commit_callbacks):
    api = make_api(make_tenant(rate_limit_per_key=3))
    assert _start(api).status_code == 200  # cached, owner remembered
    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(api_key=_key(api))  # its cache entry becomes a tombstone
    for _ in range(5):
        assert_problem(_start(api), 401, "invalid_api_key")
    assert store.get(f"{KEY_PREFIX}key:{_key(api).pk}") == b"1"


@pytest.fixture(params=["warm", "owner_unknown", "entry_expired"])
def limited(request, make_tenant, make_api, monkeypatch):
    """3 requests per user and 5 per key, on each path a request can take: the key cached and its owner known (counts
    ride on the key's read), a process that has not seen the key yet, a cache entry expired (the database proves the
    key, then the throttles count)."""
    api = make_api(make_tenant(rate_limit_per_user=3, rate_limit_per_key=5))
    if request.param == "owner_unknown":
        _forget_key_owners(monkeypatch)
    if request.param == "entry_expired":
        post = api.post

        def post_after_expiry(path, body):
            cache.delete(f"apikey:{api_key_hash(api.key)}")
            return post(path, body)

        monkeypatch.setattr(api, "post", post_after_expiry)
    return api


def test_per_user_and_per_key_limits_count_each_request_once_and_refuse_the_next(limited, store):
    for _ in range(3):
        assert _start(limited, "alice").status_code == 200
    _rate_limited(_start(limited, "alice"))
    user_bucket = f"{KEY_PREFIX}user:{limited.tenant.pk}:{_user_digest('alice')}"
    assert store.get(user_bucket) == b"4"  # refused requests count too, and nothing twice
    assert _start(limited, "bob").status_code == 200
    assert store.get(f"{KEY_PREFIX}key:{_key(limited).pk}") == b"5"
    _rate_limited(_start(limited, "carol"))


def test_limits_of_zero_are_off_on_every_path(limited):
    limited.tenant.rate_limit_per_user = limited.tenant.rate_limit_per_key = 0
    limited.tenant.save()
    for _ in range(12):
        assert _start(limited, "alice").status_code == 200


def test_a_key_counts_only_in_its_own_tenants_buckets(make_tenant, make_api):
    a = make_api(make_tenant(name="A", rate_limit_per_user=2, rate_limit_per_key=2))
    b = make_api(make_tenant(name="B", rate_limit_per_user=2, rate_limit_per_key=2))
    for _ in range(2):
        assert _start(a, "alice").status_code == 200
    _rate_limited(_start(a, "alice"))
    assert _start(b, "alice").status_code == 200
    assert _start(b, "alice").status_code == 200
    _rate_limited(_start(b, "alice"))


@pytest.mark.parametrize("known_owner", [True, False])
def test_malformed_json_is_a_400_problem_never_an_empty_body(api, known_owner, monkeypatch):
    """A discoverable login start with {} would succeed: a body that does not parse must not become {}."""
    if known_owner:
        assert api.post("/v1/authentications/start", {}).status_code == 200
    else:
        _forget_key_owners(monkeypatch)
    response = api.client.post(
        "/v1/authentications/start", b'{"user_id": ', content_type="application/json", **api._auth()
    )
    assert_problem(response, 400, "validation_error")
    assert "JSON" in response.json()["detail"]


def test_a_forged_key_with_a_malformed_body_is_a_401_as_without_one(api):
    """The key is checked before the body's parse error is answered, even when naming a bucket parsed the body."""
    assert api.post("/v1/authentications/start", {"user_id": "alice"}).status_code == 200  # the owner is known
    forged = _forged(api)
    response = forged.client.post(
        "/v1/authentications/start", b'{"user_id": ', content_type="application/json", **forged._auth()
    )
    assert_problem(response, 401, "invalid_api_key")


# --- statements written once per process -----------------------------------------------------------------------


def _same(left, right) -> None:
    """Equal and of one type: a memoryview where the ORM gives bytes, or a str where it gives a UUID, breaks callers
    that compare or hash."""
    assert (type(left), left) == (type(right), right)


def test_login_credential_reads_exactly_what_the_orm_reads(api, authenticator):
    assert api.register(authenticator, "alice", finish={"name": "Laptop"}).status_code == 201
    orm = Credential.objects.select_related("user").get(tenant=api.tenant)
    Credential.objects.filter(pk=orm.pk).update(sign_count=2**32 - 1, authenticator_status="REVOKED")
    orm = Credential.objects.select_related("user").get(tenant=api.tenant)

    fast = credential_for_login(tenant=api.tenant, credential_id=bytes(orm.credential_id))

    for field in Credential._meta.concrete_fields:
        if field.name in LOGIN_CREDENTIAL_FIELDS:
            _same(getattr(fast, field.attname), getattr(orm, field.attname))
    for field in PasskeyUser._meta.concrete_fields:
        if field.name in LOGIN_OWNER_FIELDS:
            _same(getattr(fast.user, field.attname), getattr(orm.user, field.attname))
    assert fast.user_id == fast.user.pk  # the owner is the credential's own, not a row of the join's other side


def test_login_credential_is_found_only_in_its_own_tenant(make_tenant, make_api, authenticator):
    """One authenticator's credential id registered with two relying parties: each login sees its own row."""
    a, b = make_api(make_tenant(name="A")), make_api(make_tenant(name="B"))
    assert a.register(authenticator, "alice").status_code == 201
    in_a = Credential.objects.select_related("user").get(tenant=a.tenant)
    owner_b = PasskeyUser.objects.create(tenant=b.tenant, user_id="bob", handle=b"\x01" * 32)
    in_b = Credential.objects.get(pk=in_a.pk)
    in_b.pk, in_b.tenant, in_b.user, in_b.sign_count = None, b.tenant, owner_b, 41
    in_b.save()

    seen_a = credential_for_login(tenant=a.tenant, credential_id=bytes(in_a.credential_id))
    seen_b = credential_for_login(tenant=b.tenant, credential_id=bytes(in_a.credential_id))

    assert (seen_a.pk, seen_a.tenant_id, seen_a.user.user_id, seen_a.sign_count) == (
        in_a.pk, a.tenant.pk, "alice", in_a.sign_count
    )  # fmt: skip
    assert (seen_b.pk, seen_b.tenant_id, seen_b.user.user_id, seen_b.sign_count) == (in_b.pk, b.tenant.pk, "bob", 41)
    assert credential_for_login(tenant=make_tenant(name="C"), credential_id=bytes(in_a.credential_id)) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"capabilities": {"conditionalGet": True, "hybridTransport": False}, "credential_id": None,
         "nudge_id": uuid.uuid4(), "duration_ms": 1234, "outcome": "cancelled"},
        {"capabilities": None, "credential_id": b"\x00\xff" * 8, "nudge_id": None, "duration_ms": None},
        {"capabilities": {}, "credential_id": b"", "user_id": "ユーザー/\u00e9"},
    ],
    ids=["json-and-uuid", "nulls-and-bytes", "empty-json-and-unicode"],
)  # fmt: skip
def test_event_row_insert_writes_what_the_orm_writes(tenant, fields):
    paris = datetime(2026, 3, 29, 2, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Paris"))  # the DST gap's edge
    values = {"tenant": tenant, "type": EventType.AUTHENTICATION_CLIENT_OUTCOME, "occurred_at": paris, **fields}

    fast = statements.row_insert(Event(**values))
    orm = Event.objects.create(**values)

    assert fast.pk is not None and fast.pk != orm.pk
    read_fast, read_orm = Event.objects.get(pk=fast.pk), Event.objects.get(pk=orm.pk)
    for field in Event._meta.concrete_fields:
        if not field.primary_key:
            _same(getattr(read_fast, field.attname), getattr(read_orm, field.attname))
    # SQL NULL, not JSON null, as the ORM stores None: metrics filter on capabilities IS NULL.
    null = fields["capabilities"] is None
    assert Event.objects.filter(pk__in=[fast.pk, orm.pk], capabilities__isnull=True).count() == (2 if null else 0)


# --- two middleware chains -------------------------------------------------------------------------------------


@pytest.fixture
def analyst(db):
    return get_user_model().objects.create_user("analyst", password="correct horse battery")  # noqa: S106


def test_dashboard_session_login_works_through_the_site_chain_with_csrf_enforced(analyst):
    browser = Client(enforce_csrf_checks=True)
    token = browser.get("/accounts/login/").cookies["csrftoken"].value
    signed_in = browser.post(
        "/accounts/login/",
        {"username": "analyst", "password": "correct horse battery", "csrfmiddlewaretoken": token},
    )
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/dashboard/")
    assert "sessionid" in signed_in.cookies
    page = browser.get("/dashboard/")
    assert page.status_code == 200 and page.wsgi_request.user == analyst


@pytest.mark.parametrize(
    "path",
    ["/accounts/logout/", "/admin/logout/", "/admin/tenants/tenant/add/", "/demo/signout/",
     "/demo/api/registrations/start", "/demo/api/authentications/start"],
)  # fmt: skip
def test_signed_in_page_posts_without_a_csrf_token_are_refused(analyst, path):
    if path.startswith("/demo/") and not settings.DEMO_ENABLED:
        pytest.skip("the demo is off")
    analyst.is_staff = analyst.is_superuser = True
    analyst.save()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(analyst)
    response = browser.post(path, {}, content_type="application/json")
    assert response.status_code == 403 and b"CSRF" in response.content


@pytest.mark.parametrize(
    "path",
    ["/v1", "//v1/authentications/start", "/V1/authentications/start", "/v1/../admin/login/",
     "/v1/%2e%2e/admin/login/", "/v1%2f../admin/login/", "/healthz/../admin/login/", "/metrics/../accounts/login/",
     "/healthzadmin/login/", "/v1/users/../../admin/login/", "/accounts/login/", "/admin/login/"],
)  # fmt: skip
def test_no_path_trick_reaches_a_page_without_its_middleware(db, analyst, path):
    """Whichever chain a path takes, it resolves to what that chain serves: a path the short chain takes resolves to
    an API view or to nothing, so no page answers without sessions and CSRF."""
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(path, {"username": "analyst", "password": "correct horse battery"})
    assert response.status_code in (301, 401, 403, 404, 405), response.status_code
    assert "sessionid" not in response.cookies
    short_chain = response.wsgi_request.path_info.startswith(API_PATH_PREFIXES)
    try:
        match = resolve(response.wsgi_request.path_info)
    except Resolver404:
        return
    assert not short_chain or match.func.__module__.startswith(("api.", "drf_spectacular.")), match


def test_api_answers_carry_the_security_headers_and_no_page_headers(api):
    for response in (api.post("/v1/authentications/start", {}), Client().get("/healthz"), Client().get("/v1/nope")):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        assert not response.cookies and "X-Frame-Options" not in response and "Cookie" not in response.get("Vary", "")


# --- webhook subscriptions held per process --------------------------------------------------------------------


def test_an_endpoint_change_reaches_its_tenant_at_once_and_no_other(make_tenant, django_capture_on_commit_callbacks):
    a, b = make_tenant(name="A"), make_tenant(name="B")
    only_b = endpoint_create(tenant=b, url="http://127.0.0.1:9/b", event_types=["passkey.deleted"]).endpoint
    assert endpoint_subscriptions(tenant_id=a.pk) == []
    assert endpoint_subscriptions(tenant_id=b.pk) == [(str(only_b.pk), ["passkey.deleted"])]  # both held now

    with django_capture_on_commit_callbacks(execute=True):
        added = endpoint_create(tenant=a, url="http://127.0.0.1:9/a", event_types=["passkey.deleted"]).endpoint

    assert endpoint_subscriptions(tenant_id=a.pk) == [(str(added.pk), ["passkey.deleted"])]
    assert endpoint_subscriptions(tenant_id=b.pk) == [(str(only_b.pk), ["passkey.deleted"])]
    [delivery] = Delivery.objects.filter(pk__in=events_publish(tenant_id=b.pk, events=[("passkey.deleted", {})]))
    assert delivery.endpoint_id == only_b.pk


def test_subscriptions_held_per_process_stay_bounded(make_tenant, monkeypatch):
    monkeypatch.setattr(webhook_caching, "_in_process", {})
    monkeypatch.setattr(webhook_caching, "PROCESS_MAX_TENANTS", 3)
    for index in range(10):
        endpoint_subscriptions(tenant_id=make_tenant(name=f"T{index}").pk)
        assert len(webhook_caching._in_process) <= 3


def test_row_insert_fills_in_what_fields_fill_in_on_save_as_the_orm_does(tenant):
    """auto_now_add (and any field's pre_save) is applied, so a model with a creation stamp can use row_insert."""
    fast = statements.row_insert(PasskeyUser(tenant=tenant, user_id="alice", handle=b"\x02" * 32))
    orm = PasskeyUser.objects.create(tenant=tenant, user_id="bob", handle=b"\x03" * 32)
    read_fast, read_orm = PasskeyUser.objects.get(pk=fast.pk), PasskeyUser.objects.get(pk=orm.pk)
    assert read_fast.created_at is not None and read_fast.created_at == fast.created_at
    assert abs(read_fast.created_at - read_orm.created_at) < timedelta(seconds=5)
