"""Benchmark the login ceremony against an app server on PostgreSQL + Redis, and print figures.

Usage: .venv/bin/python scripts/bench.py [--logins 2000] [--users 100] [--concurrency 8] [--workers 2]
       .venv/bin/python scripts/bench.py --ceremony [--servers gunicorn-sync,gunicorn-gthread,granian]
                 [--workers 2] [--threads 4] [--concurrency 8] [--seconds 10] [--phase-requests 400]
                 [--healthz-requests 2000] [--floor-rounds 1000] [--no-keep-alive] [--json bench-result.json]

Both modes recreate the database passkeys_bench and flush Redis db 9 (BENCH_DATABASE_URL, BENCH_REDIS_URL), start
the server themselves (DEBUG off, access log off) on 127.0.0.1, and register users with the test suite's software
authenticator. Server CPU is always the app workers' utime + stime read from /proc.

Default mode (gunicorn sync workers): one signed assertion per login is prepared (start + sign) before the clock
runs, then the finishes are fired from a thread pool: requests per second, latency percentiles and CPU per finish;
then each login's browser reports its outcome with the start's client token (POST /v1/client-events), and login
decisions are asked, measured the same way. A second, in-process section times the adapter's signature-verifying
call with python-fido2's uncached type-hint lookup and with the adapter's cache, side by side.

--ceremony (scripts/bench_ceremony.py): against each of --servers in turn (same workers; "kind:threads" overrides
--threads for gthread threads or granian blocking threads), --concurrency clients, one persistent HTTP/1.1
connection each (gunicorn's sync worker closes it after every response; --no-keep-alive makes every server do so),
loop whole ceremonies: discoverable start, sign (client CPU, measured apart and kept out of server CPU), finish.
Per server: GET /healthz sequentially; start-only and finish-only phases, sequential and concurrent; the loop for
--seconds at full speed (ceremonies/s, server CPU per ceremony, ceremonies/s per fully used core, latency
p50/p95/p99 per request kind, the workers' CPU split) and paced to 70 % of that peak (p99 finish latency). Then
the in-process floor (python-fido2 options + parse + verify + the sign-count UPDATE, time.process_time) and each
server's CPU per ceremony as a multiple of it, a comparison table, and the figures as JSON (--json).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import (  # noqa: E402 (after the path is set)
    ORIGIN,
    RP_ID,
    Client,
    SoftAuthenticator,
    _cpu_seconds,
    _env,
    _percentiles,
    _prepare_database,
    _worker_pids,
    bench_tenant,
    gunicorn_start,
    register_users,
)


def http_benchmark(args: argparse.Namespace) -> None:
    _prepare_database()
    created = bench_tenant("Bench", RP_ID, ORIGIN)
    port = args.port
    gunicorn = gunicorn_start(port, _env(), "--workers", str(args.workers))
    try:
        client = Client(port, created["api_key"])
        authenticators, credential_ids = register_users(client, args.users)

        start_latencies, assertions, client_tokens = [], [], []
        for number in range(args.logins):
            status, body, elapsed = client.post("/v1/authentications/start", {})
            start_latencies.append(elapsed)
            assertions.append(authenticators[number % args.users].get(body["public_key"], origin=ORIGIN))
            client_tokens.append(body["client_token"])
        # Warm every worker (key cache, signing key) before measuring.
        for _ in range(args.workers * 4):
            status, body, _ = client.post("/v1/authentications/start", {})
            warm = authenticators[0].get(body["public_key"], origin=ORIGIN)
            assert client.post("/v1/authentications/finish", {"credential": warm})[0] == 200

        workers = _worker_pids(gunicorn.pid)
        cpu_before, wall_before = _cpu_seconds(workers), time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(lambda a: client.post("/v1/authentications/finish", {"credential": a}), assertions))
        wall = time.perf_counter() - wall_before
        cpu = _cpu_seconds(workers) - cpu_before
        failures = [r for r in results if r[0] != 200]
        finish_latencies = [r[2] for r in results]
        print(f"login finish   : {len(results)} requests, {len(failures)} failed, concurrency {args.concurrency}, "
              f"{args.workers} gunicorn workers")  # fmt: skip
        print(f"  throughput   : {len(results) / wall:.0f} requests/s")
        print(f"  latency      : {_percentiles(finish_latencies)}")
        print(f"  app CPU      : {cpu / len(results) * 1e6:.0f} µs per finish (gunicorn workers, /proc utime+stime)")
        print(f"login start    : {_percentiles(start_latencies)} (sequential)")
        client_events_benchmark(client, workers, client_tokens, args.concurrency)
        login_decisions_benchmark(client, workers, credential_ids, args.logins, args.concurrency)
    finally:
        gunicorn.terminate()
        gunicorn.wait()


def client_events_benchmark(client: Client, workers: list[int], tokens: list[str], concurrency: int) -> None:
    """One report per login, as the browser library sends it after a passkey sign-in."""
    report = {
        "outcome": "succeeded",
        "duration_ms": 2400,
        "capabilities": {"conditionalGet": True, "conditionalCreate": True, "hybridTransport": True},
    }
    browser = (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    )

    def send(token: str) -> tuple[int, dict, float]:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Origin": ORIGIN,
                   "User-Agent": browser}  # fmt: skip
        return client.post("/v1/client-events", report, headers)

    cpu_before, wall_before = _cpu_seconds(workers), time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(send, tokens))
    wall = time.perf_counter() - wall_before
    cpu = _cpu_seconds(workers) - cpu_before
    failures = [r for r in results if r[0] != 202]
    print(f"client report  : {len(results)} requests, {len(failures)} failed, concurrency {concurrency}")
    print(f"  throughput   : {len(results) / wall:.0f} requests/s")
    print(f"  latency      : {_percentiles([r[2] for r in results])}")
    print(f"  app CPU      : {cpu / len(results) * 1e6:.0f} µs per report (gunicorn workers, /proc utime+stime)")


def login_decisions_benchmark(
    client: Client, workers: list[int], credential_ids: list[str], count: int, concurrency: int
) -> None:
    """A decision per sign-in page view, for identified users: "password" (their passkeys were registered from no
    known platform, so none is usable here) and "passkey" (the page remembers one: the answer carries a start)."""
    capabilities = {"conditionalGet": True, "hybridTransport": True}
    for label, remembered in (("password", False), ("passkey", True)):
        bodies = [
            {
                "user_id": f"user-{n % len(credential_ids)}",
                "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/131.0.0.0 Safari/537.36",
                "capabilities": capabilities,
                "platform_authenticator_available": True,
                **({"device_credential_ids": [credential_ids[n % len(credential_ids)]]} if remembered else {}),
            }
            for n in range(count)
        ]
        cpu_before, wall_before = _cpu_seconds(workers), time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(lambda body: client.post("/v1/login-decisions", body), bodies))
        wall = time.perf_counter() - wall_before
        cpu = _cpu_seconds(workers) - cpu_before
        wrong = [r for r in results if r[0] != 200 or r[1]["decision"] != label]
        print(f"login decision : {len(results)} answering {label}, {len(wrong)} otherwise, concurrency {concurrency}")
        print(f"  throughput   : {len(results) / wall:.0f} requests/s")
        print(f"  latency      : {_percentiles([r[2] for r in results])}")
        print(f"  app CPU      : {cpu / len(results) * 1e6:.0f} µs per decision (gunicorn workers, /proc utime+stime)")


def adapter_benchmark(rounds: int) -> None:
    """authentication_parse + authentication_verify in-process, with python-fido2's uncached type hints and with
    the adapter's cache."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "passkey_service.settings")
    import django

    django.setup()
    from contextlib import nullcontext

    from passkeys import webauthn
    from passkeys.challenges import PendingCeremony
    from tenants.models import Tenant

    def pending(challenge: str) -> PendingCeremony:
        return PendingCeremony(
            tenant_id="", ceremony="", challenge=challenge, user_verification="preferred",
            expires_at=time.time() + 3600, algorithms=[-8, -7, -257],
        )  # fmt: skip

    tenant = Tenant(rp_id=RP_ID, rp_name="Bench", origins=[ORIGIN], algorithms=[-8, -7, -257])
    authenticator = SoftAuthenticator()
    options, challenge = webauthn.registration_options(
        tenant=tenant, user_handle=b"u" * 32, username="u", display_name="u", exclude=[],
        resident_key="required", user_verification="preferred", authenticator_attachment=None,
    )  # fmt: skip
    registration = webauthn.registration_verify(
        tenant=tenant, parsed=webauthn.registration_parse(authenticator.create(options, origin=ORIGIN)),
        pending=pending(challenge),
    )  # fmt: skip
    stored = webauthn.StoredCredential(
        credential_id=registration.credential_id, public_key=registration.public_key, aaguid=registration.aaguid,
        backup_eligible=registration.backup_eligible, sign_count=0, user_handle=b"u" * 32, user_id="u",
    )  # fmt: skip
    options, challenge = webauthn.authentication_options(tenant=tenant, allow=None, user_verification="preferred")
    assertion = authenticator.get(options, origin=ORIGIN)
    login = pending(challenge)

    def verify_once() -> None:
        webauthn.authentication_verify(
            tenant=tenant, parsed=webauthn.authentication_parse(assertion), pending=login, stored=stored
        )

    timings = {}
    for label, hints in (
        ("uncached (python-fido2 as shipped)", webauthn.uncached_type_hints),
        ("cached (adapter)", nullcontext),
    ):
        with hints():
            verify_once()
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                verify_once()
                samples.append(time.perf_counter() - started)
        timings[label] = statistics.median(samples) * 1e6
    for label, micros in timings.items():
        print(f"  {label:36}: {micros:.0f} µs median per parse + verify ({rounds} rounds)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=2000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--adapter-rounds", type=int, default=2000)
    ceremony = parser.add_argument_group("--ceremony mode")
    ceremony.add_argument("--ceremony", action="store_true", help="loop whole ceremonies against --servers")
    ceremony.add_argument("--servers", default="gunicorn-sync", help="comma-separated kind[:threads]: gunicorn-sync, "
                          "gunicorn-gthread, granian")  # fmt: skip
    ceremony.add_argument("--threads", type=int, default=4, help="gthread threads, granian blocking threads")
    ceremony.add_argument("--seconds", type=float, default=10, help="length of the full-speed and the paced loop")
    ceremony.add_argument("--phase-requests", type=int, default=400, help="per concurrent start/finish-only phase")
    ceremony.add_argument("--no-keep-alive", action="store_true", help="send Connection: close with every request")
    ceremony.add_argument("--healthz-requests", type=int, default=2000)
    ceremony.add_argument("--floor-rounds", type=int, default=1000)
    ceremony.add_argument("--json", default="bench-result.json", help="where the --ceremony figures are written")
    args = parser.parse_args()
    if args.ceremony:
        import bench_ceremony

        bench_ceremony.run(args)
        return
    print(f"machine        : {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")  # fmt: skip
    http_benchmark(args)
    print("adapter (in-process, ES256 assertion):")
    os.environ.update({k: v for k, v in _env().items() if k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")})
    adapter_benchmark(args.adapter_rounds)


if __name__ == "__main__":
    main()
