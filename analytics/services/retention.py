"""Deleting events past each tenant's retention."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from tenants.models import Tenant

from ..models import Event


def events_purge_expired(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    deleted = 0
    for tenant_id, days in Tenant.objects.values_list("pk", "event_retention_days"):
        deleted += Event.objects.filter(tenant_id=tenant_id, occurred_at__lt=now - timedelta(days=days)).delete()[0]
    return deleted
