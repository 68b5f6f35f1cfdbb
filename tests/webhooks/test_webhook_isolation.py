"""One tenant's slow endpoint cannot stall the others: a total deadline, a per-endpoint cap, parallel sends, own queue.

Real HTTP on loopback: the trickling receiver answers a byte every half second and never finishes, so every
byte arrives well inside the socket timeout and only the total deadline ends the attempt.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from tests.webhooks.receiver import TricklingReceiver
from webhooks.models import Delivery, DeliveryStatus, Endpoint
from webhooks.sending import deliveries_send_due, delivery_attempt
from webhooks.tasks import deliver, deliver_due


@pytest.fixture
def trickler():
    server = TricklingReceiver(interval=0.5)
    yield server
    server.close()


def _pending(endpoint: Endpoint, count: int = 1) -> list[Delivery]:
    now = timezone.now()
    payload = {"type": "user.deleted", "timestamp": now.isoformat(), "data": {"user_id": "alice"}}
    return [
        Delivery.objects.create(endpoint=endpoint, event_type="user.deleted", payload=payload, next_attempt_at=now)
        for _ in range(count)
    ]


def test_a_trickling_receiver_is_cut_off_at_the_total_deadline(tenant, make_endpoint, trickler, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 2  # per recv: never reached, a byte comes every 0.5 s
    settings.WEBHOOK_DEADLINE_SECONDS = 2
    [delivery] = _pending(make_endpoint(tenant, trickler.url()).endpoint)

    started = time.monotonic()
    outcome = delivery_attempt(delivery_id=delivery.pk)
    elapsed = time.monotonic() - started

    assert 1.9 < elapsed < 3.0, elapsed
    assert len(trickler.arrivals) == 1
    delivery.refresh_from_db()
    assert (outcome.status, outcome.response_code, delivery.last_error) == (DeliveryStatus.PENDING, None, "timeout")
    assert delivery.claimed_until is None  # no longer counted in flight


def test_a_slow_tenant_does_not_delay_another_tenants_delivery(
    tenant, make_tenant, make_endpoint, trickler, receiver, settings
):
    settings.WEBHOOK_DEADLINE_SECONDS = 6
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT = 2
    other = make_tenant(name="Other", rp_id="other.example", origins=["https://other.example"])
    slow = make_endpoint(tenant, trickler.url()).endpoint
    fast = make_endpoint(other, receiver.url()).endpoint
    slow_deliveries = _pending(slow, 5)  # due first: the sweep meets them first
    [fast_delivery] = _pending(fast)
    Delivery.objects.filter(pk=fast_delivery.pk).update(next_attempt_at=timezone.now() + timedelta(microseconds=1))

    started = time.monotonic()
    attempted = deliveries_send_due(now=timezone.now() + timedelta(seconds=1))
    finished = time.monotonic()

    [request] = receiver.requests
    assert request.at - started < 3, request.at - started  # while the slow tenant's attempts still trickled
    assert finished - started > 5.5  # ... until their deadline
    assert trickler.most_open == 2  # the per-endpoint cap: two in flight, never more
    assert attempted == 3
    fast_delivery.refresh_from_db()
    assert fast_delivery.status == DeliveryStatus.SUCCEEDED
    slow = Delivery.objects.filter(pk__in=[delivery.pk for delivery in slow_deliveries])
    slow_attempts = sorted(slow.values_list("attempts", flat=True))
    assert slow_attempts == [0, 0, 0, 1, 1]  # the rest stay due for the next sweep


def test_an_endpoint_with_its_fill_in_flight_gets_no_further_claim(tenant, make_endpoint, receiver, settings):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT = 2
    endpoint = make_endpoint(tenant, receiver.url()).endpoint
    first, second, third = _pending(endpoint, 3)
    lease = timezone.now() + timedelta(seconds=30)
    # Two attempts in flight (claimed by workers elsewhere, not finished yet).
    Delivery.objects.filter(pk__in=[first.pk, second.pk]).update(claimed_until=lease, next_attempt_at=lease)

    assert deliver.apply(args=[third.pk]).get() == "busy"
    assert delivery_attempt(delivery_id=third.pk) is None
    assert receiver.requests == []
    third.refresh_from_db()
    assert (third.status, third.attempts) == (DeliveryStatus.PENDING, 0)  # still due, for the sweep

    # A lapsed claim (its worker died) no longer counts.
    Delivery.objects.filter(pk=first.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert deliver.apply(args=[third.pk]).get() == DeliveryStatus.SUCCEEDED
    assert len(receiver.wait_for(1)) == 1


def test_deliveries_go_to_their_own_queue(settings):
    assert settings.CELERY_TASK_ROUTES["webhooks.tasks.deliver"] == {"queue": "webhooks"}
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete("webhooks", "celery")
    try:
        deliver.delay(123456789)
        assert broker.llen("celery") == 0
        [message] = broker.lrange("webhooks", 0, -1)
        assert json.loads(message)["headers"]["task"] == "webhooks.tasks.deliver"
    finally:
        broker.delete("webhooks")


def test_beats_sweep_hands_due_deliveries_to_the_webhook_workers(tenant, make_endpoint, receiver, settings):
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete("webhooks")
    deliveries = _pending(make_endpoint(tenant, receiver.url()).endpoint, 3)
    try:
        assert deliver_due() == 3  # as a worker runs it: not eagerly
        messages = [json.loads(message) for message in broker.lrange("webhooks", 0, -1)]
        assert [message["headers"]["task"] for message in messages] == ["webhooks.tasks.deliver"] * 3
        assert receiver.requests == []  # handed out, not sent inline
        assert set(Delivery.objects.values_list("attempts", flat=True)) == {0}
        assert {d.pk for d in deliveries} == {int(m["headers"]["argsrepr"].strip("(),")) for m in messages}
    finally:
        broker.delete("webhooks")


@pytest.mark.django_db(transaction=True)  # the worker's threads have their own connections: committed rows only
def test_on_the_webhooks_worker_a_slow_tenant_does_not_delay_another(
    tenant, make_tenant, make_endpoint, trickler, receiver, settings
):
    from celery.contrib.testing.worker import start_worker

    from passkey_service.celery import app
    from webhooks.tasks import deliveries_enqueue

    assert settings.REDIS_URL and not app.conf.task_always_eager, "needs the broker (the test environment sets it)"
    settings.WEBHOOK_DEADLINE_SECONDS = 5
    other = make_tenant(name="Other", rp_id="other.example", origins=["https://other.example"])
    [slow] = _pending(make_endpoint(tenant, trickler.url()).endpoint)
    [fast] = _pending(make_endpoint(other, receiver.url()).endpoint)

    # What docker-compose runs: a worker on the webhooks queue only.
    with start_worker(app, pool="threads", concurrency=4, queues=["webhooks"], perform_ping_check=False):
        deliveries_enqueue([slow.pk])  # the slow tenant's first, and trickling before the other's is due
        deadline = time.monotonic() + 10
        while not trickler.arrivals:
            assert time.monotonic() < deadline, "the slow delivery never reached its receiver"
            time.sleep(0.02)
        started = time.monotonic()
        deliveries_enqueue([fast.pk])
        [request] = receiver.wait_for(1, timeout=10)
        assert request.at - started < 3, request.at - started
        assert len(trickler.arrivals) == 1 and trickler.open_connections == 1  # still trickling meanwhile
        deadline = time.monotonic() + 15
        while Delivery.objects.get(pk=slow.pk).attempts == 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert Delivery.objects.get(pk=fast.pk).status == DeliveryStatus.SUCCEEDED
    assert Delivery.objects.get(pk=slow.pk).last_error == "timeout"
