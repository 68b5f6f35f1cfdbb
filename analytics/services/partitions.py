"""Monthly partitions of the events table (PostgreSQL): created ahead by beat, dropped whole by retention.

Since migration 0007 analytics_event is PARTITION BY RANGE (occurred_at): one partition per UTC month, named
analytics_event_yYYYYmMM, and a DEFAULT partition for rows no month covers, so an insert never fails. On SQLite the
table is plain: there are no partitions and these functions do nothing. Only names built here from dates are
formatted into SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import connection, transaction

TABLE = "analytics_event"
DEFAULT = f"{TABLE}_default"
# Every change to the set of partitions holds this advisory lock, so two beat runs, or a run and retention, queue.
LOCK_KEY = 7_263_001
# A catalog change waits this long at most for a lock held by a long read: inserts would queue behind the change
# meanwhile. It fails instead; the job runs again in a few hours, months ahead of need.
LOCK_TIMEOUT = "5s"
_BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class EventPartition:
    name: str
    start: datetime | None  # None for the default partition
    end: datetime | None

    @property
    def month(self) -> date | None:
        return self.start.astimezone(UTC).date() if self.start else None


def partition_name(month: date) -> str:
    return f"{TABLE}_y{month.year:04d}m{month.month:02d}"


def month_next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(month: date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


def event_partitions_list() -> list[EventPartition]:
    """The table's partitions by start, the default last; none when it is not partitioned (SQLite)."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
            [TABLE],
        )
        rows = cursor.fetchall()
    partitions = []
    for name, bound in rows:
        found = _BOUNDS.search(bound)
        start, end = (datetime.fromisoformat(found[1]), datetime.fromisoformat(found[2])) if found else (None, None)
        partitions.append(EventPartition(name=name, start=start, end=end))
    return sorted(partitions, key=lambda p: (p.start is None, p.start or datetime.min.replace(tzinfo=UTC)))


@contextmanager
def _catalog_change() -> Iterator[object]:
    """A transaction holding the partitions' advisory lock, where lock waits are bounded."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s), current_setting('lock_timeout')", [LOCK_KEY])
        previous = cursor.fetchone()[1]
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
        yield cursor
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])  # for a caller's transaction


def _exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    return cursor.fetchone()[0]


def event_partition_create(*, month: date) -> bool:
    """Create one month's partition, moving into it the rows of that month the default partition took; False when
    it exists already."""
    name, start, end = partition_name(month), _bound(month), _bound(month_next(month))
    with _catalog_change() as cursor:
        if _exists(cursor, name):
            return False
        # Built aside and attached, rather than CREATE ... PARTITION OF: attaching locks analytics_event only
        # against other schema changes, so inserts and reads go on meanwhile.
        cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)")
        # Attaching refuses while the default partition holds rows of the new range: move them first, with no
        # insert landing there between the move and the attach. Both have the parent's columns in its order.
        cursor.execute(f"LOCK TABLE {DEFAULT} IN EXCLUSIVE MODE")
        moved = f"DELETE FROM {DEFAULT} WHERE occurred_at >= {start} AND occurred_at < {end} RETURNING *"  # noqa: S608
        cursor.execute(f"WITH moved AS ({moved}) INSERT INTO {name} SELECT * FROM moved")  # noqa: S608
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ({start}) TO ({end})")
    return True


def event_partitions_ensure(*, now: datetime, months_ahead: int = 3) -> list[str]:
    """Create the partitions of now's month and the `months_ahead` after it, and of any month with rows in the
    default partition (late or imported events), so that retention can drop them whole. Returns the names created;
    safe to run twice at once."""
    partitions = event_partitions_list()
    if not partitions:
        return []
    with connection.cursor() as cursor:
        months_of_rows = "SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date FROM "
        cursor.execute(months_of_rows + DEFAULT)
        months = {row[0] for row in cursor.fetchall() if row[0].year < 9999}  # 9999-12 has no end: stays in default
    month = now.astimezone(UTC).date().replace(day=1)
    for _ in range(months_ahead + 1):
        months.add(month)
        month = month_next(month)
    existing = {partition.month for partition in partitions}
    return [partition_name(month) for month in sorted(months - existing) if event_partition_create(month=month)]


def event_partition_drop(*, month: date) -> int:
    """Detach and drop one month's partition; returns its exact row count, counted first (an index-only scan on an
    old, vacuumed partition)."""
    name = partition_name(month)
    with _catalog_change() as cursor:
        if not _exists(cursor, name):
            return 0
        cursor.execute(f"LOCK TABLE {name} IN EXCLUSIVE MODE")  # no insert between the count and the drop
        cursor.execute(f"SELECT count(*) FROM {name}")  # noqa: S608
        rows = cursor.fetchone()[0]
        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
        cursor.execute(f"DROP TABLE {name}")
    return rows


def event_partition_rows_delete(*, month: date | None, tenant_id: object, before: datetime, batch_size: int) -> int:
    """Delete one tenant's rows older than `before` from one partition (the default one for month None), at most
    `batch_size` a statement, so that outside a transaction no statement holds many row locks or much WAL."""
    table = partition_name(month) if month else DEFAULT
    deleted = 0
    with connection.cursor() as cursor:
        while True:
            # ctid is unique within one partition: the rows are found by the (tenant, time) index and deleted by
            # address, without a second lookup.
            cursor.execute(
                f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table}"  # noqa: S608
                " WHERE tenant_id = %s AND occurred_at < %s LIMIT %s))",
                [tenant_id, before, batch_size],
            )
            deleted += cursor.rowcount
            if cursor.rowcount < batch_size:
                return deleted
