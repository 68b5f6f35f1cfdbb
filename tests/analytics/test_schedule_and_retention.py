"""Retention: events past each tenant's retention and expired challenges are purged; the tasks wrap it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from analytics import tasks
from analytics.models import Event, EventType, NudgeSchedule, ScheduleStatus
from analytics.services.events import event_record
from analytics.services.nudges import sign_in_record
from analytics.services.retention import events_purge_expired
from passkeys.models import Challenge

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def event_at(tenant, when: datetime, user_id: str = "alice") -> Event:
    return event_record(tenant=tenant, type=EventType.SIGN_IN, user_id=user_id, method="password", occurred_at=when)


def surviving(tenant) -> set[str]:
    return set(Event.objects.filter(tenant=tenant).values_list("user_id", flat=True))


def test_events_older_than_the_tenants_retention_are_deleted(short):
    event_at(short, NOW - timedelta(days=30, seconds=1), "expired")
    event_at(short, NOW - timedelta(days=30), "boundary")
    event_at(short, NOW - timedelta(days=1), "recent")
    assert events_purge_expired(now=NOW) == 1
    assert surviving(short) == {"boundary", "recent"}


def test_each_tenant_keeps_events_within_its_own_retention(short, long):
    for tenant in (short, long):
        event_at(tenant, NOW - timedelta(days=31), "month-old")
        event_at(tenant, NOW - timedelta(days=401), "year-old")
        event_at(tenant, NOW - timedelta(hours=1), "fresh")
    assert events_purge_expired(now=NOW) == 3
    assert surviving(short) == {"fresh"}
    assert surviving(long) == {"month-old", "fresh"}


def test_purging_twice_deletes_nothing_more(short):
    event_at(short, NOW - timedelta(days=31))
    assert events_purge_expired(now=NOW) == 1
    assert events_purge_expired(now=NOW) == 0


def challenge_add(key: str, expires_at: datetime) -> None:
    Challenge.objects.create(key=key, state="{}", expires_at=expires_at)


def test_purge_task_deletes_expired_challenges_and_old_events(short):
    now = timezone.now()
    challenge_add("challenge:expired", now - timedelta(minutes=1))
    challenge_add("challenge:pending", now + timedelta(minutes=10))
    event_at(short, now - timedelta(days=31), "expired")
    event_at(short, now - timedelta(days=29), "kept")
    assert tasks.purge_expired() == {"challenges": 1, "events": 1}
    assert list(Challenge.objects.values_list("key", flat=True)) == ["challenge:pending"]
    assert surviving(short) == {"kept"}


def test_schedule_task_sweeps_the_nudge_schedule(tenant):
    """The task runs the same sweep as the service, at the current time."""
    sign_in_record(
        tenant=tenant,
        user_id="alice",
        method="password",
        platform_authenticator_available=False,
        now=timezone.now() - timedelta(days=8),
    )
    assert tasks.schedule_nudges() == {"accepted": 0, "due": 1}
    assert NudgeSchedule.objects.get(user_id="alice").status == ScheduleStatus.DUE
    assert tasks.schedule_nudges() == {"accepted": 0, "due": 0}


def test_compute_task_defaults_to_yesterday_and_today(tenant, make_tenant):
    make_tenant(name="Second", rp_id="second.example.com")
    assert tasks.compute_adoption_metrics() == 4  # two days for each of two tenants
    assert tasks.compute_adoption_metrics("2026-03-01", "2026-03-03") == 6
    assert tasks.compute_adoption_metrics("2026-03-01") == 2  # one day when only first is given
