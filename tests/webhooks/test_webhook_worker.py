"""Webhooks sent by a real Celery worker consuming from Redis, and concurrent senders against committed rows."""

from __future__ import annotations

import threading
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection

from passkey_service.celery import app
from tests.webhooks.receiver import HANG, verify
from webhooks.models import Delivery, DeliveryStatus
from webhooks.sending import delivery_attempt

WAIT = 30  # seconds; a delivery here takes milliseconds, a broken worker never sends


def _wait_until(predicate, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def eager():
    """Embedded mode: no broker, Celery runs tasks in the caller (the app's own setting is restored)."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


@pytest.mark.django_db(transaction=True)  # the worker thread has its own connection: it sees committed rows only
def test_a_worker_delivers_from_the_broker_and_retries_a_500_after_the_back_off(
    api, authenticator, receiver, endpoint, settings
):
    assert settings.REDIS_URL and not app.conf.task_always_eager, "needs the broker (the test environment sets it)"
    settings.WEBHOOK_RETRY_BASE_SECONDS = 1
    receiver.answers = [500]

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=WAIT):
        assert api.register(authenticator).status_code == 201  # commits, so on_commit enqueues at once
        first, second = receiver.wait_for(2, timeout=WAIT)
        _wait_until(lambda: Delivery.objects.get().status == DeliveryStatus.SUCCEEDED)

    assert second.at - first.at >= 0.9  # Celery's retry countdown: the back-off after one failure
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert verify(endpoint.secret, second.headers, second.body)["type"] == "passkey.created"
    delivery = Delivery.objects.get()
    assert (delivery.attempts, delivery.response_code, delivery.last_error) == (2, 200, "")


@pytest.mark.django_db(transaction=True)
def test_in_embedded_mode_a_thread_sends_and_the_ceremony_does_not_wait(api, authenticator, receiver, endpoint, eager):
    receiver.answers = [HANG]  # one timeout (1 s here) would be felt by the ceremony if it waited

    started = time.monotonic()
    assert api.register(authenticator).status_code == 201
    elapsed = time.monotonic() - started

    assert elapsed < 0.9, elapsed
    receiver.wait_for(1)  # the background thread did send it
    _wait_until(lambda: Delivery.objects.get().attempts == 1)
    assert Delivery.objects.get().last_error == "timeout"


@pytest.mark.django_db(transaction=True)
def test_two_senders_of_one_due_delivery_post_it_once(api, authenticator, receiver, endpoint):
    assert api.register(authenticator).status_code == 201
    delivery = Delivery.objects.get()
    receiver.answers = [HANG]  # the first sender is still waiting when the second one tries

    def first_sender() -> None:
        try:
            delivery_attempt(delivery_id=delivery.pk)
        finally:
            connection.close()

    sender = threading.Thread(target=first_sender)
    sender.start()
    receiver.wait_for(1)
    assert delivery_attempt(delivery_id=delivery.pk) is None
    sender.join()

    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1
