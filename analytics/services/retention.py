"""Deleting events past each tenant's retention."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from tenants.models import Tenant

from ..models import Event
from .partitions import event_partition_drop, event_partition_rows_delete, event_partitions_list

# Rows one DELETE removes at most, so a run never holds one huge transaction.
BATCH_SIZE = 10_000


def events_purge_expired(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Remove every tenant's events older than its retention; returns how many (dropped partitions' rows counted).

    A month that every tenant's retention has passed is dropped as a partition: O(1), not millions of deletes.
    Within the months kept, a tenant's expired rows are deleted in batches, and only ever that tenant's.
    """
    now = now or timezone.now()
    retention = dict(Tenant.objects.values_list("pk", "event_retention_days"))
    partitions = event_partitions_list()
    if not partitions:  # SQLite: a plain table
        return sum(
            Event.objects.filter(tenant_id=tenant_id, occurred_at__lt=now - timedelta(days=days)).delete()[0]
            for tenant_id, days in retention.items()
        )
    removed = 0
    if retention:
        everyone_done = now - timedelta(days=max(retention.values()))
        for partition in [p for p in partitions if p.end is not None and p.end <= everyone_done]:
            removed += event_partition_drop(month=partition.month)
            partitions.remove(partition)
    for tenant_id, days in retention.items():
        before = now - timedelta(days=days)
        for partition in partitions:
            if partition.start is None or partition.start < before:
                removed += event_partition_rows_delete(
                    month=partition.month, tenant_id=tenant_id, before=before, batch_size=batch_size
                )
    return removed
