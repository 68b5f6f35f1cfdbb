"""Reads of the webhooks domain; every per-request read takes the tenant first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from tenants.models import Tenant

from . import caching
from .models import Delivery, DeliveryStatus, Endpoint


def endpoint_subscriptions(*, tenant_id: Any) -> caching.Subscriptions:
    """(endpoint id, event types) of the tenant's enabled endpoints: no query while the shared cache is warm."""
    cached, may_add = caching.subscriptions_get(tenant_id)
    if cached is not None:
        return cached
    rows = Endpoint.objects.filter(tenant_id=tenant_id, enabled=True).values_list("id", "event_types")
    subscriptions = [(str(endpoint_id), list(event_types)) for endpoint_id, event_types in rows]
    if may_add:
        caching.subscriptions_put(tenant_id, subscriptions)
    return subscriptions


def endpoints_subscribed(*, tenant_id: Any, event_type: str) -> list[str]:
    return [endpoint_id for endpoint_id, types in endpoint_subscriptions(tenant_id=tenant_id) if event_type in types]


def endpoint_list(*, tenant: Tenant) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(tenant=tenant).order_by("created_at")


def delivery_list(*, tenant: Tenant, endpoint_id: Any | None = None) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(endpoint__tenant=tenant)
    return deliveries.filter(endpoint_id=endpoint_id) if endpoint_id is not None else deliveries


def deliveries_due(*, now: datetime, limit: int) -> list[int]:
    """Ids of pending deliveries whose next attempt time has passed, oldest schedule first."""
    due = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).order_by("next_attempt_at")
    return list(due.values_list("id", flat=True)[:limit])
