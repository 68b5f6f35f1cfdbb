"""A shared cache of which endpoints each tenant has, so a ceremony of a tenant without webhooks costs no query.

As with API keys (tenants/caching.py) the cache is only used when every process shares it (Redis);
with the in-process default another worker would keep stale subscriptions, so lookups go to the
database. Entries are only ever added; a change overwrites the entry with a short-lived tombstone, so
a reader that loaded the rows just before the change committed cannot put the old list back.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

SUBSCRIPTIONS_TTL_SECONDS = 300
TOMBSTONE = "forgotten"
TOMBSTONE_SECONDS = 10

Subscriptions = list[tuple[str, list[str]]]  # (endpoint id, subscribed event types) of enabled endpoints


def _shared() -> bool:
    return bool(settings.REDIS_URL)


def _entry(tenant_id: Any) -> str:
    return f"webhooks:subscriptions:{tenant_id}"


def subscriptions_get(tenant_id: Any) -> tuple[Subscriptions | None, bool]:
    """(cached subscriptions or None, whether a fresh value may be added afterwards)."""
    if not _shared():
        return None, False
    value = cache.get(_entry(tenant_id))
    if value == TOMBSTONE:
        return None, False
    return value, value is None


def subscriptions_put(tenant_id: Any, subscriptions: Subscriptions) -> None:
    cache.add(_entry(tenant_id), subscriptions, SUBSCRIPTIONS_TTL_SECONDS)


def subscriptions_forget(tenant_id: Any) -> None:
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
