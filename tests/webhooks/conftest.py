"""Fixtures for the webhook tests: a real loopback receiver, endpoints, a stand-in resolver, and a loopback guard."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import pytest

from tests.webhooks.receiver import WebhookReceiver
from webhooks import egress
from webhooks.models import EventType
from webhooks.services import CreatedEndpoint, endpoint_create

ALL_EVENTS = list(EventType.values)


@pytest.fixture(autouse=True)
def _short_timeout(settings):
    # A receiver that never answers costs this much per attempt.
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.0


REAL_GETADDRINFO = socket.getaddrinfo
PUBLIC_ADDRESS = "93.184.215.14"  # what the stand-in resolver answers for *.example; never contacted (guard below)


class Resolver:
    """Stands in for DNS in webhooks.egress: no query leaves the machine, and a test decides every answer.

    `names` maps a host to its addresses, or to a function returning them (a resolver that changes its
    mind, as in DNS rebinding). localhost is loopback; other *.example names are one public address.
    """

    def __init__(self) -> None:
        self.names: dict[str, list[str] | Callable[[], list[str]]] = {"localhost": ["127.0.0.1", "::1"]}
        self.lookups: list[str] = []

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's names
        try:  # a numeric host needs no DNS (redis-py's and Celery's connections to 127.0.0.1 come here too)
            return REAL_GETADDRINFO(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            pass
        self.lookups.append(host)
        answer = self.names.get(host)
        if answer is None and host.endswith(".example"):
            answer = [PUBLIC_ADDRESS]
        if callable(answer):
            answer = answer()
        if not answer:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in answer
        ]


@pytest.fixture(autouse=True)
def dns(monkeypatch) -> Resolver:
    resolver = Resolver()
    monkeypatch.setattr(egress, "getaddrinfo", resolver.getaddrinfo)
    return resolver


class LoopbackGuard:
    """Records every outgoing connection of this process and stops (and reports) any beyond loopback."""

    def __init__(self) -> None:
        self.connections: list[tuple] = []
        self.violations: list[tuple] = []

    def check(self, sock: socket.socket, address) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        self.connections.append(address)
        if not ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback:
            self.violations.append(address)
            raise PermissionError(f"test tried to contact {address[0]}: only loopback may be contacted")


@pytest.fixture(autouse=True)
def loopback_guard(monkeypatch):
    guard = LoopbackGuard()
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded_connect(sock, address):
        guard.check(sock, address)
        return connect(sock, address)

    def guarded_connect_ex(sock, address):
        guard.check(sock, address)
        return connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    yield guard
    assert guard.violations == [], "a test contacted an address beyond loopback"


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
def other_receiver():
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
def make_endpoint(db):
    def make(tenant, url: str, event_types: list[str] | None = None, **fields) -> CreatedEndpoint:
        return endpoint_create(tenant=tenant, url=url, event_types=event_types or ALL_EVENTS, **fields)

    return make


@pytest.fixture
def endpoint(tenant, receiver, make_endpoint) -> CreatedEndpoint:
    """The default tenant's endpoint, subscribed to every event type."""
    return make_endpoint(tenant, receiver.url())
