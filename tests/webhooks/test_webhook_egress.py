"""Webhooks reach only the public internet: refused on save and again at send time, pinned to the checked address.

No test here contacts anything but loopback: the conftest's stand-in resolver answers every name, and its
loopback guard fails any test that tries another address. A refused send is proven not to connect by a
loopback listener that counts what it accepts while WEBHOOK_ALLOWED_NETWORKS is empty.
"""

from __future__ import annotations

import logging
import socket

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.errors import DomainError
from tests.webhooks.receiver import CountingListener, WebhookReceiver
from webhooks.models import Delivery, DeliveryStatus, Endpoint, EventType
from webhooks.sending import delivery_attempt
from webhooks.services import endpoint_create

PUBLIC = "is not public; webhooks only reach the public internet"
LITERAL = "address; webhooks only reach the public internet"


def _kind(kind: str) -> str:
    return f"points at a {kind} {LITERAL}"


FORBIDDEN = [
    ("https://127.0.0.1/hooks", _kind("loopback")),
    ("https://127.1/hooks", _kind("loopback")),
    ("https://2130706433/hooks", _kind("loopback")),
    ("https://0x7f.1/hooks", _kind("loopback")),
    ("https://0x7F000001/hooks", _kind("loopback")),
    ("https://0177.0.0.1/hooks", _kind("loopback")),
    ("https://[::1]/hooks", _kind("loopback")),
    ("https://[::ffff:127.0.0.1]/hooks", _kind("loopback")),
    ("https://[::ffff:7f00:1]/hooks", _kind("loopback")),
    ("https://[64:ff9b::7f00:1]/hooks", _kind("loopback")),  # NAT64 of 127.0.0.1
    ("https://10.0.0.5/hooks", _kind("private")),
    ("https://012.0.0.5/hooks", _kind("private")),  # octal 10.0.0.5
    ("https://172.16.3.4/hooks", _kind("private")),
    ("https://192.168.1.1/hooks", _kind("private")),
    ("https://[::ffff:10.0.0.5]/hooks", _kind("private")),
    ("https://169.254.169.254/latest/meta-data/", _kind("link-local")),
    ("https://2852039166/hooks", _kind("link-local")),  # 169.254.169.254
    ("https://[fe80::1]/hooks", _kind("link-local")),
    ("https://[fec0::1]/hooks", _kind("site-local")),
    ("https://100.64.0.1/hooks", _kind("shared (CGNAT)")),
    ("https://100.127.255.254/hooks", _kind("shared (CGNAT)")),
    ("https://[fc00::1]/hooks", _kind("private")),
    ("https://[fd12:3456:789a::1]/hooks", _kind("private")),
    ("https://224.0.0.251/hooks", _kind("multicast")),
    ("https://[ff02::1]/hooks", _kind("multicast")),
    ("https://0.0.0.0/hooks", _kind("unspecified")),
    ("https://0/hooks", _kind("unspecified")),
    ("https://[::]/hooks", _kind("unspecified")),
    ("https://240.0.0.1/hooks", _kind("private")),  # reserved (Python counts 240/4 as private too)
    ("https://[2001:db8::1]/hooks", _kind("private")),  # documentation
    ("https://localhost/hooks", f"resolves to an address that {PUBLIC}"),
    ("https://redis.internal.example/hooks", f"resolves to an address that {PUBLIC}"),
    ("https://metadata.example/hooks", f"resolves to an address that {PUBLIC}"),
    ("https://mixed.example/hooks", f"resolves to an address that {PUBLIC}"),
    ("https://nowhere.invalid/hooks", "has a host that does not resolve"),
]


@pytest.fixture
def no_allowed_networks(settings):
    """Production's default: nothing beyond the public internet (the suite otherwise opens loopback)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = []


@pytest.fixture
def internal_names(dns):
    dns.names["redis.internal.example"] = ["10.0.0.7"]
    dns.names["metadata.example"] = ["169.254.169.254"]
    dns.names["mixed.example"] = ["93.184.215.14", "192.168.0.10"]  # refused if ANY answer is forbidden
    return dns


@pytest.mark.parametrize(("url", "problem"), FORBIDDEN)
def test_urls_reaching_non_public_addresses_are_refused_on_save(
    tenant, url, problem, no_allowed_networks, internal_names
):
    with pytest.raises(DomainError) as refused:
        endpoint_create(tenant=tenant, url=url, event_types=[EventType.PASSKEY_CREATED])
    assert str(refused.value) == f"The URL {problem}."

    endpoint = Endpoint(tenant=tenant, url=url, event_types=[EventType.PASSKEY_CREATED], secret_encrypted=b"x")
    with pytest.raises(ValidationError) as invalid:  # the model's validator: what the admin and commands run
        endpoint.full_clean()
    assert f"The URL {problem}." in invalid.value.message_dict["url"]
    assert not Endpoint.objects.exists()


def test_a_public_https_url_is_accepted(tenant, no_allowed_networks):
    created = endpoint_create(tenant=tenant, url="https://rp.example/hooks", event_types=[EventType.PASSKEY_CREATED])
    assert created.endpoint.url == "https://rp.example/hooks"


@pytest.mark.parametrize("url", ["http://rp.example/hooks", "http://93.184.215.14/hooks"])
def test_plain_http_is_refused_outside_the_allowed_networks(tenant, url, no_allowed_networks):
    with pytest.raises(DomainError, match="must use https"):
        endpoint_create(tenant=tenant, url=url, event_types=[EventType.PASSKEY_CREATED])


def test_the_operator_opens_named_networks_and_plain_http_only_inside_them(tenant, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd00:1::/64"]
    for url in ("https://10.20.1.2/hooks", "http://10.20.1.2/hooks", "http://[fd00:1::5]/hooks"):
        endpoint_create(tenant=tenant, url=url, event_types=[EventType.PASSKEY_CREATED])  # saved, never sent
    for url, problem in (("https://10.21.0.1/hooks", "private"), ("http://127.0.0.1/hooks", "loopback")):
        with pytest.raises(DomainError, match=problem):
            endpoint_create(tenant=tenant, url=url, event_types=[EventType.PASSKEY_CREATED])
    with pytest.raises(DomainError, match="must use https"):
        endpoint_create(tenant=tenant, url="http://rp.example/hooks", event_types=[EventType.PASSKEY_CREATED])


# --- at send time ------------------------------------------------------------------------------------


@pytest.fixture
def listener():
    server = CountingListener()
    yield server
    server.close()


def _pending_delivery(endpoint: Endpoint) -> Delivery:
    now = timezone.now()
    payload = {"type": "user.deleted", "timestamp": now.isoformat(), "data": {"user_id": "alice"}}
    return Delivery.objects.create(endpoint=endpoint, event_type="user.deleted", payload=payload, next_attempt_at=now)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hooks",
        "https://127.0.0.1:{port}/hooks",
        "http://2130706433:{port}/hooks",
        "http://0x7f.1:{port}/hooks",
        "http://0177.0.0.1:{port}/hooks",
        "http://127.1:{port}/hooks",
        "http://localhost:{port}/hooks",
        "http://[::ffff:127.0.0.1]:{port}/hooks",
    ],
)
def test_a_row_written_around_the_validation_is_refused_at_send_time_without_connecting(
    tenant, make_endpoint, listener, loopback_guard, no_allowed_networks, url, caplog
):
    endpoint = make_endpoint(tenant, "https://rp.example/hooks").endpoint
    Endpoint.objects.filter(pk=endpoint.pk).update(url=url.format(port=listener.port))  # no validator runs
    delivery = _pending_delivery(endpoint)

    with caplog.at_level(logging.INFO, logger="webhooks"):
        outcome = delivery_attempt(delivery_id=delivery.pk)

    assert (outcome.status, outcome.response_code, outcome.error) == (DeliveryStatus.PENDING, None, "refused_address")
    delivery.refresh_from_db()
    assert delivery.last_error == "refused_address"
    assert listener.accepted == 0
    assert not [address for address in loopback_guard.connections if address[1] == listener.port]
    assert "127.0.0.1" not in caplog.text and "refused_address" in caplog.text


def test_a_name_that_rebinds_is_connected_to_at_the_address_that_was_checked(
    tenant, make_endpoint, dns, settings, monkeypatch
):
    """DNS rebinding: the checked answer is allowed, every later answer is loopback (forbidden here)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    allowed = WebhookReceiver(host="127.0.0.2")
    try:
        forbidden = WebhookReceiver(host="127.0.0.1", port=allowed.port)
    except OSError:
        allowed.close()
        pytest.skip("port taken on 127.0.0.1")
    answers = iter([["127.0.0.2"], ["127.0.0.2"]])  # the check on save, the check at send time
    dns.names["rebind.example"] = lambda: next(answers, ["127.0.0.1"])
    # A second lookup by anyone (http.client, urllib, socket.create_connection) gets the rebound answer.
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    try:
        endpoint = make_endpoint(tenant, f"http://rebind.example:{allowed.port}/hooks").endpoint
        delivery = _pending_delivery(endpoint)

        outcome = delivery_attempt(delivery_id=delivery.pk)

        assert (outcome.status, outcome.response_code) == (DeliveryStatus.SUCCEEDED, 200)
        [request] = allowed.wait_for(1)
        assert request.headers["host"] == f"rebind.example:{allowed.port}"  # the name, not the address
        assert forbidden.requests == []
        assert dns.lookups.count("rebind.example") == 2  # one on save, one at send time
    finally:
        allowed.close()
        forbidden.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_the_answer_and_is_not_followed(tenant, make_endpoint, receiver, listener, status):
    receiver.answers = [(status, {"Location": f"http://127.0.0.1:{listener.port}/elsewhere"})]
    delivery = _pending_delivery(make_endpoint(tenant, receiver.url()).endpoint)

    outcome = delivery_attempt(delivery_id=delivery.pk)

    assert (outcome.status, outcome.response_code) == (DeliveryStatus.PENDING, status)
    delivery.refresh_from_db()
    assert delivery.last_error == f"HTTP {status}: redirect_not_followed"
    assert len(receiver.requests) == 1
    assert listener.accepted == 0  # not even a GET


def test_the_log_keeps_the_status_and_never_the_answer_body(tenant, make_endpoint, receiver, caplog):
    banner = b"redis_version:7.2.4 SECRET-INTERNAL-BANNER"
    receiver.answers = [(500, {"Content-Type": "text/plain"}, banner)]
    delivery = _pending_delivery(make_endpoint(tenant, receiver.url()).endpoint)

    with caplog.at_level(logging.DEBUG):
        outcome = delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (outcome.response_code, outcome.error, delivery.last_error) == (500, "HTTP 500", "HTTP 500")
    assert "SECRET" not in caplog.text and "redis_version" not in caplog.text


def test_a_name_that_stops_resolving_is_a_dns_error_at_send_time(tenant, make_endpoint, dns, listener):
    dns.names["gone.example"] = ["127.0.0.1"]
    delivery = _pending_delivery(make_endpoint(tenant, f"http://gone.example:{listener.port}/hooks").endpoint)
    dns.names["gone.example"] = []

    outcome = delivery_attempt(delivery_id=delivery.pk)

    assert (outcome.response_code, outcome.error) == (None, "dns_error")
    assert listener.accepted == 0
