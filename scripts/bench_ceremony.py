"""scripts/bench.py --ceremony: full passkey logins in a loop against one or more app servers, side by side.

Per server: N client threads, one persistent HTTP/1.1 connection each (reopened whenever the server closes it),
loop start (discoverable) -> sign with the software authenticator -> finish. Server CPU is the app workers'
utime + stime from /proc; the client's own CPU (signing, HTTP, JSON) shares the machine's cores, so it is measured
apart and kept out. Then an in-process floor (options + parse + verify + the sign-count UPDATE, time.process_time)
and a comparison table; the figures also go to a JSON file.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench_common import (
    ORIGIN,
    ROOT,
    Client,
    SoftAuthenticator,
    _cpu_seconds,
    _env,
    _prepare_database,
    _worker_pids,
    bench_tenant,
    register_users,
    server_start,
)

from tests.support.authenticator import b64url_decode

SERVERS = ("gunicorn-sync", "gunicorn-gthread", "granian")
START, FINISH = "/v1/authentications/start", "/v1/authentications/finish"
PACED_SHARE = 0.7  # of the peak ceremonies/s: a busy server that is not saturated
Job = tuple[str, str, dict | None]  # method, path, JSON body


def server_command(spec: str, *, workers: int, threads: int, port: int) -> list[str]:
    """The command line of a server spec "kind[:threads]"; threads (gthread's, granian's blocking) default to
    --threads."""
    kind, _, count = spec.partition(":")
    threads = int(count or threads)
    bin_dir = ROOT / ".venv" / "bin"
    if kind == "granian":
        return [str(bin_dir / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--blocking-threads", str(threads), "--log-level", "warning", "--no-ws",
                "passkey_service.wsgi:application"]  # fmt: skip
    worker = {"gunicorn-sync": ["--worker-class", "sync"], "gunicorn-gthread": ["--worker-class", "gthread",
              "--threads", str(threads)]}[kind]  # fmt: skip
    return [str(bin_dir / "gunicorn"), "passkey_service.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--log-level", "warning", *worker]  # fmt: skip


class Connection:
    """One client's HTTP/1.1 connection, kept open across requests when the server allows it."""

    def __init__(self, port: int, api_key: str, keep_alive: bool) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        if not keep_alive:
            self.headers["Connection"] = "close"
        self.opened = 0

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, float]:
        payload = None if body is None else json.dumps(body)
        for attempt in (1, 2):
            self.opened += self.http.sock is None  # http.client connects on demand
            started = time.perf_counter()
            try:
                self.http.request(method, path, payload, self.headers)
                response = self.http.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server dropped a connection idle past its keep-alive timeout: send once more on a fresh one.
                self.http.close()
                if attempt == 2:
                    raise
        return response.status, json.loads(data) if data else {}, time.perf_counter() - started


def quantiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of latencies in seconds, in milliseconds."""
    ordered = sorted(samples) or [0.0]
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)  # noqa: E731
    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": round(ordered[-1] * 1000, 2)}


@dataclass
class Tally:
    """One client's record of a ceremony loop."""

    ceremonies: int = 0
    failed: int = 0
    start: list[float] = field(default_factory=list)
    finish: list[float] = field(default_factory=list)
    sign_cpu: float = 0.0  # this thread's CPU seconds inside SoftAuthenticator.get


def ceremony(connection: Connection, authenticator: SoftAuthenticator, tally: Tally) -> None:
    status, body, elapsed = connection.call("POST", START, {})
    tally.start.append(elapsed)
    if status != 200:
        tally.failed += 1
        return
    cpu = time.thread_time()
    assertion = authenticator.get(body["public_key"], origin=ORIGIN)
    tally.sign_cpu += time.thread_time() - cpu
    status, _, elapsed = connection.call("POST", FINISH, {"credential": assertion})
    tally.finish.append(elapsed)
    if status == 200:
        tally.ceremonies += 1
    else:
        tally.failed += 1


def in_parallel(count: int, work: Callable[[int], object]) -> list:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(work, range(count)))


class Server:
    """A running app server: its process, its workers' pids and one connection per client."""

    def __init__(self, spec: str, args: argparse.Namespace, port: int, api_key: str) -> None:
        self.command = server_command(spec, workers=args.workers, threads=args.threads, port=port)
        self.port = port
        self.process = server_start(self.command, port, _env())
        self.workers: list[int] = []
        self.connections = [Connection(port, api_key, not args.no_keep_alive) for _ in range(args.concurrency)]
        deadline = time.monotonic() + 60  # a loaded machine imports Django slowly
        while time.monotonic() < deadline and self.process.poll() is None:
            self.workers = _worker_pids(self.process.pid)
            if len(self.workers) >= args.workers and self._answers():
                return
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"{spec} did not answer /healthz with {args.workers} workers: {' '.join(self.command)}")

    def _answers(self) -> bool:
        try:
            return self.connections[0].call("GET", "/healthz")[0] == 200
        except OSError:
            self.connections[0].http.close()
            return False

    def stop(self) -> None:
        workers = set(self.workers) | set(_worker_pids(self.process.pid) if self.process.poll() is None else [])
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        # granian's workers outlive a master stopped while they still import the app.
        for pid in workers:
            with contextlib.suppress(OSError):  # gone already, as it should be
                if b"passkey_service.wsgi" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)

    def cpu(self) -> float:
        return _cpu_seconds(self.workers)

    def requests(self, jobs: list[list[Job]], expected: int) -> dict:
        """Connection i sends jobs[i] in order, all connections at once: rate, server CPU and latency."""

        def send(index: int) -> tuple[list[float], int]:
            latencies, failed = [], 0
            for method, path, body in jobs[index]:
                status, _, elapsed = self.connections[index].call(method, path, body)
                latencies.append(elapsed)
                failed += status != expected
            return latencies, failed

        cpu, wall = self.cpu(), time.perf_counter()
        results = in_parallel(len(jobs), send)
        wall, cpu = time.perf_counter() - wall, self.cpu() - cpu
        latencies = [latency for client, _ in results for latency in client]
        return {
            "requests": len(latencies), "failed": sum(failed for _, failed in results), "clients": len(jobs),
            "per_second": round(len(latencies) / wall, 1), "server_cpu_us": round(cpu / len(latencies) * 1e6),
            "latency_ms": quantiles(latencies),
        }  # fmt: skip

    def signed_assertions(self, authenticators: list[SoftAuthenticator], clients: int, each: int) -> list[list[Job]]:
        """Finish requests prepared (start + sign) before any clock runs: `each` per client."""

        def prepare(index: int) -> list[Job]:
            jobs = []
            for number in range(each):
                _, body, _ = self.connections[index].call("POST", START, {})
                authenticator = authenticators[(index + number * clients) % len(authenticators)]
                jobs.append(("POST", FINISH, {"credential": authenticator.get(body["public_key"], origin=ORIGIN)}))
            return jobs

        return in_parallel(clients, prepare)

    def ceremonies(self, authenticators: list[SoftAuthenticator], seconds: float, rate: float | None = None) -> dict:
        """Every client loops whole ceremonies for `seconds`; at `rate` ceremonies/s in all when given (each client
        on its own schedule, never catching up in a burst), else as fast as the server answers."""
        count = len(self.connections)
        interval = count / rate if rate else 0.0
        opened = sum(connection.opened for connection in self.connections)
        per_worker, master = [_cpu_seconds([pid]) for pid in self.workers], _cpu_seconds([self.process.pid])
        cpu, client_cpu, wall = self.cpu(), time.process_time(), time.perf_counter()
        deadline = wall + seconds

        def loop(index: int) -> Tally:
            tally, due, number = Tally(), time.perf_counter() + interval * index / count, 0
            while time.perf_counter() < deadline:
                time.sleep(max(0.0, due - time.perf_counter()))
                ceremony(self.connections[index], authenticators[(index + number * count) % len(authenticators)], tally)
                number += 1
                due = max(due + interval, time.perf_counter()) if rate else 0.0
            return tally

        tallies = in_parallel(count, loop)
        wall, cpu = time.perf_counter() - wall, self.cpu() - cpu
        client_cpu, master = time.process_time() - client_cpu, _cpu_seconds([self.process.pid]) - master
        per_worker = [_cpu_seconds([pid]) - before for pid, before in zip(self.workers, per_worker, strict=True)]
        done = max(1, sum(tally.ceremonies for tally in tallies))  # a divisor
        requests = sum(len(tally.start) + len(tally.finish) for tally in tallies)
        return {
            "ceremonies": sum(tally.ceremonies for tally in tallies), "failed": sum(tally.failed for tally in tallies),
            "seconds": round(wall, 2),
            "ceremonies_per_s": round(done / wall, 1),
            "server_cpu_us_per_ceremony": round(cpu / done * 1e6),
            "server_cores_used": round(cpu / wall, 2),
            "ceremonies_per_s_per_core": round(done / cpu, 1) if cpu else None,
            "worker_cpu_share": [round(share / (sum(per_worker) or 1), 2) for share in per_worker],
            "master_cpu_us_per_ceremony": round(master / done * 1e6),  # not in the server CPU: it serves no request
            "client_cpu_us_per_ceremony": round(client_cpu / done * 1e6),
            "client_sign_cpu_us_per_ceremony": round(sum(tally.sign_cpu for tally in tallies) / done * 1e6),
            "connections_opened": sum(connection.opened for connection in self.connections) - opened,
            "requests": requests,
            "start_latency_ms": quantiles([latency for tally in tallies for latency in tally.start]),
            "finish_latency_ms": quantiles([latency for tally in tallies for latency in tally.finish]),
        }  # fmt: skip


def server_benchmark(server: Server, authenticators: list[SoftAuthenticator], args: argparse.Namespace) -> dict:
    """Every figure of one server: /healthz, start-only and finish-only phases, the loop at full speed and paced."""
    clients, concurrent, sequential = args.concurrency, args.phase_requests, max(1, args.phase_requests // 4)
    server.ceremonies(authenticators, 2.0)  # warm every worker and thread (connections, caches, signing key)
    result: dict = {"command": " ".join(Path(part).name if i == 0 else part for i, part in enumerate(server.command))}
    result["healthz"] = server.requests([[("GET", "/healthz", None)] * args.healthz_requests], 200)
    result["start_sequential"] = server.requests([[("POST", START, {})] * sequential], 200)
    result["start_concurrent"] = server.requests([[("POST", START, {})] * (concurrent // clients)] * clients, 200)
    result["finish_sequential"] = server.requests(server.signed_assertions(authenticators, 1, sequential), 200)
    finishes = server.signed_assertions(authenticators, clients, concurrent // clients)
    result["finish_concurrent"] = server.requests(finishes, 200)
    result["ceremony"] = peak = server.ceremonies(authenticators, args.seconds)
    target = peak["ceremonies_per_s"] * PACED_SHARE
    result["paced"] = {"target_per_s": round(target, 1), **server.ceremonies(authenticators, args.seconds, target)}
    result["keep_alive"] = peak["connections_opened"] < peak["requests"] / 2
    return result


def floor_benchmark(tenant_id: str, authenticator: SoftAuthenticator, credential_id: str, rounds: int) -> dict:
    """What a login cannot do without, in-process: python-fido2 options, parse + verify, the sign-count UPDATE."""
    os.environ.update(_env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "passkey_service.settings")
    import django

    django.setup()
    from django.utils import timezone

    from passkeys import webauthn
    from passkeys.challenges import AUTHENTICATION, PendingCeremony
    from passkeys.models import Credential
    from tenants.models import Tenant

    tenant = Tenant.objects.get(pk=tenant_id)
    row = Credential.objects.select_related("user").get(tenant=tenant, credential_id=b64url_decode(credential_id))
    stored = webauthn.StoredCredential(
        credential_id=bytes(row.credential_id), public_key=bytes(row.public_key), aaguid=row.aaguid,
        backup_eligible=row.backup_eligible, sign_count=row.sign_count, user_handle=bytes(row.user.handle),
        user_id=row.user.user_id,
    )  # fmt: skip
    options_cpu = verify_cpu = 0.0
    for number in range(rounds + 50):  # the first 50 warm up
        started = time.process_time()
        options, challenge = webauthn.authentication_options(
            tenant=tenant, allow=None, user_verification=tenant.user_verification
        )
        generated = time.process_time()
        assertion = authenticator.get(options, origin=ORIGIN)  # the browser's part: not timed
        pending = PendingCeremony(
            tenant_id=str(tenant.pk), ceremony=AUTHENTICATION, challenge=challenge,
            user_verification=tenant.user_verification, expires_at=time.time() + 60,
        )  # fmt: skip
        verifying = time.process_time()
        parsed = webauthn.authentication_parse(assertion)
        verified = webauthn.authentication_verify(tenant=tenant, parsed=parsed, pending=pending, stored=stored)
        updated = Credential.objects.filter(pk=row.pk).update(
            sign_count=verified.sign_count, last_used_at=timezone.now()
        )
        done = time.process_time()
        assert updated == 1
        if number >= 50:
            options_cpu += generated - started
            verify_cpu += done - verifying
    return {
        "rounds": rounds, "options_us": round(options_cpu / rounds * 1e6),
        "parse_verify_update_us": round(verify_cpu / rounds * 1e6),
        "total_us": round((options_cpu + verify_cpu) / rounds * 1e6),
    }  # fmt: skip


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())  # fmt: skip
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": model, "python": platform.python_version(),
            "loadavg": loadavg()}  # fmt: skip


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def print_server(name: str, result: dict) -> None:
    ms = lambda q: f"p50/p95/p99 {q['p50']}/{q['p95']}/{q['p99']} ms"  # noqa: E731
    line = lambda label, phase: print(  # noqa: E731
        f"  {label:18}: {phase['requests']:5} requests ({phase['failed']} failed), {phase['clients']} client(s), "
        f"{phase['per_second']:7.1f}/s, server CPU {phase['server_cpu_us']:5} µs/request, {ms(phase['latency_ms'])}"
    )
    print(f"{name}: {result['command']}  (load {result['loadavg']})")
    for label in ("healthz", "start_sequential", "start_concurrent", "finish_sequential", "finish_concurrent"):
        line(label.replace("_", " "), result[label])
    for label in ("ceremony", "paced"):
        run = result[label]
        target = f" (target {run['target_per_s']}/s)" if label == "paced" else ""
        print(f"  {label + ' loop':18}: {run['ceremonies']} ceremonies ({run['failed']} failed) in {run['seconds']} s"
              f"{target}: {run['ceremonies_per_s']}/s, server CPU {run['server_cpu_us_per_ceremony']} µs/ceremony "
              f"({run['server_cores_used']} cores, split {run['worker_cpu_share']}), "
              f"{run['ceremonies_per_s_per_core']}/s per core")  # fmt: skip
        print(f"  {'':18}  start {ms(run['start_latency_ms'])}, finish {ms(run['finish_latency_ms'])}; client CPU "
              f"{run['client_cpu_us_per_ceremony']} µs/ceremony (signing {run['client_sign_cpu_us_per_ceremony']}); "
              f"{run['connections_opened']} connections for {run['requests']} requests")  # fmt: skip


def print_table(results: dict[str, dict], floor: dict) -> None:
    columns = ("server", "keep-alive", "cer/s", "CPU µs/cer", "cer/s/core", "×floor", "start µs s/c",
               "finish µs s/c", "start p99", "finish p99", "@70%: /s", "finish p99", "healthz µs",
               "split %")  # fmt: skip
    rows = [columns]
    for name, r in results.items():
        peak, paced = r["ceremony"], r["paced"]
        rows.append((
            name, "yes" if r["keep_alive"] else "no", f"{peak['ceremonies_per_s']}",
            f"{peak['server_cpu_us_per_ceremony']}", f"{peak['ceremonies_per_s_per_core']}", f"{r['floor_ratio']}",
            f"{r['start_sequential']['server_cpu_us']}/{r['start_concurrent']['server_cpu_us']}",
            f"{r['finish_sequential']['server_cpu_us']}/{r['finish_concurrent']['server_cpu_us']}",
            f"{peak['start_latency_ms']['p99']}", f"{peak['finish_latency_ms']['p99']}",
            f"{paced['ceremonies_per_s']}", f"{paced['finish_latency_ms']['p99']}", f"{r['healthz']['server_cpu_us']}",
            "/".join(str(round(share * 100)) for share in peak["worker_cpu_share"]),
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    print(f"comparison (latencies in ms; floor {floor['total_us']} µs per ceremony, in-process):")
    for row in rows:
        print("  " + "  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in
                               enumerate(zip(row, widths, strict=True))))  # fmt: skip


def run(args: argparse.Namespace) -> None:
    """The --ceremony mode: prepare once, measure each server in turn on the same data, then the floor."""
    specs = [spec.strip() for spec in args.servers.split(",") if spec.strip()]
    unknown = [spec for spec in specs if spec.partition(":")[0] not in SERVERS]
    if unknown:
        raise SystemExit(f"unknown server(s) {unknown}: choose from {', '.join(SERVERS)} (each may take :threads)")
    report: dict = {"machine": machine(), "settings": {k: v for k, v in vars(args).items() if k != "json"}}
    print(f"machine        : {report['machine']['nproc']} cores, {report['machine']['cpu']}, Python "
          f"{report['machine']['python']}, load {report['machine']['loadavg']}")  # fmt: skip
    _prepare_database()
    created = bench_tenant("Bench", "bench.example", ORIGIN)
    authenticators, credential_ids, results = None, None, {}
    for number, spec in enumerate(specs):
        # Its own port each: the previous server's sockets may linger.
        server = Server(spec, args, args.port + number, created["api_key"])
        try:
            if authenticators is None:
                authenticators, credential_ids = register_users(Client(server.port, created["api_key"]), args.users)
            results[spec] = server_benchmark(server, authenticators, args)
            results[spec]["loadavg"] = loadavg()
        finally:
            server.stop()
        print_server(spec, results[spec])
    report["floor"] = floor = floor_benchmark(created["tenant_id"], authenticators[0], credential_ids[0],
                                              args.floor_rounds)  # fmt: skip
    print(f"floor (in-process, {floor['rounds']} rounds, time.process_time): options {floor['options_us']} µs + "
          f"parse + verify + sign-count UPDATE {floor['parse_verify_update_us']} µs = {floor['total_us']} µs "
          "per ceremony")  # fmt: skip
    for result in results.values():
        result["floor_ratio"] = round(result["ceremony"]["server_cpu_us_per_ceremony"] / floor["total_us"], 1)
    print_table(results, floor)
    report["servers"], report["machine"]["loadavg_end"] = results, loadavg()
    path = Path(args.json).resolve()
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"JSON result    : {path}")
