"""Celery tasks: thin wrappers over webhooks.sending; the table holds the schedule, so each is safe to run twice."""

from __future__ import annotations

import logging
import threading

from celery import shared_task
from django.db import connection
from django.utils import timezone

from core.transient import TRANSIENT

from .selectors import deliveries_due
from .sending import Claim, deliveries_send_due, delivery_attempt, delivery_claim_and_attempt
from .services import endpoint_secrets_expire

logger = logging.getLogger(__name__)

# A retry message held longer than Redis's visibility timeout (1 h) may be handed to a second
# worker; longer back-offs are left to the deliver_due sweep, which reads the schedule from the table.
CELERY_RETRY_MAX_SECONDS = 3000
DUE_BATCH = 1000  # deliveries one sweep hands out; each task claims its own, so a repeat is harmless


@shared_task(bind=True, max_retries=None, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=300)
def deliver(self, delivery_id: int) -> str:
    """One attempt; on failure a retry after the back-off the attempt recorded.

    Runs on the `webhooks` queue (CELERY_TASK_ROUTES), so deliveries never delay metrics or nudges.
    """
    outcome = delivery_claim_and_attempt(delivery_id=delivery_id)
    if isinstance(outcome, Claim):
        # "busy": the endpoint has its fill of attempts in flight; the delivery stays due for the sweep.
        return str(outcome)
    # Eagerly (tests, embedded mode) Celery would ignore the countdown and retry at once: leave
    # the retry to the deliver_due sweep, which reads its time from the table.
    retry_in = outcome.retry_in.total_seconds() if outcome.retry_in is not None else None
    if retry_in is not None and retry_in <= CELERY_RETRY_MAX_SECONDS and not self.request.is_eager:
        raise self.retry(countdown=retry_in)
    return outcome.status


@shared_task(bind=True, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=300, max_retries=8)
def deliver_due(self) -> int:
    """Beat's sweep: hand deliveries whose next attempt is due to the workers, and drop rotated-out secrets.

    Without workers (run eagerly) it sends them itself, several at once (deliveries_send_due).
    """
    endpoint_secrets_expire()
    if self.request.is_eager or self.app.conf.task_always_eager:
        return deliveries_send_due()
    delivery_ids = deliveries_due(now=timezone.now(), limit=DUE_BATCH)
    for delivery_id in delivery_ids:
        deliver.delay(delivery_id)
    return len(delivery_ids)


def deliveries_enqueue(delivery_ids: list[int]) -> None:
    """Hand new or redelivered deliveries to the workers, never sending them in the caller's thread."""
    if not delivery_ids:
        return
    if deliver.app.conf.task_always_eager:
        # Embedded mode has no worker: an eager task would POST inside the ceremony. A thread per
        # delivery sends instead, so one slow endpoint delays no other (the per-endpoint cap bounds
        # them); what fails waits in the table for deliver_due (`manage.py deliver_webhooks`).
        for delivery_id in delivery_ids:
            threading.Thread(target=_send_in_background, args=([delivery_id],), daemon=True).start()
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
