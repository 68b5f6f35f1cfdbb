"""The read replica: the adoption report reads through it, every write (and every row stored) comes from the primary.

The primary is its own replica here: a second connection to the test database, declared as the settings declare
DATABASE_REPLICA_URL (a TEST MIRROR of default). The tests commit (transaction=True), or the second connection would
not see their rows. The alias is declared for the whole session (pytest-django checks a test's databases against the
declared ones) but used only where a test turns the replica on: `replica_alias()` follows settings.DATABASES.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import DailyMetric, EventType
from analytics.selectors import day_bounds
from analytics.services.events import event_record
from analytics.services.metrics import adoption_metrics_compute, adoption_report
from core.db_router import REPLICA, replica_alias

ROOT = Path(__file__).resolve().parents[2]

if REPLICA not in connections:
    # A copy of the handler's map (it is settings.DATABASES itself), so that only connections know the alias.
    _primary = connections.settings[DEFAULT_DB_ALIAS]
    connections.settings = {
        **connections.settings,
        REPLICA: {**_primary, "TEST": {**_primary["TEST"], "MIRROR": DEFAULT_DB_ALIAS}},
    }
pytestmark = pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA])


@pytest.fixture
def replica(settings):
    """The replica turned on for one test, as DATABASE_REPLICA_URL does: the alias in DATABASES and the router."""
    added = REPLICA not in settings.DATABASES
    if added:
        settings.DATABASES[REPLICA] = connections.settings[REPLICA]  # in place: Django warns on replacing DATABASES
    settings.DATABASE_ROUTERS = ["core.db_router.PrimaryReplicaRouter"]
    yield connections[REPLICA]
    if added:
        del settings.DATABASES[REPLICA]


def sign_ins(tenant, when: datetime, users: int = 3) -> None:
    for n in range(users):
        event_record(tenant=tenant, type=EventType.SIGN_IN, user_id=f"user-{n}", method="password", occurred_at=when)


@pytest.fixture
def days(tenant):
    """Sign-ins today and on each of the two days before; returns (first, today)."""
    today = timezone.now().date()
    for back in range(3):
        sign_ins(tenant, day_bounds(today - timedelta(days=back))[0] + timedelta(minutes=1), users=3 + back)
    return today - timedelta(days=2), today


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries]


def is_write(sql: str) -> bool:
    return sql.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}


def test_without_a_replica_reports_read_the_primary():
    assert replica_alias() == DEFAULT_DB_ALIAS


def test_stored_days_and_today_are_read_through_the_replica(replica, tenant, days):
    first, today = days
    for day in (first, first + timedelta(days=1)):
        adoption_metrics_compute(tenant=tenant, day=day)
    with CaptureQueriesContext(replica) as read, CaptureQueriesContext(connection) as primary:
        report = adoption_report(tenant=tenant, first=first, last=today)
    assert [day["sign_ins"] for day in report["days"]] == [5, 4, 3]
    assert any('"analytics_dailymetric"' in sql for sql in statements(read))  # the stored rows
    today_start = f"'{day_bounds(today)[0]:%Y-%m-%d %H:%M:%S}"
    assert any('"analytics_event"' in sql and today_start in sql for sql in statements(read))  # today, live
    assert not any(is_write(sql) for sql in statements(read))
    assert statements(primary) == []  # nothing was missing: the primary is not asked at all


def test_missing_past_days_are_computed_and_stored_from_the_primary(replica, tenant, days):
    """A replica lags: a row stored from it would be stale for good, so only today's live figures come from it."""
    first, today = days
    with CaptureQueriesContext(replica) as read, CaptureQueriesContext(connection) as primary:
        report = adoption_report(tenant=tenant, first=first, last=today)
    today_start = f"'{day_bounds(today)[0]:%Y-%m-%d %H:%M:%S}"
    replica_events = [sql for sql in statements(read) if '"analytics_event"' in sql]
    assert replica_events and all(today_start in sql for sql in replica_events)  # today only, never a stored day
    assert not any('"analytics_knownuser"' in sql and is_write(sql) for sql in statements(read))
    assert not any(is_write(sql) for sql in statements(read))
    assert any(sql.startswith('INSERT INTO "analytics_knownuser"') for sql in statements(primary))  # the fold
    assert any('"analytics_event"' in sql for sql in statements(primary))  # the missing days' figures
    stored = DailyMetric.objects.using(DEFAULT_DB_ALIAS).filter(tenant=tenant).order_by("date")
    assert [(row.date, row.sign_ins) for row in stored] == [(first, 5), (first + timedelta(days=1), 4)]
    assert [day["sign_ins"] for day in report["days"]] == [5, 4, 3]


def test_api_adoption_reads_through_the_replica(replica, make_api, tenant, days):
    first, today = days
    api = make_api(tenant)
    adoption_metrics_compute(tenant=tenant, day=first)
    with CaptureQueriesContext(replica) as read:
        response = api.get(f"/v1/metrics/adoption?from={first.isoformat()}&to={first.isoformat()}")
    assert response.status_code == 200, response.content
    assert response.json()["days"][0]["sign_ins"] == 5
    assert any('"analytics_dailymetric"' in sql for sql in statements(read))
    assert not any(is_write(sql) for sql in statements(read))


def test_a_row_read_from_the_replica_is_saved_to_the_primary(replica, tenant, days):
    first, _ = days
    adoption_metrics_compute(tenant=tenant, day=first)
    row = DailyMetric.objects.using(REPLICA).get(tenant=tenant, date=first)
    row.sign_ins = 99
    with CaptureQueriesContext(replica) as read, CaptureQueriesContext(connection) as primary:
        row.save()
    assert not statements(read)
    assert any(is_write(sql) for sql in statements(primary))
    assert DailyMetric.objects.using(DEFAULT_DB_ALIAS).get(pk=row.pk).sign_ins == 99


def test_the_replica_is_never_migrated(replica):
    from django.db import router

    assert router.allow_migrate(REPLICA, "analytics", model_name="event") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "analytics", model_name="event") is True


def test_settings_declare_the_replica_as_a_test_mirror_of_the_primary():
    """DATABASE_REPLICA_URL adds the alias and the router; the test runner then reuses default's test database."""
    probe = (
        "import json; from django.conf import settings; "
        "print(json.dumps([settings.DATABASES['replica']['NAME'], settings.DATABASES['replica']['TEST'], "
        "settings.DATABASE_ROUTERS]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "passkey_service.settings",
        "DATABASE_REPLICA_URL": "postgres://reader@replica.internal:5432/passkeys",
    }
    output = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", probe], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    name, test, routers = json.loads(output)
    assert (name, test["MIRROR"], routers) == ("passkeys", "default", ["core.db_router.PrimaryReplicaRouter"])
