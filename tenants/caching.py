"""Caching of what every request reads: authenticated API keys, and the tenants' web origins.

API keys are only cached when the cache is shared by every process (Redis). With the in-process
default a revoked key could stay valid in another worker, so lookups go to the database.

Web origins (for CORS on the browsers' reports) are held in each process and reloaded every
WEB_ORIGINS_TTL_SECONDS: a report then costs no query, and a removed origin stops being answered
within that time. The process that saves a tenant forgets at once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django_redis import get_redis_connection

from core.ratelimit import RateCounts

logger = logging.getLogger(__name__)

# Also the bound on how long a revoked key (or a tenant's old settings) can keep working when the
# invalidation below cannot reach Redis and the process that tried dies before its retries succeed.
API_KEY_TTL_SECONDS = 5
FORGET_RETRY_INTERVAL_SECONDS = 0.2
TOUCH_INTERVAL_SECONDS = 60
# A forgotten entry is overwritten with this marker for a few seconds, and entries are only
# ever added, never overwritten: a request that read the row just before a revoke committed
# cannot put the stale key back after the revoke dropped it.
TOMBSTONE = "forgotten"
TOMBSTONE_SECONDS = 10


def _shared() -> bool:
    return bool(settings.REDIS_URL)


def _api_key_entry(key_hash: str) -> str:
    return f"apikey:{key_hash}"


def api_key_get(key_hash: str, *, counts: RateCounts | None = None) -> Any | None:
    """The cached principal of a key, or None; with `counts`, the request's rate-limit counts are taken in the same
    round trip when the key is found there."""
    if not _shared():
        return None
    if counts is None or not counts.buckets:
        value = cache.get(_api_key_entry(key_hash))
    else:
        # Counted only on a hit, which proves the secret: otherwise anyone who knows a key's prefix (it is public)
        # could spend that key's budget, and its users', with made-up secrets. On a miss the throttles count once
        # the database has proved the key.
        raw = counts.entry_then_count(
            get_redis_connection("default"),
            cache.make_key(_api_key_entry(key_hash)),
            unless=cache.client.encode(TOMBSTONE),
        )
        value = None if raw is None else cache.client.decode(raw)
    return None if value == TOMBSTONE else value


def api_key_put(key_hash: str, value: Any) -> None:
    if _shared():
        cache.add(_api_key_entry(key_hash), value, API_KEY_TTL_SECONDS)


def api_key_forget(*key_hashes: str) -> None:
    """Drop cached entries everywhere; when Redis refuses the write, keep trying in the background."""
    if not (_shared() and key_hashes):
        return
    try:
        _tombstones_write(key_hashes)
    except redis.exceptions.RedisError:
        # The database already says revoked; only the cache lags. Retry until Redis takes the write
        # or every entry that could be stale has expired by itself.
        logger.error("could not invalidate %d cached API key(s); retrying in the background", len(key_hashes))
        threading.Thread(target=_forget_until_done, args=(key_hashes,), daemon=True).start()


def _tombstones_write(key_hashes: tuple[str, ...]) -> None:
    cache.set_many({_api_key_entry(h): TOMBSTONE for h in key_hashes}, TOMBSTONE_SECONDS)


def _forget_until_done(key_hashes: tuple[str, ...]) -> None:
    give_up_at = time.monotonic() + API_KEY_TTL_SECONDS
    while time.monotonic() < give_up_at:
        time.sleep(FORGET_RETRY_INTERVAL_SECONDS)
        try:
            _tombstones_write(key_hashes)
            return
        except redis.exceptions.RedisError:
            continue


# Which key id and tenant a key prefix belongs to never changes, so a process remembers it from the first request
# and can name the request's rate-limit buckets before the key is checked (tenants.selectors).
KEY_OWNERS_MAX = 10_000
_key_owners: dict[str, tuple[int, str]] = {}


def key_owner(prefix: str) -> tuple[int, str] | None:
    """(key id, tenant id) of a key prefix this process has seen authenticated, or None."""
    return _key_owners.get(prefix)


def key_owner_remember(prefix: str, key_id: int, tenant_id: str) -> None:
    if len(_key_owners) >= KEY_OWNERS_MAX:
        _key_owners.clear()
    _key_owners[prefix] = (key_id, tenant_id)


_next_touch: dict[str, float] = {}


def api_key_touch_due(prefix: str) -> bool:
    """True at most once per interval per key and process.

    Kept in the process, not in Redis: last_used_at is advisory, and a shared throttle would cost a
    round trip on every request to save a few UPDATEs a minute.
    """
    now = time.monotonic()
    if _next_touch.get(prefix, 0.0) > now:
        return False
    _next_touch[prefix] = now + TOUCH_INTERVAL_SECONDS
    return True


WEB_ORIGINS_TTL_SECONDS = 30
# A tenant not in the map is looked for again at most this often (a new tenant's first report).
WEB_ORIGINS_MISS_RELOAD_SECONDS = 1


class _WebOrigins:
    """tenant id → its http(s) origins, for every tenant, loaded in one query."""

    def __init__(self) -> None:
        self._by_tenant: dict[str, frozenset[str]] = {}
        self._all: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def of_tenant(self, tenant_id: str) -> frozenset[str] | None:
        self._load_if_older_than(WEB_ORIGINS_TTL_SECONDS)
        if tenant_id not in self._by_tenant:
            self._load_if_older_than(WEB_ORIGINS_MISS_RELOAD_SECONDS)
        return self._by_tenant.get(tenant_id)

    def known(self, origin: str) -> bool:
        self._load_if_older_than(WEB_ORIGINS_TTL_SECONDS)
        return origin in self._all

    def forget(self) -> None:
        self._loaded_at = float("-inf")

    def _load_if_older_than(self, seconds: float) -> None:
        if time.monotonic() - self._loaded_at < seconds:
            return
        from .models import Tenant

        with self._lock:
            if time.monotonic() - self._loaded_at < seconds:
                return
            by_tenant = {
                str(pk): frozenset(o for o in origins if o.startswith(("https://", "http://")))
                for pk, origins in Tenant.objects.values_list("pk", "origins")
            }
            self._by_tenant, self._all = by_tenant, frozenset().union(*by_tenant.values())
            self._loaded_at = time.monotonic()


web_origins = _WebOrigins()


def _forget_tenant_keys(sender, instance, **kwargs) -> None:
    api_key_forget(*instance.api_keys.values_list("key_hash", flat=True))
    web_origins.forget()


def _forget_key(sender, instance, created: bool = False, **kwargs) -> None:
    if not created:  # a new key cannot be cached yet
        api_key_forget(instance.key_hash)


def connect_invalidation() -> None:
    """Cached entries embed the tenant's settings, so any edit (admin included) drops them."""
    from .models import ApiKey, Tenant

    post_save.connect(_forget_tenant_keys, sender=Tenant, dispatch_uid="tenant-cache-forget")
    post_delete.connect(lambda **kwargs: web_origins.forget(), sender=Tenant, weak=False, dispatch_uid="tenant-gone")
    post_save.connect(_forget_key, sender=ApiKey, dispatch_uid="apikey-cache-forget-save")
    post_delete.connect(_forget_key, sender=ApiKey, dispatch_uid="apikey-cache-forget-delete")
