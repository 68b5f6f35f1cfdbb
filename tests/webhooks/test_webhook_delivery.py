"""Sending: retries with back-off, timeouts, redirects, secret rotation, and never blocking a ceremony."""

from __future__ import annotations

import io
import json
import socket
import time
from datetime import timedelta

import pytest
import redis
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from tests.webhooks.receiver import HANG, SignatureError, verify
from webhooks import conf
from webhooks.models import Delivery, DeliveryStatus, Endpoint
from webhooks.sending import deliveries_send_due, delivery_attempt
from webhooks.services import deliveries_redeliver, endpoint_secret_rotate, endpoint_secrets_expire
from webhooks.tasks import deliver, deliver_due


@pytest.fixture
def delivery(api, authenticator, endpoint) -> Delivery:
    """One pending passkey.created delivery to the default endpoint."""
    assert api.register(authenticator).status_code == 201
    return Delivery.objects.get()


def test_retry_schedule_grows_exponentially_up_to_a_cap(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.WEBHOOK_RETRY_MAX_SECONDS = 3600
    delays = [conf.retry_delay(attempts).total_seconds() for attempts in range(1, 6)]
    assert delays == [30, 120, 480, 1920, 3600]


def test_a_500_is_retried_after_the_back_off_and_the_success_is_recorded(delivery, receiver, endpoint):
    receiver.answers = [500]
    start = timezone.now()

    first = delivery_attempt(delivery_id=delivery.pk, now=start)
    assert (first.status, first.attempts, first.response_code) == (DeliveryStatus.PENDING, 1, 500)
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == start + timedelta(seconds=30)
    assert delivery.last_error.startswith("HTTP 500")

    assert deliveries_send_due(now=start + timedelta(seconds=29)) == 0  # the back-off is respected
    assert deliveries_send_due(now=start + timedelta(seconds=30)) == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.SUCCEEDED, 2, 200)
    assert (delivery.last_error, delivery.next_attempt_at) == ("", None)
    assert delivery.delivered_at == start + timedelta(seconds=30)
    one, two = receiver.wait_for(2)
    # The same message on both attempts, each signed at its own time.
    assert one.headers["webhook-id"] == two.headers["webhook-id"] == delivery.message_id
    assert int(two.headers["webhook-timestamp"]) - int(one.headers["webhook-timestamp"]) == 30
    assert one.body == two.body
    for request in (one, two):
        verify(endpoint.secret, request.headers, request.body)


def test_a_delivery_fails_for_good_after_the_maximum_attempts(delivery, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answers = [503, 503, 503]
    now = timezone.now()
    for _ in range(3):
        outcome = delivery_attempt(delivery_id=delivery.pk, now=now)
        now += outcome.retry_in or timedelta(0)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.FAILED, 3, None)
    assert deliveries_send_due(now=now + timedelta(days=30)) == 0
    assert len(receiver.requests) == 3


def test_a_receiver_that_never_answers_times_out_and_the_error_is_recorded(delivery, receiver):
    receiver.answers = [HANG]

    started = time.monotonic()
    outcome = delivery_attempt(delivery_id=delivery.pk)
    elapsed = time.monotonic() - started

    assert 0.9 < elapsed < 5  # WEBHOOK_TIMEOUT_SECONDS is 1 here
    delivery.refresh_from_db()
    assert (outcome.status, delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, DeliveryStatus.PENDING, 1)
    assert delivery.response_code is None
    assert delivery.last_error == "timeout"
    assert delivery.next_attempt_at > timezone.now()


def test_the_management_command_sends_what_is_due(delivery, receiver):
    out = io.StringIO()
    call_command("deliver_webhooks", stdout=out)
    assert out.getvalue().strip() == "1 deliveries attempted"
    assert len(receiver.wait_for(1)) == 1


def test_a_refused_connection_is_recorded(api, authenticator, tenant, make_endpoint):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again before the attempt: nobody listens there
    make_endpoint(tenant, f"http://127.0.0.1:{port}/hooks")
    assert api.register(authenticator).status_code == 201

    assert deliveries_send_due() == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.PENDING, 1, None)
    assert "refused" in delivery.last_error.lower()


def test_redirects_are_not_followed(delivery, receiver, other_receiver):
    receiver.answers = [(307, {"Location": other_receiver.url()})]

    outcome = delivery_attempt(delivery_id=delivery.pk)

    assert (outcome.status, outcome.response_code) == (DeliveryStatus.PENDING, 307)
    time.sleep(0.2)
    assert other_receiver.requests == []


def test_redelivery_resends_the_same_message_now(delivery, receiver, endpoint):
    assert delivery_attempt(delivery_id=delivery.pk).status == DeliveryStatus.SUCCEEDED
    assert deliveries_send_due() == 0

    assert deliveries_redeliver(deliveries=Delivery.objects.filter(pk=delivery.pk)) == 1
    assert deliveries_send_due() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    first, again = receiver.wait_for(2)
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    verify(endpoint.secret, again.headers, again.body)


def test_a_redelivered_failure_gets_one_more_attempt(delivery, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.answers = [500, 500]
    assert delivery_attempt(delivery_id=delivery.pk).status == DeliveryStatus.FAILED

    deliveries_redeliver(deliveries=Delivery.objects.all())
    assert delivery_attempt(delivery_id=delivery.pk).status == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.attempts == 2


def test_during_a_rotation_both_secrets_sign_and_each_signature_verifies(delivery, receiver, endpoint):
    old = endpoint.secret
    new = endpoint_secret_rotate(endpoint=endpoint.endpoint, overlap=timedelta(hours=24))
    assert new != old and new.startswith("whsec_")

    delivery_attempt(delivery_id=delivery.pk)

    [request] = receiver.wait_for(1)
    first, second = request.signatures()
    for secret, signature in ((new, first), (old, second)):
        alone = {**request.headers, "webhook-signature": signature}
        verify(secret, alone, request.body)
        with pytest.raises(SignatureError):
            verify(new if secret == old else old, alone, request.body)
    verify(old, request.headers, request.body)  # a receiver that has not switched yet
    verify(new, request.headers, request.body)  # one that has


def test_after_the_overlap_only_the_new_secret_signs(delivery, receiver, endpoint):
    old = endpoint.secret
    rotated_at = timezone.now() - timedelta(hours=25)
    new = endpoint_secret_rotate(endpoint=endpoint.endpoint, overlap=timedelta(hours=24), now=rotated_at)

    delivery_attempt(delivery_id=delivery.pk)

    [request] = receiver.wait_for(1)
    assert len(request.signatures()) == 1
    verify(new, request.headers, request.body)
    with pytest.raises(SignatureError):
        verify(old, request.headers, request.body)
    # The sweep then forgets the old secret altogether.
    assert endpoint_secrets_expire() == 1
    assert Endpoint.objects.get().previous_secret_encrypted is None


def test_a_rotation_without_overlap_drops_the_old_secret_at_once(delivery, receiver, endpoint):
    new = endpoint_secret_rotate(endpoint=endpoint.endpoint, overlap=timedelta(0))
    delivery_attempt(delivery_id=delivery.pk)
    [request] = receiver.wait_for(1)
    assert len(request.signatures()) == 1
    verify(new, request.headers, request.body)


def test_the_receiver_rejects_a_stale_timestamp_or_a_changed_body(delivery, receiver, endpoint):
    six_minutes_ago = timezone.now() - timedelta(minutes=6)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=six_minutes_ago)
    delivery_attempt(delivery_id=delivery.pk, now=six_minutes_ago)
    [request] = receiver.wait_for(1)

    with pytest.raises(SignatureError, match="tolerance"):
        verify(endpoint.secret, request.headers, request.body)
    signed_at = int(request.headers["webhook-timestamp"])
    verify(endpoint.secret, request.headers, request.body, now=signed_at)
    tampered = json.dumps({**request.json(), "type": "user.deleted"}, separators=(",", ":")).encode()
    with pytest.raises(SignatureError, match="no matching"):
        verify(endpoint.secret, request.headers, tampered, now=signed_at)


def test_a_ceremony_returns_before_any_attempt_to_an_endpoint_that_never_answers(
    api, authenticator, receiver, endpoint, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    receiver.answers = [HANG]
    broker = redis.Redis.from_url(settings.REDIS_URL)
    assert broker.llen("webhooks") == 0

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # commit, as production would
        response = api.register(authenticator)
    elapsed = time.monotonic() - started

    assert response.status_code == 201
    assert elapsed < 1.5, elapsed
    assert receiver.requests == []
    assert len(callbacks) == 1
    [message] = broker.lrange("webhooks", 0, -1)  # handed to the webhooks queue's workers, not sent
    assert json.loads(message)["headers"]["task"] == "webhooks.tasks.deliver"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)

    # The worker's attempt then waits out the timeout on its own time.
    outcome = delivery_attempt(delivery_id=delivery.pk)
    assert outcome.status == DeliveryStatus.PENDING and outcome.error == "timeout"


def test_nothing_is_logged_or_sent_when_the_change_rolls_back(
    api, authenticator, tenant, endpoint, django_capture_on_commit_callbacks
):
    from passkeys.services.credentials import user_delete

    assert api.register(authenticator).status_code == 201
    Delivery.objects.all().delete()
    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            user_delete(tenant=tenant, user_id="alice")
            assert Delivery.objects.count() == 1
            transaction.set_rollback(True)
    assert not Delivery.objects.exists()
    assert callbacks == []


def test_the_celery_tasks_send_retry_and_sweep(delivery, receiver, endpoint):
    receiver.answers = [500]

    # Eagerly the task leaves the retry to the sweep; on a worker it retries after the countdown.
    assert deliver.apply(args=[delivery.pk]).get() == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.PENDING, 1, 500)
    assert len(receiver.requests) == 1

    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # the back-off has passed
    assert deliver_due.apply().get() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    assert deliver.apply(args=[delivery.pk]).get() == "not_due"  # sent already
    assert len(receiver.wait_for(2)) == 2
