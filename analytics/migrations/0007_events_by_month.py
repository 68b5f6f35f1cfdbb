"""Partition analytics_event by UTC month of occurred_at (PostgreSQL only; SQLite keeps the plain table).

The table is rebuilt in this migration's transaction: renamed aside, a table LIKE it created PARTITION BY RANGE
(occurred_at) with a partition per month that has rows, this month and the next three, and a DEFAULT partition (so
an insert never fails for want of a partition); the rows are copied, then the old table's indexes, foreign keys and
id sequence move over. The primary key becomes (id, occurred_at), since a partitioned table's unique keys must hold
the partition key; ids still come from one sequence, so Django keeps `id` as the pk. Only RunPython, so Django's
state of Event is unchanged and makemigrations stays clean. Reversing rebuilds a plain table the same way.
Both directions hold an ACCESS EXCLUSIVE lock on the table while they copy (about 30 s per million rows on a busy
2-core machine): on a large table, run it in a maintenance window. Partition names and bounds are a frozen copy
of analytics/services/partitions.py's, as a migration must not import code that changes later.
"""

from datetime import UTC, date, datetime

from django.db import migrations

TABLE = "analytics_event"
ASIDE = "analytics_event_rebuilt_by_0007"
MONTHS_AHEAD = 3
LIKE = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS INCLUDING STATISTICS"


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(month: date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


def _carried_over(cursor) -> tuple[list[str], list[str], int]:
    """What the rebuild keeps besides rows and columns: the index and foreign-key DDL (primary key aside, it
    changes) and the id sequence's last value (it may be past max(id) when the newest rows were deleted)."""
    cursor.execute(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass AND NOT indisprimary",
        [TABLE],
    )
    indexes = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', %s, conname, pg_get_constraintdef(oid))"
        " FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [TABLE, TABLE],
    )
    foreign_keys = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        f"SELECT greatest(pg_sequence_last_value(pg_get_serial_sequence(%s, 'id')::regclass),"  # noqa: S608
        f" (SELECT max(id) FROM {TABLE}), 0)",
        [TABLE],
    )
    return indexes, foreign_keys, cursor.fetchone()[0]


def _relkind(cursor) -> str | None:
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
    row = cursor.fetchone()
    return row[0] if row else None


def _rebuild_rest(cursor, *, primary_key: str, indexes: list[str], foreign_keys: list[str]) -> None:
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY ({primary_key})")
    for statement in indexes + foreign_keys:
        cursor.execute(statement)
    cursor.execute(f"ANALYZE {TABLE}")  # autovacuum never analyzes a partitioned parent, nor a fresh copy soon


def partition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if _relkind(cursor) == "p":
            return
        cursor.execute("SELECT count(*) FROM pg_constraint WHERE confrelid = %s::regclass", [TABLE])
        if cursor.fetchone()[0]:
            raise RuntimeError(
                f"A foreign key references {TABLE}: a partitioned table cannot be referenced by id alone"
            )
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        indexes, foreign_keys, last_id = _carried_over(cursor)
        month_of_rows = "SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date FROM "
        cursor.execute(month_of_rows + TABLE)
        months = {row[0] for row in cursor.fetchall() if row[0].year < 9999}  # 9999-12 has no end bound: default
        month = datetime.now(UTC).date().replace(day=1)
        for _ in range(MONTHS_AHEAD + 1):
            months.add(month)
            month = _next(month)

        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {ASIDE}")
        cursor.execute(f"CREATE TABLE {TABLE} (LIKE {ASIDE} {LIKE}) PARTITION BY RANGE (occurred_at)")
        for month in sorted(months):
            cursor.execute(
                f"CREATE TABLE {TABLE}_y{month.year:04d}m{month.month:02d} PARTITION OF {TABLE}"
                f" FOR VALUES FROM ({_bound(month)}) TO ({_bound(_next(month))})"
            )
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {ASIDE}")  # noqa: S608 - same columns, same order (LIKE)
        cursor.execute(f"DROP TABLE {ASIDE}")  # with its indexes and identity sequence, freeing their names
        # An identity column is not allowed on a partitioned table before PostgreSQL 17: a sequence it owns instead.
        cursor.execute(f"CREATE SEQUENCE {TABLE}_id_seq OWNED BY {TABLE}.id")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{TABLE}_id_seq')")
        if last_id:
            cursor.execute(f"SELECT setval('{TABLE}_id_seq', %s)", [last_id])
        _rebuild_rest(cursor, primary_key="id, occurred_at", indexes=indexes, foreign_keys=foreign_keys)


def unpartition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if _relkind(cursor) != "p":
            return
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        indexes, foreign_keys, last_id = _carried_over(cursor)
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {ASIDE}")
        cursor.execute(f"CREATE TABLE {TABLE} (LIKE {ASIDE} {LIKE})")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id DROP DEFAULT")  # the sequence goes with the old table
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {ASIDE}")  # noqa: S608
        cursor.execute(f"DROP TABLE {ASIDE}")  # with its partitions and sequence
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        if last_id:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), %s)", [last_id])
        _rebuild_rest(cursor, primary_key="id", indexes=indexes, foreign_keys=foreign_keys)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0006_metrics_watermark")]

    operations = [migrations.RunPython(partition, unpartition)]
