"""Shared caching of authenticated API keys, so a warm request costs no database query.

The cache is only used when it is shared by every process (Redis). With the in-process
default a revoked key could stay valid in another worker, so lookups go to the database.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save

API_KEY_TTL_SECONDS = 300
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


def api_key_get(key_hash: str) -> Any | None:
    value = cache.get(_api_key_entry(key_hash)) if _shared() else None
    return None if value == TOMBSTONE else value


def api_key_put(key_hash: str, value: Any) -> None:
    if _shared():
        cache.add(_api_key_entry(key_hash), value, API_KEY_TTL_SECONDS)


def api_key_forget(*key_hashes: str) -> None:
    if _shared() and key_hashes:
        cache.set_many({_api_key_entry(h): TOMBSTONE for h in key_hashes}, TOMBSTONE_SECONDS)


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


def _forget_tenant_keys(sender, instance, **kwargs) -> None:
    api_key_forget(*instance.api_keys.values_list("key_hash", flat=True))


def _forget_key(sender, instance, created: bool = False, **kwargs) -> None:
    if not created:  # a new key cannot be cached yet
        api_key_forget(instance.key_hash)


def connect_invalidation() -> None:
    """Cached entries embed the tenant's settings, so any edit (admin included) drops them."""
    from .models import ApiKey, Tenant

    post_save.connect(_forget_tenant_keys, sender=Tenant, dispatch_uid="tenant-cache-forget")
    post_save.connect(_forget_key, sender=ApiKey, dispatch_uid="apikey-cache-forget-save")
    post_delete.connect(_forget_key, sender=ApiKey, dispatch_uid="apikey-cache-forget-delete")
