"""The known-user fold reads only the events since the tenant's watermark, and the per-day figures only their day."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import DailyMetric, Event, EventType, KnownUser, MetricsWatermark
from analytics.selectors import day_bounds, day_figures
from analytics.services.events import event_record
from analytics.services.metrics import FOLD_OVERLAP, adoption_metrics_compute_days, known_users_fold
from passkeys.services.credentials import credential_import

D1, D2, D3, D4 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)


def at(day: date, clock: str = "12:00") -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=UTC)


def sign_in(tenant, user_id: str, when: datetime) -> None:
    event_record(tenant=tenant, type=EventType.SIGN_IN, user_id=user_id, method="password", occurred_at=when)


def late_sign_in(tenant, user_id: str, when: datetime) -> None:
    """An event dated `when` but written now, as a transaction that commits after a fold would be."""
    Event.objects.create(tenant=tenant, type=EventType.SIGN_IN, user_id=user_id, method="password", occurred_at=when)


def known(tenant) -> dict[str, date]:
    return dict(KnownUser.objects.filter(tenant=tenant).values_list("user_id", "first_seen_on"))


def watermark(tenant) -> datetime | None:
    return MetricsWatermark.objects.filter(tenant=tenant).values_list("folded_until", flat=True).first()


def rows(tenant) -> dict[date, dict]:
    return {
        metric.date: {name: value for name, value in model_to_dict(metric).items() if name not in ("id", "computed_at")}
        for metric in DailyMetric.objects.filter(tenant=tenant)
    }


@pytest.fixture
def history(tenant):
    for day, user_id in ((D1, "alice"), (D1, "bob"), (D2, "carol"), (D3, "alice"), (D3, "dave")):
        sign_in(tenant, user_id, at(day))
    return tenant


def fold_sql(tenant, until: datetime) -> str:
    with CaptureQueriesContext(connection) as queries:
        known_users_fold(tenant=tenant, until=until)
    [insert] = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith('INSERT INTO "analytics_knownuser"')
    ]
    return insert


def test_first_fold_reads_the_whole_history_and_sets_the_watermark(history):
    sql = fold_sql(history, day_bounds(D3)[1])
    assert '"occurred_at" >=' not in sql
    assert known(history) == {"alice": D1, "bob": D1, "carol": D2, "dave": D3}
    assert watermark(history) == day_bounds(D3)[1]


def test_second_fold_reads_only_events_since_the_watermark_less_the_overlap(history):
    known_users_fold(tenant=history, until=day_bounds(D2)[1])
    sql = fold_sql(history, day_bounds(D4)[1])
    since = day_bounds(D2)[1] - FOLD_OVERLAP
    assert f'"analytics_event"."occurred_at" >= \'{since:%Y-%m-%d %H:%M:%S}' in sql
    assert watermark(history) == day_bounds(D4)[1]


def test_an_event_older_than_the_overlap_is_not_read_again(history):
    """The lower bound is real: a row far behind the watermark is not looked at by a routine fold."""
    known_users_fold(tenant=history, until=day_bounds(D3)[1])
    late_sign_in(history, "erin", at(D1))
    known_users_fold(tenant=history, until=day_bounds(D4)[1])
    assert "erin" not in known(history)


def test_a_late_event_within_the_overlap_is_folded(history):
    known_users_fold(tenant=history, until=day_bounds(D3)[1])
    late_sign_in(history, "erin", day_bounds(D3)[1] - FOLD_OVERLAP + timedelta(minutes=1))
    late_sign_in(history, "alice", day_bounds(D3)[1] - timedelta(minutes=1))  # known since D1: stays D1
    known_users_fold(tenant=history, until=day_bounds(D4)[1])
    assert known(history) == {"alice": D1, "bob": D1, "carol": D2, "dave": D3, "erin": D3}


def test_the_watermark_never_passes_now(tenant):
    """Today's run folds until the end of today, but the rest of today is still to come: it is folded next time."""
    today = timezone.now().date()
    sign_in(tenant, "alice", timezone.now())
    adoption_metrics_compute_days(tenant=tenant, first=today, last=today)
    assert watermark(tenant) <= timezone.now()
    sign_in(tenant, "bob", timezone.now())
    adoption_metrics_compute_days(tenant=tenant, first=today, last=today)
    assert set(known(tenant)) == {"alice", "bob"}


def test_the_watermark_does_not_move_back_for_an_old_day(history):
    known_users_fold(tenant=history, until=day_bounds(D4)[1])
    adoption_metrics_compute_days(tenant=history, first=D1, last=D1)
    assert watermark(history) == day_bounds(D4)[1]


def test_a_backfill_of_old_days_equals_a_full_recompute(history):
    """History written after the watermark passed it (the seed, an import) is folded by the run whose range
    starts at its first day: the rule `since = min(watermark - overlap, first day asked for)`."""
    adoption_metrics_compute_days(tenant=history, first=D4, last=D4)  # the watermark is past D1..D3 now
    for user_id in ("erin", "frank", "alice"):
        late_sign_in(history, user_id, at(D1, "08:00"))
    late_sign_in(history, "gina", at(D2, "08:00"))
    credential_import(
        tenant=history,
        user_id="henry",
        credential_id=uuid.uuid4().bytes,
        public_key=b"\xa5" * 77,
        algorithm=-7,
        aaguid=uuid.UUID(int=0),
        backup_eligible=True,
        backed_up=True,
        created_at=at(D2, "09:00"),
    )
    adoption_metrics_compute_days(tenant=history, first=D1, last=D4)
    incremental, folded = rows(history), known(history)

    MetricsWatermark.objects.filter(tenant=history).delete()  # the next fold reads everything
    KnownUser.objects.filter(tenant=history).delete()
    DailyMetric.objects.filter(tenant=history).delete()
    adoption_metrics_compute_days(tenant=history, first=D1, last=D4)
    assert rows(history) == incremental
    assert known(history) == folded
    assert [incremental[day]["users"] for day in (D1, D2, D3, D4)] == [4, 7, 8, 8]


def test_two_tenants_watermarks_are_independent(history, make_tenant):
    other = make_tenant(name="Other", rp_id="other.example.org", origins=["https://other.example.org"])
    sign_in(other, "zed", at(D1))
    known_users_fold(tenant=history, until=day_bounds(D3)[1])
    assert watermark(other) is None
    sql = fold_sql(other, day_bounds(D1)[1])
    assert '"occurred_at" >=' not in sql  # its first fold: the whole of its own history
    assert (watermark(other), watermark(history)) == (day_bounds(D1)[1], day_bounds(D3)[1])
    assert known(other) == {"zed": D1}
    assert set(known(history)) == {"alice", "bob", "carol", "dave"}


# The per-day path reads one day of events.


def test_day_figures_read_only_their_day_of_events(history):
    with CaptureQueriesContext(connection) as queries:
        day_figures(tenant=history, day=D3)
    reading_events = [query["sql"] for query in queries.captured_queries if '"analytics_event"' in query["sql"]]
    assert reading_events
    start, end = day_bounds(D3)
    for sql in reading_events:
        assert f'"occurred_at" >= \'{start:%Y-%m-%d %H:%M:%S}' in sql, sql
        assert f'"occurred_at" < \'{end:%Y-%m-%d %H:%M:%S}' in sql, sql


def test_day_figures_events_go_through_the_tenant_time_index(tenant):
    """A month of a busy tenant: one day's events are found by the (tenant, occurred_at) index (on the table, or on
    each month's partition), not by reading the tenant's rows and filtering them."""
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN's plan shape is PostgreSQL's")
    Event.objects.bulk_create(
        Event(
            tenant=tenant,
            type=EventType.SIGN_IN,
            user_id=f"user-{n % 300}",
            occurred_at=at(D1) + timedelta(minutes=15 * n),
        )
        for n in range(4 * 24 * 30)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE analytics_event")
    start, end = day_bounds(D3)
    plan = Event.objects.filter(tenant=tenant, occurred_at__gte=start, occurred_at__lt=end).explain()
    [condition] = [line for line in plan.splitlines() if "Index Cond" in line]
    assert "tenant_id =" in condition and "occurred_at >=" in condition and "occurred_at <" in condition, plan
