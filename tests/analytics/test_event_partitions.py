"""The events table is partitioned by month on PostgreSQL: partitions are created ahead, rows the default partition
took move into their month's partition, and retention drops whole months only when every tenant is done with them."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics import tasks
from analytics.models import Event, EventType
from analytics.services.events import event_record
from analytics.services.partitions import (
    DEFAULT,
    event_partition_create,
    event_partition_drop,
    event_partitions_ensure,
    event_partitions_list,
)
from analytics.services.retention import events_purge_expired

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="partitioning is PostgreSQL's")

# Months no partition made by the migration (at the test database's creation) covers.
NOW = datetime(2031, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _foreign_keys_checked_at_once(db):
    """The test's transaction would otherwise keep each insert's deferred foreign-key check pending, and PostgreSQL
    refuses to attach, detach or drop a partition with pending checks (in production they are committed)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def event_at(tenant, when: datetime, user_id: str = "alice") -> Event:
    return event_record(tenant=tenant, type=EventType.SIGN_IN, user_id=user_id, method="password", occurred_at=when)


def partition_of(event: Event) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM analytics_event WHERE id = %s", [event.pk])
        return cursor.fetchone()[0]


def names() -> list[str]:
    return [partition.name for partition in event_partitions_list()]


def surviving(tenant) -> set[str]:
    return set(Event.objects.filter(tenant=tenant).values_list("user_id", flat=True))


def test_events_table_is_partitioned_by_month_with_a_default_after_migrate():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_partkeydef('analytics_event'::regclass)")
        assert cursor.fetchone()[0] == "RANGE (occurred_at)"
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'analytics_event_pkey'")
        assert cursor.fetchone()[0] == "PRIMARY KEY (id, occurred_at)"
    partitions = event_partitions_list()
    assert partitions[-1].name == DEFAULT and partitions[-1].start is None
    now = timezone.now()
    assert any(p.start and p.start <= now < p.end for p in partitions)  # this month, made by the migration
    assert len([p for p in partitions if p.start and p.start > now]) == 3  # and the next three


def test_an_event_lands_in_its_months_partition_and_anything_else_in_the_default(tenant):
    event_partitions_ensure(now=NOW)
    assert partition_of(event_at(tenant, datetime(2031, 6, 30, 23, 59, 59, 999999, tzinfo=UTC))) == (
        "analytics_event_y2031m06"
    )
    assert partition_of(event_at(tenant, datetime(2031, 7, 1, tzinfo=UTC))) == "analytics_event_y2031m07"
    # Months are UTC months, whatever the offset the time was given in.
    assert partition_of(
        event_at(tenant, datetime(2031, 7, 1, 1, tzinfo=UTC).astimezone(timezone.get_fixed_timezone(120)))
    ) == ("analytics_event_y2031m07")
    assert partition_of(event_at(tenant, datetime(2045, 1, 1, tzinfo=UTC))) == DEFAULT


def test_ensure_creates_this_month_and_three_ahead_and_then_nothing():
    created = event_partitions_ensure(now=NOW)
    assert created == [f"analytics_event_y2031m{month:02d}" for month in (6, 7, 8, 9)]
    assert set(created) <= set(names())
    assert event_partitions_ensure(now=NOW) == []
    assert event_partitions_ensure(now=NOW, months_ahead=4) == ["analytics_event_y2031m10"]


def test_rows_in_the_default_partition_move_into_their_new_months_partition(tenant):
    ahead = event_at(tenant, datetime(2031, 8, 20, tzinfo=UTC), "ahead")
    late = event_at(tenant, datetime(2031, 2, 3, tzinfo=UTC), "late")  # a month before any partition: split out
    far = event_at(tenant, datetime(2045, 1, 1, tzinfo=UTC), "far")
    assert {partition_of(ahead), partition_of(late), partition_of(far)} == {DEFAULT}
    created = event_partitions_ensure(now=NOW)
    assert "analytics_event_y2031m02" in created and "analytics_event_y2031m08" in created
    assert partition_of(ahead) == "analytics_event_y2031m08"
    assert partition_of(late) == "analytics_event_y2031m02"
    assert partition_of(far) == "analytics_event_y2045m01"  # any month with rows gets its partition
    assert Event.objects.filter(tenant=tenant).count() == 3
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {DEFAULT}")  # noqa: S608 - our table
        assert cursor.fetchone()[0] == 0


def test_the_event_insert_stays_one_statement(tenant):
    event_partitions_ensure(now=NOW)
    with CaptureQueriesContext(connection) as captured:
        event_at(tenant, NOW)
    [insert] = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert insert.startswith('INSERT INTO "analytics_event"') and "RETURNING" in insert


def test_retention_drops_a_month_every_tenant_is_done_with_and_keeps_one_still_needed(short, long):
    for month in (date(2030, 1, 1), date(2031, 3, 1)):
        event_partition_create(month=month)
    for tenant in (short, long):
        event_at(tenant, datetime(2030, 1, 10, tzinfo=UTC), "ancient")  # past 400 days: the whole month goes
        event_at(tenant, datetime(2031, 3, 10, tzinfo=UTC), "quarter-old")  # past 30 days only
        event_at(tenant, NOW - timedelta(days=1), "fresh")
    assert events_purge_expired(now=NOW) == 3  # the dropped month's two rows (counted) and short's quarter-old one
    assert "analytics_event_y2030m01" not in names()
    assert "analytics_event_y2031m03" in names()
    assert surviving(short) == {"fresh"}
    assert surviving(long) == {"quarter-old", "fresh"}
    assert events_purge_expired(now=NOW) == 0


def test_a_tenants_events_are_never_removed_by_another_tenants_retention(short, long):
    event_partitions_ensure(now=NOW - timedelta(days=100))
    for days in (31, 60, 99, 399):  # in month partitions and, before them, in the default one
        event_at(long, NOW - timedelta(days=days), f"{days}")
        event_at(short, NOW - timedelta(days=days), f"{days}")
    assert events_purge_expired(now=NOW) == 4
    assert surviving(short) == set()
    assert surviving(long) == {"31", "60", "99", "399"}


def test_expired_rows_in_kept_months_are_deleted_in_bounded_batches(short, long):
    event_partition_create(month=date(2031, 3, 1))
    for n in range(5):
        event_at(short, datetime(2031, 3, 10, tzinfo=UTC), f"old-{n}")
    with CaptureQueriesContext(connection) as captured:
        assert events_purge_expired(now=NOW, batch_size=2) == 5
    deletes = [
        q["sql"] for q in captured.captured_queries if q["sql"].startswith("DELETE FROM analytics_event_y2031m03")
    ]
    assert len(deletes) == 3 and all("LIMIT 2" in sql for sql in deletes)
    assert surviving(short) == set()


def test_dropping_a_missing_month_removes_nothing():
    assert event_partition_drop(month=date(2020, 1, 1)) == 0


def test_the_beat_job_ensures_partitions_every_six_hours():
    assert tasks.ensure_event_partitions() == []  # the migration made this month's and the next three
    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"].endswith(".ensure_event_partitions")]
    assert entry["schedule"] == 6 * 3600.0


def test_the_migration_keeps_rows_ids_and_the_sequence_both_ways(tenant):
    old, partitioned = [("analytics", "0006_metrics_watermark")], [("analytics", "0007_events_by_month")]
    kept = [event_at(tenant, datetime(2029, month, 5, tzinfo=UTC), f"u{month}").pk for month in (1, 2)]
    executor = MigrationExecutor(connection)
    executor.migrate(old)
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'analytics_event'")
        assert cursor.fetchone()[0] == "r"
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'analytics_event_pkey'")
        assert cursor.fetchone()[0] == "PRIMARY KEY (id)"
    after_reverse = event_at(tenant, datetime(2029, 3, 5, tzinfo=UTC), "u3").pk
    executor.loader.build_graph()
    executor.migrate(partitioned)
    after_forward = event_at(tenant, datetime(2029, 4, 5, tzinfo=UTC), "u4")
    assert after_forward.pk > after_reverse > max(kept)  # one sequence, continued
    assert sorted(Event.objects.filter(tenant=tenant).values_list("pk", flat=True)) == [
        *kept,
        after_reverse,
        after_forward.pk,
    ]
    assert partition_of(Event(pk=kept[0])) == "analytics_event_y2029m01"  # existing months got their partitions


@pytest.mark.django_db(transaction=True)
def test_two_jobs_at_once_create_each_partition_once():
    """Two connections run the job together: the advisory lock makes one wait, and it then finds the work done."""
    results, errors = [], []

    def run() -> None:
        try:
            results.append(event_partitions_ensure(now=NOW))
        except Exception as error:  # reported below: an error in a thread would otherwise vanish
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(len(names) for names in results) == [0, 4]
    finally:
        for month in (6, 7, 8, 9):  # committed: leave the test database as the migration made it
            event_partition_drop(month=date(2031, month, 1))
