"""The analytics tasks run on a real Celery worker, consuming from Redis, against the real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from celery.app.backends import by_url
from celery.contrib.testing.worker import start_worker
from celery.result import AsyncResult
from django.conf import settings
from django.utils import timezone

from analytics.models import DailyMetric, Event, EventType, NudgeSchedule, ScheduleStatus
from analytics.services.events import event_record
from analytics.services.nudges import sign_in_record
from analytics.tasks import compute_adoption_metrics, purge_expired, schedule_nudges
from passkey_service.celery import app

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
WAIT = 30  # seconds; a task here takes milliseconds, a broken worker never answers


@pytest.fixture
def redis_results():
    """Results in the same Redis, so the test can wait on them; the app's own configuration is restored."""
    assert settings.REDIS_URL, "the worker test needs REDIS_URL (the test environment sets it)"
    assert not app.conf.task_always_eager and app.conf.broker_url == settings.REDIS_URL
    saved = app.conf.result_backend
    app.conf.result_backend = settings.REDIS_URL
    backend_cls, url = by_url(settings.REDIS_URL, app.loader)
    backend = backend_cls(app=app, url=url)
    try:
        yield backend
    finally:
        app.conf.result_backend = saved


def run(backend, task, *args):
    """Enqueue on the broker and wait for the worker's answer (re-raising its error, if any)."""
    sent = task.apply_async(args=args)
    return AsyncResult(sent.id, backend=backend, app=app).get(timeout=WAIT)


@pytest.mark.django_db(transaction=True)  # the worker thread has its own connection: it sees committed rows only
def test_worker_computes_metrics_sweeps_nudges_and_purges(tenant, redis_results):
    now = timezone.now()
    for day in (D1, D2):
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        event_record(
            tenant=tenant, type=EventType.SIGN_IN, user_id=f"user-{day.day}", method="password", occurred_at=noon
        )
    expired = now - timedelta(days=tenant.event_retention_days + 1)
    event_record(tenant=tenant, type=EventType.SIGN_IN, user_id="ancient", occurred_at=expired)
    not_ready_since = now - timedelta(days=8)  # the retry after a "not ready" sign-in is a week later
    sign_in_record(
        tenant=tenant, user_id="waiting", method="password", platform_authenticator_available=False, now=not_ready_since
    )

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=WAIT):
        assert run(redis_results, compute_adoption_metrics, D1.isoformat(), D2.isoformat()) == 2
        assert run(redis_results, schedule_nudges) == {"accepted": 0, "due": 1}
        assert run(redis_results, purge_expired) == {"challenges": 0, "events": 1}

    rows = {m.date: (m.users, m.sign_ins) for m in DailyMetric.objects.filter(tenant=tenant)}
    # "ancient" signed in long before D1, so it is a known user on both days (purged later, remembered).
    assert rows == {D1: (2, 1), D2: (3, 1)}
    assert NudgeSchedule.objects.get(user_id="waiting").status == ScheduleStatus.DUE
    assert Event.objects.filter(type=EventType.NUDGE_DUE, user_id="waiting").count() == 1
    assert not Event.objects.filter(user_id="ancient").exists()
