"""Benchmark the adoption metrics at 1 M and 10 M events for one tenant, and print figures.

Usage: .venv/bin/python scripts/bench_metrics.py [--events 1000000,10000000] [--days 400] [--json PATH]

For each size the database (passkeys_benchmetrics on 127.0.0.1, or BENCH_METRICS_DATABASE_URL) is dropped, created
and migrated; then, in a fresh Python process (so that its peak memory belongs to that size only), one tenant gets
`events` events over `days` days ending yesterday and three neighbours a hundredth as many each, all written by
INSERT … SELECT … FROM generate_series (a mix of event types like the demo's, one user in 25 events, six in ten users
with a passkey), and it measures: the first (full) known-user fold, the computation of one day and of 90 days
(`adoption_metrics_compute_days`), one day's figures alone, an incremental fold after a day of new events, the
process's peak RSS and the tables' sizes. When analytics_event is partitioned (migration 0007) it runs on the
partitions, one per month of the span.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/passkeys_benchmetrics"
USERS_PER_EVENT = 25  # one user for every 25 events
NEIGHBOURS = 3  # other tenants, a hundredth of the measured one's events each

# The measured tenant's mix of event types, in thousandths (a bucket of each event's hash picks one).
TYPE_BUCKETS = [
    (350, "sign_in"), (550, "authentication.started"), (720, "authentication.succeeded"),
    (730, "authentication.failed"), (760, "registration.started"), (780, "registration.succeeded"),
    (790, "registration.failed"), (830, "nudge.shown"), (845, "nudge.accepted"), (860, "nudge.dismissed"),
    (930, "login.decided"), (1000, "authentication.client_outcome"),
]  # fmt: skip
OS_BROWSERS = (
    "array['iOS','Android','Windows','Windows','Mac OS X','Linux']",
    ("array['Mobile Safari','Chrome Mobile','Chrome','Edge','Safari','Firefox']"),
)
PROVIDERS = "array['Apple Passwords','Google Password Manager','Windows Hello','1Password','Bitwarden']"


def _sql_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "REDIS_URL": "", "SECRET_KEY": "bench-secret-key-0123456789abcdef",
            "DEBUG": "false", "LOG_LEVEL": "WARNING", "DATABASE_REPLICA_URL": ""}  # fmt: skip


def machine(url: str) -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)
    with psycopg.connect(_sql_url(url.rsplit("/", 1)[0] + "/postgres")) as admin:
        server = admin.execute("SHOW server_version").fetchone()[0]
    return {"nproc": os.cpu_count(), "cpu": model or platform.machine(), "ram_gib": round(int(memory) / 2**20, 1),
            "postgresql": server, "python": platform.python_version()}  # fmt: skip


def database_fresh(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(_sql_url(url.rsplit("/", 1)[0] + "/postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=_env(url), check=True)


# --- In the worker process (Django set up on the bench database).


def _event_select(fields: dict[str, str]) -> tuple[str, str]:
    """Every column of analytics_event: the generated ones from `fields`, the others blank (text) or NULL."""
    from analytics.models import Event

    columns, values = [], []
    for field in Event._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        values.append(fields.get(field.column, "NULL" if field.null else "''"))
    return ", ".join(columns), ", ".join(values)


def events_insert(cursor, *, tenant_id, start: datetime, seconds: float, count: int, users: int, seed: int) -> None:
    """`count` events spread evenly over [start, start + seconds), in time order as a live service appends them."""
    kind = "CASE " + " ".join(f"WHEN h %% 1000 < {bound} THEN '{name}'" for bound, name in TYPE_BUCKETS) + " END"
    passkey_user = "'user-' || (u - u %% 10 + (u %% 10) %% 6)"  # six users in ten hold a passkey
    operating_systems, browsers = OS_BROWSERS
    fields = {
        "tenant_id": "%(tenant)s",
        "type": "kind",
        "occurred_at": "%(start)s::timestamptz + (g * %(step)s) * interval '1 second'",
        "user_id": "CASE WHEN kind IN ('authentication.succeeded', 'authentication.client_outcome') THEN "
        f"{passkey_user} WHEN kind = 'authentication.started' AND h %% 2 = 0 THEN '' ELSE 'user-' || u END",
        "method": "CASE kind WHEN 'sign_in' THEN (array['password','password','password','otp','magic_link'])"
        "[1 + h %% 5] WHEN 'login.decided' THEN (array['passkey','passkey_autofill','password'])[1 + h %% 3] "
        "ELSE '' END",
        "code": "CASE kind WHEN 'authentication.failed' THEN 'signature_invalid' WHEN 'login.decided' THEN "
        "(array['usable_on_platform','no_passkey','remembered_on_device'])[1 + h %% 3] ELSE '' END",
        "os_family": f"CASE WHEN kind LIKE '%%.started' THEN '' ELSE ({operating_systems})[1 + (h / 7) %% 6] END",
        "browser_family": f"CASE WHEN kind LIKE '%%.started' THEN '' ELSE ({browsers})[1 + (h / 7) %% 6] END",
        "provider": f"CASE WHEN kind IN ('authentication.succeeded', 'registration.succeeded') "
        f"THEN ({PROVIDERS})[1 + (h / 11) %% 5] ELSE '' END",
        "attachment": "CASE WHEN kind = 'authentication.succeeded' THEN "
        "(CASE WHEN h %% 10 = 0 THEN 'cross-platform' ELSE 'platform' END) ELSE '' END",
        "mediation": "CASE WHEN kind LIKE 'registration.s%%' AND h %% 5 = 0 THEN 'conditional' ELSE '' END",
        "outcome": "CASE WHEN kind = 'authentication.client_outcome' THEN "
        "(array['succeeded','succeeded','succeeded','succeeded','cancelled','timed_out','no_credential','error'])"
        "[1 + (h / 13) %% 8] ELSE '' END",
        "duration_ms": "CASE WHEN kind = 'authentication.client_outcome' THEN 400 + h %% 9000 END",
        "capabilities": "CASE WHEN kind = 'authentication.client_outcome' AND h %% 2 = 0 THEN "
        '\'{"conditionalGet": true, "hybridTransport": true}\'::jsonb END',
    }
    columns, values = _event_select(fields)
    cursor.execute(
        f"INSERT INTO analytics_event ({columns}) SELECT {values} FROM ("  # noqa: S608 - our own SQL
        f"  SELECT g, h, h / 1000 %% %(users)s AS u, {kind} AS kind FROM ("
        f"    SELECT g, abs(hashint8(g + %(seed)s)) AS h FROM generate_series(0, %(count)s - 1) AS g) AS hashed"
        f") AS picked",
        {"tenant": tenant_id, "start": start, "step": seconds / count, "users": users, "seed": seed, "count": count},
    )


def passkeys_insert(cursor, *, tenant, start: datetime, seconds: float, users: int) -> int:
    """A PasskeyUser and a credential for six users in ten, made at some point of the span; returns how many."""
    from passkeys.models import Credential
    from passkeys.services.credentials import credential_import

    template = credential_import(
        tenant=tenant, user_id="template", credential_id=b"template", public_key=b"\xa5" * 77, algorithm=-7,
        aaguid="fbfc3007-154e-4ecc-8c0b-6e020557d7bd", backup_eligible=True, backed_up=True, created_at=start,
    )  # fmt: skip
    cursor.execute(
        "INSERT INTO passkeys_passkeyuser (tenant_id, user_id, handle, created_at) "
        "SELECT %(tenant)s, 'user-' || u, sha256(convert_to(%(tenant)s::text || u, 'UTF8')), now() "
        "FROM generate_series(0, %(users)s - 1) AS u WHERE u %% 10 < 6",
        {"tenant": tenant.pk, "users": users},
    )
    made = {
        "user_id": "p.id",
        "credential_id": "sha256(convert_to('credential-' || p.user_id, 'UTF8'))",
        "created_at": "%(start)s::timestamptz + (abs(hashint8(p.id)) %% 1000000) * %(step)s * interval '1 second'",
    }
    columns = [f.column for f in Credential._meta.concrete_fields if not f.primary_key]
    values = [made.get(column, f"t.{column}") for column in columns]
    cursor.execute(
        f"INSERT INTO passkeys_credential ({', '.join(columns)}) SELECT {', '.join(values)} "  # noqa: S608
        "FROM passkeys_passkeyuser p, passkeys_credential t WHERE p.tenant_id = %(tenant)s AND t.id = %(template)s "
        "AND p.user_id <> 'template'",
        {"tenant": tenant.pk, "template": template.pk, "start": start, "step": seconds / 1000000},
    )
    return cursor.rowcount + 1


def partitions_ensure(first: date, last: date) -> int:
    """One partition per month of the span, when analytics_event is partitioned (0007); returns how many exist."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass('analytics_event')")
        if cursor.fetchone()[0] != "p":
            return 0
    from analytics.services.partitions import event_partition_create, event_partitions_list, month_next

    month = first.replace(day=1)
    while month <= last:
        event_partition_create(month=month)
        month = month_next(month)
    return len(event_partitions_list())


def sizes() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid), c.reltuples::bigint FROM pg_class c "
            "WHERE c.relname IN ('analytics_knownuser', 'passkeys_credential', 'passkeys_passkeyuser') "
            "OR (c.relkind = 'r' AND c.relname LIKE 'analytics_event%%')"
        )
        tables = {name: {"bytes": size, "rows": rows} for name, size, rows in cursor.fetchall()}
    events = {name: t for name, t in tables.items() if name.startswith("analytics_event")}
    largest = max(events.items(), key=lambda item: item[1]["bytes"])
    return {
        "events_bytes": sum(t["bytes"] for t in events.values()),
        "event_tables": len(events),
        "largest_event_table": {"name": largest[0], **largest[1]},
        **{name: t for name, t in tables.items() if not name.startswith("analytics_event")},
    }


def _timed(function, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(**kwargs)
    return time.perf_counter() - started, result


def worker(events: int, days: int) -> dict:
    import resource

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "passkey_service.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from analytics.models import Event, KnownUser
    from analytics.selectors import day_bounds, day_figures
    from analytics.services.metrics import adoption_metrics_compute_days, known_users_fold
    from tenants.services import tenant_create

    today = datetime.now(UTC).date()
    first, yesterday = today - timedelta(days=days), today - timedelta(days=1)
    start, seconds = day_bounds(first)[0], days * 86400.0
    partitions = partitions_ensure(first, today)
    tenants = [
        tenant_create(name=f"Tenant {n}", rp_id=f"t{n}.example", origins=[f"https://t{n}.example"])
        for n in range(NEIGHBOURS + 1)
    ]
    measured, users = tenants[0], max(1000, events // USERS_PER_EVENT)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # The rows point at tenants and users made just above: skip the per-row foreign-key triggers (a third of
        # the load's time), as a bulk restore does. Indexes stay: they are part of what is measured.
        cursor.execute("SET LOCAL session_replication_role = replica")
        for n, tenant in enumerate(tenants):
            count = events if n == 0 else events // 100
            tenant_users = users if n == 0 else max(100, count // USERS_PER_EVENT)
            passkeys = passkeys_insert(cursor, tenant=tenant, start=start, seconds=seconds, users=tenant_users)
            events_insert(
                cursor, tenant_id=tenant.pk, start=start, seconds=seconds, count=count, users=tenant_users, seed=n
            )
            if n == 0:
                measured_passkeys = passkeys
    load_s = time.perf_counter() - started
    connection.ensure_connection()
    with connection.cursor() as cursor:  # what autovacuum would have done by the time the job runs
        cursor.execute("VACUUM ANALYZE")
    print(f"  loaded {events:,} events (+{NEIGHBOURS} x {events // 100:,}) in {load_s:.1f} s", flush=True)

    result = {"events": events, "days": days, "users": users, "passkeys": measured_passkeys, "load_s": load_s,
              "partitions": partitions}  # fmt: skip
    result["fold_full_s"], _ = _timed(known_users_fold, tenant=measured, until=day_bounds(yesterday)[1])
    result["known_users"] = KnownUser.objects.filter(tenant=measured).count()
    result["day_figures_s"], _ = _timed(day_figures, tenant=measured, day=yesterday)
    result["compute_1_day_s"], _ = _timed(
        adoption_metrics_compute_days, tenant=measured, first=yesterday, last=yesterday
    )
    result["compute_90_days_s"], _ = _timed(
        adoption_metrics_compute_days, tenant=measured, first=yesterday - timedelta(days=89), last=yesterday
    )
    # A day of new events (today until now, new users among them), then the job's fold: it reads only those.
    now = datetime.now(UTC)
    new = events // days
    with transaction.atomic(), connection.cursor() as cursor:
        today_start = day_bounds(today)[0]
        events_insert(cursor, tenant_id=measured.pk, start=today_start, seconds=(now - today_start).total_seconds(),
                      count=new, users=users + users // days, seed=99)  # fmt: skip
    result["new_events"] = new
    result["fold_incremental_s"], _ = _timed(known_users_fold, tenant=measured, until=day_bounds(today)[1])
    result["known_users_after"] = KnownUser.objects.filter(tenant=measured).count()
    start_day, end_day = day_bounds(yesterday - timedelta(days=40))  # a day inside a full month's partition
    plan = Event.objects.filter(tenant=measured, occurred_at__gte=start_day, occurred_at__lt=end_day).explain()
    result["day_plan"] = plan.splitlines()[:6]
    result["rss_max_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["sizes"] = sizes()
    return result


def report(results: list[dict]) -> None:
    print(f"\n{'events':>11} {'load':>7} {'full fold':>10} {'1 day':>7} {'90 days':>8} {'day figs':>9} "
          f"{'incr. fold':>11} {'peak RSS':>9} {'events size':>12} {'known users':>12}")  # fmt: skip
    for r in results:
        print(f"{r['events']:>11,} {r['load_s']:>6.1f}s {r['fold_full_s']:>9.2f}s {r['compute_1_day_s']:>6.2f}s "
              f"{r['compute_90_days_s']:>7.2f}s {r['day_figures_s']:>8.3f}s {r['fold_incremental_s']:>10.3f}s "
              f"{r['rss_max_mb']:>7.0f}MB {r['sizes']['events_bytes'] / 2**20:>10.0f}MB "
              f"{r['known_users_after']:>12,}")  # fmt: skip
    for r in results:
        s = r["sizes"]
        largest = s["largest_event_table"]
        print(f"{r['events']:,} events: {s['event_tables']} event table(s) ({r['partitions']} partitions), largest "
              f"{largest['name']} {largest['bytes'] / 2**20:.0f} MB ({largest['rows']:,} rows); KnownUser "
              f"{s['analytics_knownuser']['bytes'] / 2**20:.0f} MB, credentials "
              f"{s['passkeys_credential']['bytes'] / 2**20:.0f} MB ({r['passkeys']:,}); incremental fold read "
              f"{r['new_events']:,} new events")  # fmt: skip
        print("  one day's events:", " / ".join(line.strip() for line in r["day_plan"][:3]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="1000000,10000000", help="Event counts of the measured tenant.")
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--json", type=Path, help="Write the results there.")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.days)))
        return
    url = os.environ.get("BENCH_METRICS_DATABASE_URL", DEFAULT_URL)
    host = machine(url)
    print(f"machine: {host['nproc']} cores ({host['cpu']}), {host['ram_gib']} GiB, PostgreSQL {host['postgresql']}")
    results = []
    for events in (int(size) for size in args.events.split(",")):
        database_fresh(url)
        command = [sys.executable, __file__, "--worker", str(events), "--days", str(args.days)]
        process = subprocess.run(command, cwd=ROOT, env=_env(url), check=True, stdout=subprocess.PIPE, text=True)
        *lines, last = process.stdout.strip().splitlines()
        print("\n".join(lines), flush=True)
        results.append(json.loads(last))
    report(results)
    if args.json:
        args.json.write_text(json.dumps({"machine": host, "results": results}, indent=2, default=str))


if __name__ == "__main__":
    main()
