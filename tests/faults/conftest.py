"""The fault suite: private Redis and PostgreSQL servers are crashed and restarted while live logins run.

Every server here is started by the test that breaks it, on a free loopback port, and is killed at
teardown whatever happened; the shared servers other tests use are never touched.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.authenticator import SoftAuthenticator
from tests.support.live_ceremonies import ORIGIN, RP_ID, LiveClient, Timeline
from tests.support.servers import (
    PostgresCluster,
    RedisServer,
    Service,
    postgres_bin_dir,
    scratch_database,
)

TIMELINE_FILE = Path(__file__).resolve().parent.parent.parent / "artifacts" / "faults-timeline.txt"
USERS = 8  # two per client thread


@dataclass
class Stack:
    """A running service, a client for it and registered users with their authenticators."""

    service: Service
    client: LiveClient
    users: dict[str, SoftAuthenticator]

    def credentials(self) -> dict[str, dict[str, int]]:
        """Every user's credentials as {user: {credential id: sign count}}, read over HTTP."""
        return {user_id: self.client.credentials(user_id) for user_id in self.users}


@pytest.fixture(scope="session")
def fault_timelines() -> Iterator[list[str]]:
    """Collects each fault test's timeline; written to artifacts/faults-timeline.txt at the end."""
    sections: list[str] = []
    yield sections
    if sections:
        TIMELINE_FILE.parent.mkdir(exist_ok=True)
        TIMELINE_FILE.write_text("\n\n".join(sections) + "\n")


@pytest.fixture
def record_timeline(fault_timelines) -> Callable[[Timeline], None]:
    def record(timeline: Timeline) -> None:
        text = timeline.render()
        print("\n" + text)
        fault_timelines.append(text)

    return record


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_postgres() -> Iterator[PostgresCluster]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin for a private cluster")
    cluster = PostgresCluster(bin_dir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def shared_server_database() -> Iterator[str]:
    """A database of our own on the suite's PostgreSQL server, dropped at the end."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("the fault suite needs DATABASE_URL to name a PostgreSQL server (scripts/test sets it)")
    with scratch_database(url.rsplit("/", 1)[0] + "/postgres", f"passkeys_faults_{os.getpid()}") as database_url:
        yield database_url


@pytest.fixture
def start_stack() -> Iterator[Callable[[str, str], Stack]]:
    """Migrate a database, create an unthrottled tenant, run it under granian and register USERS users."""
    services: list[Service] = []

    def start(database_url: str, redis_url: str) -> Stack:
        service = Service(database_url, redis_url)
        tenant = service.prepare(rp_id=RP_ID, origin=ORIGIN)
        services.append(service)
        service.start()
        client = LiveClient(service.port, tenant["api_key"])
        users = {f"user-{number}": client.register(f"user-{number}") for number in range(USERS)}
        return Stack(service, client, users)

    try:
        yield start
    finally:
        for service in services:
            service.stop()
