"""Benchmark the daily adoption metrics job on 100k to 1M events, and print figures.

Usage: .venv/bin/python scripts/bench_metrics.py [--sizes 100000,300000,1000000] [--days 90]

For each size it loads one tenant's events straight into PostgreSQL with COPY (a realistic mix of
types, users, clients and providers over `days` days, plus the passkey users and credentials the
registrations made, and a second tenant's events as neighbours), then computes the whole range
with `adoption_metrics_compute_range` (what the `compute_adoption_metrics` task runs) in a fresh
Python process, so that its peak memory (ru_maxrss, and tracemalloc's peak for the compute step
alone) belongs to that size only. The database (passkeys_bench_metrics on 127.0.0.1, or
BENCH_METRICS_DATABASE_URL) is dropped and created by the script; the last size's stays for EXPLAIN.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/passkeys_bench_metrics"

# Shares of the events that are not registrations (those come from the credentials), like the demo's.
EVENT_MIX = {
    "sign_in": 380, "authentication.started": 240, "authentication.succeeded": 190, "authentication.failed": 8,
    "registration.started": 30, "registration.failed": 2, "nudge.decided": 60, "nudge.shown": 50,
    "nudge.accepted": 22, "nudge.dismissed": 18,
}  # fmt: skip
CLIENTS = [("iOS", "Mobile Safari", 30), ("Android", "Chrome Mobile", 24), ("Windows", "Chrome", 16),
           ("Windows", "Edge", 8), ("Windows", "Firefox", 4), ("Mac OS X", "Safari", 8), ("Mac OS X", "Chrome", 6),
           ("Linux", "Firefox", 2), ("Linux", "Chrome", 2)]  # fmt: skip
PROVIDERS = [("Apple Passwords", "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", True, 35),
             ("Google Password Manager", "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", True, 35),
             ("Windows Hello", "08987058-cadc-4b81-b6e1-30de50dcbe96", False, 15),
             ("1Password", "bada5566-a7aa-401f-bd96-45619a55120d", True, 7),
             ("Bitwarden", "d548826e-79b4-db40-a3d8-11116f7e8349", True, 5),
             ("", "cb69481e-8ff7-4039-93ec-0a2729a154a8", False, 3)]  # fmt: skip
METHODS = ["password"] * 7 + ["otp", "magic_link", "social"]
CODES = ["challenge_expired", "credential_not_found", "user_verification_required", "signature_invalid"]
EVENT_COLUMNS = (
    "tenant_id, type, occurred_at, user_id, code, method, os_family, browser_family, provider, credential_id"  # noqa: E501
)
# A COSE ES256 key's size; the bytes are random because nothing verifies them here.
PUBLIC_KEY_BYTES = 77


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "REDIS_URL": "", "SECRET_KEY": "bench-secret-key", "DEBUG": "false",
            "LOG_LEVEL": "WARNING"}  # fmt: skip


def _psql(url: str, sql: str) -> None:
    admin = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin, "-qc", sql], check=True, capture_output=True)


def _manage(url: str, *args: str) -> str:
    python = str(ROOT / ".venv" / "bin" / "python")
    return subprocess.run(
        [python, "manage.py", *args], cwd=ROOT, env=_env(url), check=True, capture_output=True, text=True
    ).stdout


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)
    return (f"{os.cpu_count()} cores, {model or platform.machine()}, {int(memory) / 2**20:.0f} GiB RAM, "
            f"Python {platform.python_version()}")  # fmt: skip


class _Loader:
    """One tenant's synthetic history, written with COPY in a single pass (one day's events in memory at a time)."""

    def __init__(self, connection: psycopg.Connection, tenant_id: str, *, first: date, days: int, seed: int) -> None:
        self.connection, self.tenant_id = connection, uuid.UUID(tenant_id)
        self.rng = random.Random(seed)  # noqa: S311 (synthetic data)
        self.start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        self.days, self.span = days, days * 86400.0
        self.types, self.type_weights = list(EVENT_MIX), list(accumulate(EVENT_MIX.values()))
        self.clients = [(os_, browser) for os_, browser, _ in CLIENTS]
        self.client_weights = list(accumulate(weight for *_, weight in CLIENTS))

    def load(self, events: int) -> tuple[int, int]:
        """Write `events` events, about 1 in 40 a registration with its credential; return (users, credentials).

        Day by day and in time order within a day, as a live service appends them, so that a day's rows sit
        together on disk as they would in production (a random order would make every day's scan slower).
        """
        users = max(1000, events // 25)
        credentials = sorted(self._credentials(self._passkey_users(users)), key=lambda row: row[3])
        others = events - len(credentials)
        copy_sql = f"COPY analytics_event ({EVENT_COLUMNS}) FROM STDIN"
        registered = 0
        with self.connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for day in range(self.days):
                start = self.start + timedelta(days=day)
                rows = []
                while registered < len(credentials) and credentials[registered][3] < start + timedelta(days=1):
                    user_id, credential_id, provider, created_at, client = credentials[registered]
                    row = (self.tenant_id, "registration.succeeded", created_at, user_id, "", "", *client, provider)
                    rows.append((*row, credential_id))
                    registered += 1
                today = others * (day + 1) // self.days - others * day // self.days
                rows.extend(self._event(start, users, credentials, registered) for _ in range(today))
                rows.sort(key=lambda row: row[2])
                for row in rows:
                    copy.write_row(row)
        return users, len(credentials)

    def _event(self, start: datetime, users: int, credentials: list[tuple], registered: int) -> tuple:
        """One event of the day that begins at `start`; passkey sign-ins use credentials registered by then."""
        rng = self.rng
        kind = rng.choices(self.types, cum_weights=self.type_weights)[0]
        client = rng.choices(self.clients, cum_weights=self.client_weights)[0]
        at = start + timedelta(seconds=86400 * rng.random())
        if kind in ("authentication.succeeded", "authentication.failed") and registered:
            user_id, credential_id, provider, created_at, _ = credentials[rng.randrange(registered)]
            code = rng.choice(CODES) if kind == "authentication.failed" else ""
            return (self.tenant_id, kind, max(at, created_at), user_id, code, "", *client, provider, credential_id)
        if kind.startswith("authentication.") and kind != "authentication.started":
            kind = "sign_in"  # nobody has a passkey yet
        user_id = f"user-{rng.randrange(users)}"
        if kind.endswith(".started"):  # no user agent at a start, nor a user for a discoverable login
            user_id = "" if kind == "authentication.started" else user_id
            return (self.tenant_id, kind, at, user_id, "", "", "", "", "", None)
        method = rng.choice(METHODS) if kind == "sign_in" else ""
        code = rng.choice(CODES) if kind.endswith(".failed") else ""
        return (self.tenant_id, kind, at, user_id, code, method, *client, "", None)

    def _end(self) -> datetime:
        return self.start + timedelta(seconds=self.span)

    def _passkey_users(self, users: int) -> dict[str, datetime]:
        """Six in ten users registered a passkey at some point of the range; returns user id -> when."""
        rng = self.rng
        adopters = {f"user-{n}": self.start + timedelta(seconds=self.span * rng.random() ** 0.7)
                    for n in range(users) if rng.random() < 0.6}  # fmt: skip
        with self.connection.cursor() as cursor:
            with cursor.copy("COPY passkeys_passkeyuser (tenant_id, user_id, handle, created_at) FROM STDIN") as copy:
                for user_id, created_at in adopters.items():
                    copy.write_row((self.tenant_id, user_id, rng.randbytes(32), created_at))
        return adopters

    def _credentials(self, adopters: dict[str, datetime]) -> list[tuple]:
        rng, rows = self.rng, []
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT user_id, id FROM passkeys_passkeyuser WHERE tenant_id = %s", [self.tenant_id])
            pks = dict(cursor.fetchall())
            copy_sql = ("COPY passkeys_credential (tenant_id, user_id, credential_id, public_key, algorithm, "
                        "sign_count, transports, aaguid, provider_name, attestation_format, backup_eligible, "
                        "backed_up, user_verified, name, created_at) FROM STDIN")  # fmt: skip
            with cursor.copy(copy_sql) as copy:
                for user_id, created_at in adopters.items():
                    for number in range(2 if rng.random() < 0.15 else 1):
                        name, aaguid, synced, _ = rng.choices(PROVIDERS, [p[3] for p in PROVIDERS])[0]
                        at = min(created_at + timedelta(days=30 * number * rng.random()), self._end())
                        credential_id = rng.randbytes(rng.choice((16, 20, 32)))
                        copy.write_row((self.tenant_id, pks[user_id], credential_id, rng.randbytes(PUBLIC_KEY_BYTES),
                                        -7, 0, '["internal", "hybrid"]', aaguid, name, "none", synced, synced, True,
                                        name or "Security key", at))  # fmt: skip
                        client = rng.choices(self.clients, cum_weights=self.client_weights)[0]
                        rows.append((user_id, credential_id, name, at, client))
        return rows


def prepare(url: str, events: int, days: int, seed: int) -> dict:
    """A fresh database with one measured tenant of `events` events and a neighbour with a tenth as many."""
    name = url.rsplit("/", 1)[1]
    _psql(url, f"DROP DATABASE IF EXISTS {name}")
    _psql(url, f"CREATE DATABASE {name} TEMPLATE {name}_template")
    first = datetime.now(UTC).date() - timedelta(days=days)  # complete days, ending yesterday
    tenants = [json.loads(_manage(url, "create_tenant", label, "--rp-id", f"{label.lower()}.example",
                                  "--origin", f"https://{label.lower()}.example"))["tenant_id"]
               for label in ("Measured", "Neighbour")]  # fmt: skip
    started = time.perf_counter()
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as connection:
        users, credentials = _Loader(connection, tenants[0], first=first, days=days, seed=seed).load(events)
        _Loader(connection, tenants[1], first=first, days=days, seed=seed + 1).load(events // 10)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")  # what autovacuum would have done by the time the job runs
    return {"tenant_id": tenants[0], "first": first.isoformat(), "last": (first + timedelta(days=days - 1)).isoformat(),
            "users": users, "credentials": credentials, "seed_s": time.perf_counter() - started}  # fmt: skip


def worker(tenant_id: str, first: str, last: str) -> None:
    """In a fresh process: compute the range once (timed), then again under tracemalloc (its peak)."""
    import resource
    import tracemalloc

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "passkey_service.settings")
    import django

    django.setup()
    from django.db import connection

    from analytics.services.metrics import adoption_metrics_compute_range
    from tenants.models import Tenant

    tenant = Tenant.objects.get(pk=tenant_id)
    connection.ensure_connection()
    span = {"first": date.fromisoformat(first), "last": date.fromisoformat(last), "tenants": [tenant]}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    rows = adoption_metrics_compute_range(**span)
    compute = time.perf_counter() - started
    tracemalloc.start()
    started = time.perf_counter()
    adoption_metrics_compute_range(**span)
    rerun = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({
        "days": len(rows), "compute_s": compute, "rerun_s": rerun, "tracemalloc_peak": peak,
        "rss_before_kb": rss_before, "rss_max_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "last_day": {"users": rows[-1].users, "passkey_users": rows[-1].passkey_users, "sign_ins": rows[-1].sign_ins},
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000", help="Event counts, comma-separated.")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker", nargs=3, metavar=("TENANT", "FIRST", "LAST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    url = os.environ.get("BENCH_METRICS_DATABASE_URL", DEFAULT_URL)
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0].replace("postgres://", "postgresql://", 1) + "/postgres") as admin:
        server = admin.execute("SHOW server_version").fetchone()[0]
    print(f"machine : {machine()}, PostgreSQL {server}")
    _psql(url, f"DROP DATABASE IF EXISTS {name}_template")
    _psql(url, f"CREATE DATABASE {name}_template")
    _manage(url.rsplit("/", 1)[0] + f"/{name}_template", "migrate", "--noinput", "-v0")
    results = []
    try:
        for events in (int(size) for size in args.sizes.split(",")):
            loaded = prepare(url, events, args.days, args.seed)
            python = str(ROOT / ".venv" / "bin" / "python")
            command = [python, __file__, "--worker", loaded["tenant_id"], loaded["first"], loaded["last"]]
            output = subprocess.run(command, cwd=ROOT, env=_env(url), check=True, capture_output=True, text=True)
            measured = {**loaded, **json.loads(output.stdout.strip().splitlines()[-1]), "events": events}
            results.append(measured)
            print(f"  {events:>9,} events loaded in {loaded['seed_s']:.1f} s; computed {measured['days']} days in "
                  f"{measured['compute_s']:.2f} s (last day: {measured['last_day']})", flush=True)  # fmt: skip
    finally:
        _psql(url, f"DROP DATABASE IF EXISTS {name}_template")
    print(f"\ncompute_adoption_metrics over {args.days} days for one tenant (a neighbour has a tenth as many events):")
    print(f"{'events':>10} {'users':>7} {'passkeys':>8} {'compute':>9} {'per day':>9} {'rerun':>8} "
          f"{'ru_maxrss':>10} {'before':>8} {'tracemalloc peak':>17}")  # fmt: skip
    for r in results:
        print(f"{r['events']:>10,} {r['users']:>7,} {r['credentials']:>8,} {r['compute_s']:>8.2f}s "
              f"{r['compute_s'] / r['days'] * 1000:>7.1f}ms {r['rerun_s']:>7.2f}s {r['rss_max_kb'] / 1024:>8.1f}MB "
              f"{r['rss_before_kb'] / 1024:>6.1f}MB {r['tracemalloc_peak'] / 2**20:>15.2f}MB")  # fmt: skip
    print("ru_maxrss: the compute process's peak RSS (before: after Django setup, before computing); "
          "tracemalloc peak: Python allocations of the second (re)computation alone.")  # fmt: skip


if __name__ == "__main__":
    main()
