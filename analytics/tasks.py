"""Celery tasks: thin wrappers that call services; each is safe to run twice."""

from __future__ import annotations

from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from core.transient import TRANSIENT
from passkeys.challenges import challenges_purge_expired

from .services.metrics import adoption_metrics_compute_range
from .services.nudges import nudges_schedule
from .services.partitions import event_partitions_ensure
from .services.retention import events_purge_expired

RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": True, "retry_backoff_max": 300, "max_retries": 8}


@shared_task(**RETRY)
def compute_adoption_metrics(first: str | None = None, last: str | None = None) -> int:
    """Days [first, last] (ISO dates) for every tenant; by default yesterday and today."""
    today = timezone.now().date()
    start = date.fromisoformat(first) if first else today - timedelta(days=1)
    end = date.fromisoformat(last) if last else (start if first else today)
    return len(adoption_metrics_compute_range(first=start, last=end))


@shared_task(**RETRY)
def schedule_nudges() -> dict[str, int]:
    sweep = nudges_schedule()
    return {"accepted": sweep.accepted, "due": sweep.due}


@shared_task(**RETRY)
def purge_expired() -> dict[str, int]:
    return {"challenges": challenges_purge_expired(), "events": events_purge_expired()}


@shared_task(**RETRY)
def ensure_event_partitions() -> list[str]:
    """The events table's partitions of this month and the next three (none on SQLite)."""
    return event_partitions_ensure(now=timezone.now())
