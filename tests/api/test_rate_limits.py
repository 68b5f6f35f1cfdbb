"""Rate limits: per API key and per (tenant, user) on the ceremonies, per client IP on the JWKS and the
login forms; counted where every service process sees them (Redis, else the database)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from api.throttling import _user_digest
from core.models import RateLimitCounter
from core.ratelimit import KEY_PREFIX, WINDOW_SECONDS, rate_limit_hit
from tenants.models import ApiKey
from tests.support.api import PasskeyApi, assert_problem

ROOT = Path(__file__).resolve().parents[2]
START = "/v1/registrations/start"
UNUSED_REDIS_URL = "redis://127.0.0.1:6390/0"


def start(api: PasskeyApi, user_id: str = "alice"):
    return api.post(START, {"user_id": user_id, "username": f"{user_id}@example.com"})


def assert_rate_limited(response) -> int:
    """429 rate_limited as problem+json with a Retry-After within the window; returns Retry-After."""
    assert_problem(response, 429, "rate_limited")
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= WINDOW_SECONDS
    return retry_after


@pytest.fixture
def store() -> redis.Redis:
    """A connection of its own to the Redis the service uses: what another process would see."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


def key_id(api: PasskeyApi) -> int:
    return ApiKey.objects.filter(tenant=api.tenant).order_by("-pk").values_list("pk", flat=True)[0]


@pytest.fixture
def limited(make_tenant, make_api):
    """A tenant allowing 3 ceremony requests per minute per user and 5 per key."""
    return make_api(make_tenant(rate_limit_per_user=3, rate_limit_per_key=5))


# --- per (tenant, user) ----------------------------------------------------------------------


def test_starts_under_the_per_user_limit_are_answered(limited):
    for _ in range(3):
        assert start(limited).status_code == 200


def test_start_over_the_per_user_limit_is_429_with_retry_after(limited):
    for _ in range(3):
        assert start(limited).status_code == 200
    assert_rate_limited(start(limited))


def test_per_user_limit_is_independent_across_users(limited):
    for _ in range(3):
        start(limited, "alice")
    assert_rate_limited(start(limited, "alice"))
    assert start(limited, "bob").status_code == 200


def test_per_user_limit_is_independent_across_tenants(make_tenant, make_api):
    first = make_api(make_tenant(name="A", rate_limit_per_user=2))
    second = make_api(make_tenant(name="B", rate_limit_per_user=2))
    for _ in range(2):
        start(first, "alice")
    assert_rate_limited(start(first, "alice"))
    assert start(second, "alice").status_code == 200


def test_every_request_naming_the_user_shares_one_bucket(limited):
    assert start(limited).status_code == 200
    assert limited.post("/v1/authentications/start", {"user_id": "alice"}).status_code == 200
    assert limited.post("/v1/sign-ins", {"user_id": "alice", "method": "password"}).status_code == 201
    assert_rate_limited(limited.post("/v1/sign-ins", {"user_id": "alice", "method": "password"}))


def test_finish_is_not_counted_against_the_user(make_tenant, make_api, authenticator):
    """The finish names no verified user; the start it needs was counted."""
    api = make_api(make_tenant(rate_limit_per_user=1))
    assert api.register(authenticator).status_code == 201
    assert_rate_limited(start(api))


def test_discoverable_login_start_counts_only_per_key(make_tenant, make_api):
    api = make_api(make_tenant(rate_limit_per_user=1, rate_limit_per_key=3))
    for _ in range(3):
        assert api.post("/v1/authentications/start", {}).status_code == 200
    assert_rate_limited(api.post("/v1/authentications/start", {}))


# --- per API key -----------------------------------------------------------------------------


def test_per_key_limit_counts_every_ceremony_request_of_the_key(limited):
    for user in ["u1", "u2", "u3", "u4", "u5"]:
        assert start(limited, user).status_code == 200
    assert_rate_limited(start(limited, "u6"))
    assert_rate_limited(limited.post("/v1/authentications/finish", {"credential": {}}))


def test_per_key_limit_is_independent_across_keys_of_one_tenant(limited, make_api):
    other_key = make_api(limited.tenant)
    for user in ["u1", "u2", "u3", "u4", "u5"]:
        start(limited, user)
    assert_rate_limited(start(limited, "u6"))
    assert start(other_key, "u6").status_code == 200


def test_endpoints_outside_the_ceremonies_are_not_limited(limited):
    for user in ["u1", "u2", "u3", "u4", "u5"]:
        start(limited, user)
    assert limited.get("/v1/users/u1/credentials").status_code == 200


def test_unauthenticated_request_is_401_not_counted(limited, store):
    anonymous = APIClient().post(START, {"user_id": "alice", "username": "a"}, format="json")
    assert_problem(anonymous, 401, "invalid_api_key")
    assert not store.keys(KEY_PREFIX + "*")


# --- configured per tenant -------------------------------------------------------------------


def test_tenant_limit_change_applies_to_the_next_request(make_tenant, make_api):
    tenant = make_tenant(rate_limit_per_user=1)
    api = make_api(tenant)
    assert start(api).status_code == 200
    assert_rate_limited(start(api))
    tenant.rate_limit_per_user = 3  # e.g. in the admin; the cached key embeds the tenant and is dropped
    tenant.save()
    assert start(api).status_code == 200


def test_limit_of_zero_turns_the_limit_off(make_tenant, make_api):
    api = make_api(make_tenant(rate_limit_per_user=0, rate_limit_per_key=0))
    for _ in range(40):
        assert start(api).status_code == 200


# --- shared by every process -----------------------------------------------------------------


def test_two_clients_share_one_count_held_in_redis(limited, store):
    """Two clients as two web processes would be: the count is in Redis, where a third connection reads it."""
    other = PasskeyApi(APIClient(), limited.key, limited.tenant)
    assert start(limited, "u1").status_code == 200
    assert start(other, "u2").status_code == 200
    assert start(limited, "u3").status_code == 200
    assert int(store.get(f"{KEY_PREFIX}key:{key_id(limited)}")) == 3
    assert start(other, "u4").status_code == 200
    assert start(limited, "u5").status_code == 200
    assert_rate_limited(start(other, "u6"))


def test_requests_counted_by_another_os_process_count_here(limited):
    script = (
        "import django; django.setup()\n"
        "from core.ratelimit import rate_limit_hit\n"
        f"for _ in range(5): rate_limit_hit(bucket='key:{key_id(limited)}', limit=5)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "passkey_service.settings", "REDIS_URL": settings.REDIS_URL}
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=60)  # noqa: S603
    assert_rate_limited(start(limited))


def test_retry_after_is_the_time_left_in_the_window_and_then_requests_pass(limited, store):
    for user in ["u1", "u2", "u3", "u4", "u5"]:
        start(limited, user)
    key = f"{KEY_PREFIX}key:{key_id(limited)}"
    retry_after = assert_rate_limited(start(limited, "u6"))
    assert store.ttl(key) <= retry_after <= store.ttl(key) + 1  # Redis's clock may tick in between
    store.pexpire(key, 50)  # fast-forward to the end of the window
    time.sleep(0.1)
    assert start(limited, "u7").status_code == 200


def test_concurrent_hits_allow_exactly_the_limit():
    allowed: list[bool] = []
    barrier = threading.Barrier(40)

    def hit() -> None:
        barrier.wait()
        allowed.append(rate_limit_hit(bucket="concurrency", limit=15).allowed)

    threads = [threading.Thread(target=hit) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 15


def test_over_limit_answer_costs_no_database_query(limited, django_assert_num_queries):
    for user in ["u1", "u2", "u3", "u4", "u5"]:
        start(limited, user)  # also warms the key cache and last_used_at
    with django_assert_num_queries(0):
        assert_rate_limited(start(limited, "u6"))


# --- without Redis: the database -------------------------------------------------------------


@pytest.fixture
def without_redis(settings, store):
    settings.REDIS_URL = ""  # counters (and challenges, keys) go to the database


def test_without_redis_two_clients_share_one_count_in_the_database(limited, without_redis, store):
    other = PasskeyApi(APIClient(), limited.key, limited.tenant)
    assert start(limited).status_code == 200
    assert start(other).status_code == 200
    assert start(limited).status_code == 200
    bucket = f"{KEY_PREFIX}user:{limited.tenant.pk}:{_user_digest('alice')}"
    assert RateLimitCounter.objects.get(key=bucket).count == 3
    assert_rate_limited(start(other))
    assert not store.keys(KEY_PREFIX + "*")


def test_without_redis_a_passed_window_starts_over(limited, without_redis):
    for _ in range(3):
        start(limited)
    assert_rate_limited(start(limited))
    RateLimitCounter.objects.update(window_ends_at=time.time() - 1)
    assert start(limited).status_code == 200
    assert RateLimitCounter.objects.get(key__contains=":user:").count == 1


@pytest.mark.django_db(transaction=True)
def test_without_redis_concurrent_hits_allow_exactly_the_limit(without_redis):
    allowed: list[bool] = []
    barrier = threading.Barrier(20)

    def hit() -> None:
        try:
            barrier.wait()
            allowed.append(rate_limit_hit(bucket="concurrency", limit=7).allowed)
        finally:
            connection.close()

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 7


# --- per client IP: JWKS -------------------------------------------------------------------


def jwks(tenant, client: Client | None = None, **headers):
    return (client or Client()).get(f"/v1/tenants/{tenant.pk}/jwks.json", **headers)


def test_jwks_over_the_per_ip_limit_is_429_with_retry_after(tenant, settings):
    settings.RATE_LIMIT_JWKS_PER_IP = 2
    assert jwks(tenant).status_code == 200
    assert jwks(tenant).status_code == 200
    assert_rate_limited(jwks(tenant))


def test_jwks_limit_is_per_client_ip(tenant, settings):
    settings.RATE_LIMIT_JWKS_PER_IP = 1
    assert jwks(tenant, REMOTE_ADDR="192.0.2.1").status_code == 200
    assert_rate_limited(jwks(tenant, REMOTE_ADDR="192.0.2.1"))
    assert jwks(tenant, REMOTE_ADDR="192.0.2.2").status_code == 200


def test_jwks_limit_ignores_x_forwarded_for_unless_a_proxy_is_trusted(tenant, settings):
    settings.RATE_LIMIT_JWKS_PER_IP = 1
    assert jwks(tenant, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 200
    assert_rate_limited(jwks(tenant, HTTP_X_FORWARDED_FOR="198.51.100.2"))


def test_behind_a_trusted_proxy_the_client_is_the_address_it_appended(tenant, settings):
    settings.RATE_LIMIT_JWKS_PER_IP = 1
    settings.TRUSTED_PROXY_COUNT = 1
    assert jwks(tenant, HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1").status_code == 200
    # The left part is the client's own claim: forging it does not make a new client.
    assert_rate_limited(jwks(tenant, HTTP_X_FORWARDED_FOR="203.0.113.10, 198.51.100.1"))
    assert jwks(tenant, HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.2").status_code == 200


def test_ipv6_clients_are_counted_per_64_network(tenant, settings):
    settings.RATE_LIMIT_JWKS_PER_IP = 1
    assert jwks(tenant, REMOTE_ADDR="2001:db8:1:2::1").status_code == 200
    assert_rate_limited(jwks(tenant, REMOTE_ADDR="2001:db8:1:2::ffff"))
    assert jwks(tenant, REMOTE_ADDR="2001:db8:1:3::1").status_code == 200


def test_jwks_is_served_while_the_limiter_is_unreachable(tenant, settings):
    """Failing open: relying parties keep verifying tokens when Redis is down."""
    settings.RATE_LIMIT_JWKS_PER_IP = 1
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": UNUSED_REDIS_URL}}
    for _ in range(3):
        assert jwks(tenant).status_code == 200


# --- per client IP: login forms ------------------------------------------------------------


def login(path: str, client: Client | None = None, **headers):
    return (client or Client()).post(path, {"username": "admin", "password": "guess"}, **headers)


@pytest.mark.parametrize("path", ["/admin/login/", "/accounts/login/"])
def test_login_posts_over_the_per_ip_limit_are_429_with_retry_after(db, settings, path):
    settings.RATE_LIMIT_LOGIN_PER_IP = 2
    assert login(path).status_code == 200  # the form again, with an error
    assert login(path).status_code == 200
    assert_rate_limited(login(path))


def test_admin_and_accounts_login_share_the_per_ip_bucket(db, settings):
    settings.RATE_LIMIT_LOGIN_PER_IP = 2
    login("/admin/login/")
    login("/accounts/login/")
    assert_rate_limited(login("/admin/login/"))
    assert login("/admin/login/", REMOTE_ADDR="192.0.2.7").status_code == 200


def test_login_page_gets_are_not_counted(db, settings):
    settings.RATE_LIMIT_LOGIN_PER_IP = 1
    for _ in range(3):
        assert Client().get("/admin/login/").status_code == 200
    assert login("/admin/login/").status_code == 200


def test_login_guesses_without_a_csrf_token_count_too(db, settings):
    settings.RATE_LIMIT_LOGIN_PER_IP = 2
    client = Client(enforce_csrf_checks=True)
    assert login("/admin/login/", client).status_code == 403
    assert login("/admin/login/", client).status_code == 403
    assert_rate_limited(login("/admin/login/", client))
