"""Celery tasks: thin wrappers over webhooks.sending; the table holds the schedule, so each is safe to run twice."""

from __future__ import annotations

import logging
import threading

from celery import shared_task
from django.db import InterfaceError, OperationalError, connection
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError

from .sending import deliveries_send_due, delivery_attempt
from .services import endpoint_secrets_expire

logger = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, BrokerError, RedisConnectionError)
# A retry message held longer than Redis's visibility timeout (1 h) may be handed to a second
# worker; longer back-offs are left to the deliver_due sweep, which reads the schedule from the table.
CELERY_RETRY_MAX_SECONDS = 3000


@shared_task(bind=True, max_retries=None, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=300)
def deliver(self, delivery_id: int) -> str:
    """One attempt; on failure a retry after the back-off the attempt recorded."""
    outcome = delivery_attempt(delivery_id=delivery_id)
    if outcome is None:
        return "not_due"
    # Eagerly (tests, embedded mode) Celery would ignore the countdown and retry at once: leave
    # the retry to the deliver_due sweep, which reads its time from the table.
    retry_in = outcome.retry_in.total_seconds() if outcome.retry_in is not None else None
    if retry_in is not None and retry_in <= CELERY_RETRY_MAX_SECONDS and not self.request.is_eager:
        raise self.retry(countdown=retry_in)
    return outcome.status


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=300, max_retries=8)
def deliver_due() -> int:
    """Beat's sweep: send deliveries whose next attempt is due, and drop rotated-out secrets past their overlap."""
    endpoint_secrets_expire()
    return deliveries_send_due()


def deliveries_enqueue(delivery_ids: list[int]) -> None:
    """Hand new or redelivered deliveries to the workers, never sending them in the caller's thread."""
    if not delivery_ids:
        return
    if deliver.app.conf.task_always_eager:
        # Embedded mode has no worker: an eager task would POST inside the ceremony. A thread
        # sends them instead; what fails waits in the table for deliver_due (`manage.py deliver_webhooks`).
        threading.Thread(target=_send_in_background, args=(list(delivery_ids),), daemon=True).start()
        return
    for delivery_id in delivery_ids:
        deliver.delay(delivery_id)


def _send_in_background(delivery_ids: list[int]) -> None:
    try:
        for delivery_id in delivery_ids:
            delivery_attempt(delivery_id=delivery_id)
    except TRANSIENT:
        logger.warning("webhook deliveries %s left for the sweep: database unavailable", delivery_ids, exc_info=True)
    finally:
        connection.close()  # this thread's own connection
