"""A cache of which endpoints each tenant has, so a ceremony of a tenant without webhooks costs no query, and
with a warm process no Redis round trip either.

Two layers. Each process keeps what it read for PROCESS_TTL_SECONDS (a login asks on every finish: a round trip
saved there is a tenth of the login's Redis work); the process that changes an endpoint forgets at once, others
follow within those seconds. Below it, a cache shared by every process (Redis); as with API keys
(tenants/caching.py) it is only used when shared: with the in-process default another worker would keep stale
subscriptions, so lookups go to the database. Shared entries are only ever added; a change overwrites the entry
with a short-lived tombstone, so a reader that loaded the rows just before the change committed cannot put the
old list back.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

SUBSCRIPTIONS_TTL_SECONDS = 300
PROCESS_TTL_SECONDS = 5
PROCESS_MAX_TENANTS = 10_000
TOMBSTONE = "forgotten"
TOMBSTONE_SECONDS = 10

Subscriptions = list[tuple[str, list[str]]]  # (endpoint id, subscribed event types) of enabled endpoints


def _shared() -> bool:
    return bool(settings.REDIS_URL)


def _entry(tenant_id: Any) -> str:
    return f"webhooks:subscriptions:{tenant_id}"


_in_process: dict[Any, tuple[Subscriptions, float]] = {}


def subscriptions_get(tenant_id: Any) -> tuple[Subscriptions | None, bool]:
    """(cached subscriptions or None, whether a fresh value may be added afterwards)."""
    if not _shared():
        return None, False
    held = _in_process.get(tenant_id)
    if held is not None and held[1] > time.monotonic():
        return held[0], False
    value = cache.get(_entry(tenant_id))
    if value == TOMBSTONE:
        return None, False
    if value is not None:
        _hold(tenant_id, value)
    return value, value is None


def subscriptions_put(tenant_id: Any, subscriptions: Subscriptions) -> None:
    cache.add(_entry(tenant_id), subscriptions, SUBSCRIPTIONS_TTL_SECONDS)
    _hold(tenant_id, subscriptions)


def _hold(tenant_id: Any, subscriptions: Subscriptions) -> None:
    if len(_in_process) >= PROCESS_MAX_TENANTS:
        _in_process.clear()
    _in_process[tenant_id] = (subscriptions, time.monotonic() + PROCESS_TTL_SECONDS)


def subscriptions_forget(tenant_id: Any) -> None:
    _in_process.pop(tenant_id, None)
    if _shared():
        cache.set(_entry(tenant_id), TOMBSTONE, TOMBSTONE_SECONDS)


def _forget(sender, instance, **kwargs) -> None:
    tenant_id = instance.tenant_id
    subscriptions_forget(tenant_id)
    # Again once the change is visible to others: the first tombstone may expire before a long commit.
    transaction.on_commit(lambda: subscriptions_forget(tenant_id))


def connect_invalidation() -> None:
    from .models import Endpoint

    post_save.connect(_forget, sender=Endpoint, dispatch_uid="webhooks-subscriptions-forget-save")
    post_delete.connect(_forget, sender=Endpoint, dispatch_uid="webhooks-subscriptions-forget-delete")
