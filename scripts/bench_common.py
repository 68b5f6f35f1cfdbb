"""What the benchmarks share: the servers they start, the databases they reset, the HTTP client, CPU from /proc."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.authenticator import SoftAuthenticator  # noqa: E402

RP_ID = "bench.example"
ORIGIN = f"https://{RP_ID}"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/passkeys_bench"),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        "SECRET_KEY": "bench-secret-key",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        # The browsers' reports all come from 127.0.0.1: a limit the load never reaches, still checked.
        "RATE_LIMIT_CLIENT_EVENTS_PER_IP": "10000000",
    }


def manage(*args: str, env: dict[str, str] | None = None) -> str:
    """Run manage.py against the benchmark's servers, or those `env` names; returns its stdout."""
    python = str(ROOT / ".venv" / "bin" / "python")
    return subprocess.run(
        [python, "manage.py", *args], cwd=ROOT, env=env or _env(), check=True, capture_output=True, text=True
    ).stdout


def _prepare_database() -> None:
    url = _env()["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True, capture_output=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    subprocess.run(["redis-cli", "-u", _env()["REDIS_URL"], "flushdb"], check=True, capture_output=True)
    manage("migrate", "--noinput", "-v0")


class Client:
    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(self, path: str, body: dict, headers: dict[str, str] | None = None) -> tuple[int, dict, float]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        started = time.perf_counter()
        connection.request("POST", path, json.dumps(body), headers or self.headers)
        response = connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        connection.close()
        return response.status, json.loads(payload) if payload else {}, elapsed


def _worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {pick(0.50):.2f} ms, p95 {pick(0.95):.2f} ms, p99 {pick(0.99):.2f} ms, max {ordered[-1] * 1000:.2f} ms"


def bench_tenant(name: str, rp_id: str, origin: str, env: dict[str, str] | None = None) -> dict:
    """A tenant whose rate limits stay in the measured path with limits the load never reaches."""
    created = json.loads(manage("create_tenant", name, "--rp-id", rp_id, "--origin", origin, env=env))
    manage("shell", "-c", f"from tenants.models import Tenant; Tenant.objects.filter(pk='{created['tenant_id']}')"
           ".update(rate_limit_per_key=10**7, rate_limit_per_user=10**7)", env=env)  # fmt: skip
    return created


def server_start(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    """An app server's command, listening on 127.0.0.1:port, returned once /healthz answers."""
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
            break
        except OSError:
            time.sleep(0.1)
    return server


def gunicorn_start(port: int, env: dict[str, str], *options: str) -> subprocess.Popen:
    """gunicorn on 127.0.0.1:port, returned once /healthz answers."""
    return server_start(
        [str(ROOT / ".venv/bin/gunicorn"), "passkey_service.wsgi", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", *options],
        port, env,
    )  # fmt: skip


def register_users(client: Client, count: int) -> tuple[list[SoftAuthenticator], list[str]]:
    """`count` users with one discoverable passkey each: their authenticators and credential ids."""
    # Platform passkeys mostly keep their counter at 0, so logins may finish in any order.
    authenticators, credential_ids = [], []
    for number in range(count):
        authenticator = SoftAuthenticator(counter=False)
        user_id = f"user-{number}"
        status, body, _ = client.post("/v1/registrations/start", {"user_id": user_id, "username": user_id})
        credential = authenticator.create(body["public_key"], origin=ORIGIN)
        status, body, _ = client.post("/v1/registrations/finish", {"credential": credential})
        assert status == 201, body
        authenticators.append(authenticator)
        credential_ids.append(body["credential"]["id"])
    return authenticators, credential_ids
