"""Benchmark importing a FIDO metadata BLOB of 1,000 entries, and print figures.

Usage: .venv/bin/python scripts/bench_mds.py [--entries 1000] [--credentials 10000] [--compromised 50]

It builds a BLOB with the test suite's metadata PKI (tests/support/mds.py: an RSA root and signer, RS256,
like the FIDO Alliance's), on a fresh PostgreSQL database (passkeys_bench_mds on 127.0.0.1, or
BENCH_MDS_DATABASE_URL; Redis db 8, flushed, is the broker the webhook jobs are queued on) holding
`credentials` credentials of the BLOB's models across two tenants, then
times, each in this process: verifying the BLOB alone; the first import (verify, store, write every
credential's name and status); the per-process parse a registration pays once per BLOB; and a newer BLOB
reporting `compromised` models REVOKED (their credentials updated, one webhook event logged per tenant).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/passkeys_bench_mds"


def _fresh_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def _timed(label: str, action, rounds: int = 1):
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        result = action()
    wall = (time.perf_counter() - started_wall) / rounds
    cpu = (time.process_time() - started_cpu) / rounds
    print(f"  {label:<44}: {wall * 1000:8.0f} ms wall, {cpu * 1000:8.0f} ms CPU (this process)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--credentials", type=int, default=10_000)
    parser.add_argument("--compromised", type=int, default=50)
    args = parser.parse_args()

    url = os.environ.get("BENCH_MDS_DATABASE_URL", DEFAULT_URL)
    _fresh_database(url)
    pki_dir = ROOT / ".bench-mds"
    pki_dir.mkdir(exist_ok=True)
    redis_url = os.environ.get("BENCH_MDS_REDIS_URL", "redis://127.0.0.1:6379/8")  # Celery's broker: nothing sent
    os.environ.update(DATABASE_URL=url, DEBUG="false", REDIS_URL=redis_url)
    os.environ["SECRET_KEY"] = "bench-secret-key"  # noqa: S105 - a throwaway database
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"  # the endpoints below are never called
    os.environ["DJANGO_SETTINGS_MODULE"] = "passkey_service.settings"
    from tests.support import mds

    pki = mds.MdsPki.create()
    root = pki_dir / "root.pem"
    root.write_bytes(pki.root_pem())
    os.environ["MDS_ROOT_CERT"] = str(root)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from passkeys import webauthn
    from passkeys.models import Credential, PasskeyUser
    from passkeys.services import metadata
    from tenants.services import tenant_create
    from webhooks.models import Delivery
    from webhooks.services import endpoint_create

    call_command("migrate", verbosity=0)
    from django_redis import get_redis_connection

    get_redis_connection("default").flushdb()
    entries = mds.entries_bulk(args.entries)
    blob = pki.blob(mds.payload(1, entries))
    aaguids = [uuid.UUID(entry["aaguid"]) for entry in entries]
    rng = random.Random(20261202)  # noqa: S311 - a repeatable spread, not a secret
    tenants = [
        tenant_create(name=f"Bench {n}", rp_id=f"bench{n}.example", origins=[f"https://bench{n}.example"])
        for n in (1, 2)
    ]
    for tenant in tenants:  # an endpoint each, so a status change logs its webhook deliveries
        endpoint_create(tenant=tenant, url="https://127.0.0.1/passkeys", event_types=["authenticator.status_changed"])
    users = [PasskeyUser(tenant=tenants[n % 2], user_id=f"user-{n}", handle=os.urandom(32)) for n in range(1000)]
    PasskeyUser.objects.bulk_create(users)
    Credential.objects.bulk_create(
        Credential(
            tenant=user.tenant,
            user=user,
            credential_id=os.urandom(32),
            public_key=b"\xa0",
            algorithm=-7,
            aaguid=rng.choice(aaguids),
            attestation_format="packed",
            backup_eligible=False,
            backed_up=False,
            user_verified=True,
        )  # fmt: skip
        for user in (rng.choice(users) for _ in range(args.credentials))
    )

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        server = cursor.fetchone()[0].split(" on ")[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {server}")
    print(f"BLOB: {args.entries} entries, {len(blob) / 1e6:.1f} MB; {args.credentials} credentials in 2 tenants")
    root_der = metadata.metadata_root()
    _timed("verify the BLOB (signature, chain, parse)", lambda: webauthn.metadata_blob_verify(blob, root_der=root_der))
    first = _timed("import no 1 (verify, store, apply statuses)", lambda: metadata.metadata_import(blob))
    print(f"    -> {first.credentials_changed} credentials took a name and status")
    _timed("a process's first read of the stored BLOB", lambda: (metadata._cache.forget(), metadata.metadata_current()))
    _timed("later reads (cached)", metadata.metadata_current, rounds=1000)

    revoked = set(rng.sample(range(args.entries), args.compromised))
    newer = [
        mds.entry(
            entry["aaguid"], description=entry["metadataStatement"]["description"],
            root_certificates_der=[mds.bulk_root_der()],
            statuses=[("FIDO_CERTIFIED_L1", "2024-01-15"), ("REVOKED", "2026-11-30")],
        )
        if index in revoked
        else entry
        for index, entry in enumerate(entries)
    ]  # fmt: skip
    deliveries = Delivery.objects.count()
    newer_blob = pki.blob(mds.payload(2, newer))
    second = _timed(
        f"import no 2 ({args.compromised} models now REVOKED)", lambda: metadata.metadata_import(newer_blob)
    )
    print(
        f"    -> {second.credentials_changed} credentials changed status, "
        f"{Delivery.objects.count() - deliveries} webhook deliveries logged"
    )


if __name__ == "__main__":
    main()
