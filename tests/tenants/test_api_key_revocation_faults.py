"""A revoked key stops working within seconds even when Redis refuses the write that invalidates its
cached entry. Redis is a private server (a free port), made to refuse writes while it still serves
reads (maxmemory 1 with noeviction), so the stale entry survives the failed invalidation."""

from __future__ import annotations

import time

import pytest
import redis
from rest_framework.test import APIClient

from tenants import caching
from tenants.models import ApiKey
from tenants.services import api_key_issue, api_key_revoke, tenant_create
from tests.support.servers import RedisServer


@pytest.fixture
def private_redis(settings):
    server = RedisServer()
    server.start()
    try:
        settings.REDIS_URL = server.url
        settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": server.url}}
        yield redis.Redis.from_url(server.url)
    finally:
        server.stop()


@pytest.fixture
def issued(transactional_db):
    tenant = tenant_create(name="Example", rp_id="example.com", origins=["https://example.com"])
    return api_key_issue(tenant=tenant)


def _status(secret: str) -> int:
    return APIClient().get("/v1/users/alice/credentials", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code


def _cached_entries(client: redis.Redis) -> list[bytes]:
    return client.keys("*apikey:*")


def test_revocation_takes_effect_within_seconds_when_the_invalidation_write_fails(private_redis, issued):
    assert _status(issued.secret) == 200
    assert _cached_entries(private_redis)
    private_redis.config_set("maxmemory-policy", "noeviction")
    private_redis.config_set("maxmemory", 1)  # every write is refused from now on; reads still answer

    api_key_revoke(api_key=ApiKey.objects.get(pk=issued.api_key.pk))  # must not raise

    assert ApiKey.objects.get(pk=issued.api_key.pk).revoked_at is not None
    assert _status(issued.secret) == 200, "the stale entry survived: the scenario this test is about"
    private_redis.config_set("maxmemory", 0)  # Redis recovers, the stale entry is still there
    recovered = time.monotonic()
    while _status(issued.secret) != 401:
        assert time.monotonic() - recovered < 2, "the revoked key still works 2 s after Redis recovered"
        time.sleep(0.05)


def test_cached_keys_live_only_seconds(private_redis, issued):
    """If the process that failed to invalidate dies before its retries succeed, the entry expires by itself."""
    assert _status(issued.secret) == 200
    (entry,) = _cached_entries(private_redis)

    assert 0 < private_redis.ttl(entry) <= caching.API_KEY_TTL_SECONDS <= 5
