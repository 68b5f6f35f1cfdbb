"""Statements on the login path, written out once per process from the models instead of compiled per call.

The ORM builds and compiles a query's SQL on every call: on the 2-core benchmark machine that was 700 to 1,500 µs
of CPU for one SELECT, UPDATE or INSERT, most of what a login cost beyond its cryptography (scripts/bench.py). The
statements here take their table and column names from the models (a renamed field renames them too), bind values
as the fields prepare them for the database, and convert what they read with the ORM's own converters: they read
and write exactly what the ORM would, on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connections, models
from django.db.models.sql import Query


def quoted(name: str, using: str = "default") -> str:
    return connections[using].ops.quote_name(name)


def table(model: type[models.Model], using: str = "default") -> str:
    return quoted(model._meta.db_table, using)


def column(model: type[models.Model], name: str, using: str = "default") -> str:
    return quoted(model._meta.get_field(name).column, using)


def db_value(model: type[models.Model], name: str, value: Any, using: str = "default") -> Any:
    """`value` as the field binds it in a statement (a UUID as text on SQLite, JSON adapted, ...)."""
    return model._meta.get_field(name).get_db_prep_save(value, connection=connections[using])


@cache
def _insert(model: type[models.Model], using: str) -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(field for field in model._meta.concrete_fields if not field.primary_key)
    sql = (
        f"INSERT INTO {table(model, using)} ({', '.join(quoted(f.column, using) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quoted(model._meta.pk.column, using)}"
    )
    return sql, fields


def row_insert(instance: models.Model, using: str = "default") -> models.Model:
    """INSERT a new instance (every concrete field but its generated primary key) in one statement; sets its pk."""
    connection = connections[using]
    sql, fields = _insert(type(instance), using)
    # pre_save, as the ORM's INSERT: auto_now(_add) stamps, and whatever else a field fills in when saved.
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection=connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding, instance._state.db = False, using
    return instance


@cache
def _converters(fields: tuple[models.Field, ...], using: str) -> tuple[Any, dict]:
    connection = connections[using]
    compiler = connection.ops.compiler("SQLCompiler")(Query(None), connection, using)
    return compiler, compiler.get_converters([field.get_col(field.model._meta.db_table) for field in fields])


def rows_read(sql: str, params: Sequence[Any], fields: Sequence[models.Field], using: str = "default") -> list[list]:
    """Run a SELECT whose columns are `fields`, in order, and convert each value as the ORM would read it."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    compiler, converters = _converters(tuple(fields), using)
    return list(compiler.apply_converters(rows, converters)) if converters else [list(row) for row in rows]


def rows_update(sql: str, params: Sequence[Any], using: str = "default") -> int:
    """Run an UPDATE; the number of rows it changed."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
