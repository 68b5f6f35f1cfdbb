"""Count the CPU instructions one login finish costs, deterministically, and print the figure.

Usage: .venv/bin/python scripts/bench_instructions.py [--logins 100]

Wall and CPU times on a shared 2-core VM move by ±10 % from run to run; instruction counts do not. This runs a
client twice under valgrind's callgrind, in-process through Django's whole stack (middleware, DRF, PostgreSQL at
127.0.0.1 in a fresh database passkeys_bench_instructions, Redis db 7): both runs register 10 users and prepare
`--logins` signed assertions (start + sign); only the second also sends the finishes. The difference in
instructions, divided by the number of logins, is one finish. It takes several minutes (callgrind runs Python
about 50 times slower). Compare two commits by running it in a worktree of each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "passkeys_bench_instructions"
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
ORIGIN = "https://cost.example"


def client(logins: int, measure: bool) -> None:
    """The program callgrind runs: set up, prepare `logins` assertions, and finish them when `measure`."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test import Client

    from tenants.services import api_key_issue, tenant_create
    from tests.support.authenticator import SoftAuthenticator

    tenant = tenant_create(name="Cost", rp_id="cost.example", origins=[ORIGIN], rate_limit_per_key=60000)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_key_issue(tenant=tenant).secret}"}
    http = Client()

    def post(path: str, body: dict) -> dict:
        response = http.post(path, json.dumps(body), content_type="application/json", **headers)
        assert response.status_code in (200, 201), response.content  # noqa: S101 - a benchmark that lies is worse
        return response.json()

    authenticator = SoftAuthenticator()
    users = [f"user-{n}" for n in range(10)]
    for user in users:
        options = post("/v1/registrations/start", {"user_id": user, "username": user})["public_key"]
        post("/v1/registrations/finish", {"credential": authenticator.create(options, ORIGIN)})
    assertions = []
    for n in range(logins):
        options = post("/v1/authentications/start", {"user_id": users[n % len(users)]})["public_key"]
        assertions.append(authenticator.get(options, ORIGIN))
    if measure:
        for assertion in assertions:
            post("/v1/authentications/finish", {"credential": assertion, "user_agent": "Mozilla/5.0 (X11; Linux)"})


def _instructions(logins: int, measure: bool, env: dict[str, str]) -> int:
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--client", str(logins), "--measure" if measure else "--prepare-only",
    ]  # fmt: skip
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=100)
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client is not None:
        client(args.client, args.measure)
        return

    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        connection.execute(f'CREATE DATABASE "{DATABASE}"')
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "passkey_service.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "REDIS_URL": "redis://127.0.0.1:6379/7",
        "SECRET_KEY": "bench-instructions-secret-key",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    prepared = _instructions(args.logins, False, env)
    finished = _instructions(args.logins, True, env)
    print(f"commit {head.strip()}: {(finished - prepared) / args.logins:,.0f} instructions per login finish")
    print(f"  ({args.logins} finishes under callgrind, in-process through the Django stack, PostgreSQL + Redis)")


if __name__ == "__main__":
    main()
