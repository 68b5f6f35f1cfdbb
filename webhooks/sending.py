"""Sending deliveries: claim one, sign it, POST it once, record the outcome and the next attempt.

The table is the retry schedule. A delivery is claimed by moving its `next_attempt_at` past the
attempt (one UPDATE that only one worker can win), so the Celery task, its retries and the
`deliver_due` sweep can all try the same delivery and it is still sent once per due time. A
worker that dies mid-attempt leaves a claim that lapses, and the sweep sends the delivery again.
A claim also sets `claimed_until`, which counts the endpoint's attempts in flight: an endpoint
with WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT of them gets no more, so a slow one cannot take every worker.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from . import conf, transport
from .egress import EgressRefused
from .models import Delivery, DeliveryStatus, Endpoint
from .selectors import deliveries_due
from .services import endpoint_signing_secrets
from .signing import signed_headers
from .validators import endpoint_url_target

logger = logging.getLogger(__name__)

CLAIM_MARGIN = timedelta(seconds=30)  # beyond the deadline, before a claimed attempt counts as lost


@dataclass(frozen=True)
class AttemptOutcome:
    status: str
    attempts: int
    response_code: int | None
    error: str
    retry_in: timedelta | None  # when pending: the back-off before the next attempt


class Claim(StrEnum):
    CLAIMED = "claimed"
    NOT_DUE = "not_due"  # sent already, scheduled later, or claimed by another sender
    BUSY = "busy"  # due, but its endpoint has as many attempts in flight as it may


def http_post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """POST once to the address checked now; (status code or None, "" on a 2xx else a fixed error class)."""
    try:
        # Checked on save already; again here, against today's DNS, for rows written around the validation.
        target = endpoint_url_target(url)
    except EgressRefused as refused:
        return None, refused.error_class
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return transport.post(
        target, path=path, body=body, headers=headers, timeout=timeout, deadline_seconds=conf.deadline_seconds()
    )


def _claim(delivery_id: int, now: datetime) -> Claim:
    lease_until = now + timedelta(seconds=conf.deadline_seconds()) + CLAIM_MARGIN
    due = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    with transaction.atomic():
        endpoint_id = due.values_list("endpoint_id", flat=True).first()
        if endpoint_id is None:
            return Claim.NOT_DUE
        # Claims for one endpoint take turns on its row, so two cannot both see room for one more.
        list(Endpoint.objects.select_for_update().filter(pk=endpoint_id).values_list("pk"))
        in_flight = Delivery.objects.filter(endpoint_id=endpoint_id, claimed_until__gt=now).count()
        if in_flight >= conf.max_in_flight_per_endpoint():
            return Claim.BUSY
        won = due.update(next_attempt_at=lease_until, claimed_until=lease_until) == 1
    return Claim.CLAIMED if won else Claim.NOT_DUE


@dataclass(frozen=True)
class _Attempt:
    """A claimed delivery, signed and ready to send; sending needs no database."""

    delivery: Delivery
    now: datetime
    body: bytes
    headers: dict[str, str]

    def send(self) -> tuple[int | None, str]:
        url = self.delivery.endpoint.url
        return http_post(url=url, body=self.body, headers=self.headers, timeout=conf.timeout_seconds())


def _attempt_start(delivery_id: int, now: datetime) -> _Attempt | AttemptOutcome | Claim:
    """Claim and sign (in the caller's thread and connection); an outcome when it ends without sending."""
    claim = _claim(delivery_id, now)
    if claim != Claim.CLAIMED:
        return claim
    delivery = Delivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:  # its endpoint was deleted meanwhile
        return Claim.NOT_DUE
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        error = "not sent: the endpoint is disabled"
        Delivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None, claimed_until=None, last_error=error
        )
        return AttemptOutcome(DeliveryStatus.FAILED, delivery.attempts, None, error, None)
    payload = delivery.payload
    body = json.dumps(
        {"type": payload["type"], "timestamp": payload["timestamp"], "data": payload["data"]},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    headers = signed_headers(
        secrets=endpoint_signing_secrets(endpoint=endpoint, now=now),
        message_id=delivery.message_id,
        timestamp=int(now.timestamp()),
        body=body,
    )
    return _Attempt(delivery=delivery, now=now, body=body, headers=headers)


def _attempt_finish(attempt: _Attempt, code: int | None, error: str) -> AttemptOutcome:
    """Record the answer (only its status code and a fixed error class) and schedule what comes next."""
    delivery, now = attempt.delivery, attempt.now
    attempts = delivery.attempts + 1
    retry_in = None
    if code is not None and 200 <= code < 300:
        status, next_attempt_at, delivered_at = DeliveryStatus.SUCCEEDED, None, now
    elif attempts >= conf.max_attempts():
        status, next_attempt_at, delivered_at = DeliveryStatus.FAILED, None, None
    else:
        retry_in = conf.retry_delay(attempts)
        status, next_attempt_at, delivered_at = DeliveryStatus.PENDING, now + retry_in, None
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status,
        attempts=attempts,
        response_code=code,
        last_error=error[:500],
        last_attempt_at=now,
        next_attempt_at=next_attempt_at,
        claimed_until=None,
        delivered_at=delivered_at or delivery.delivered_at,
    )
    if status != DeliveryStatus.SUCCEEDED:
        # The error is a fixed class ("HTTP 500", "timeout", ...): never the body, never a resolved address.
        message = "webhook %s to endpoint %s failed (attempt %d): %s"
        logger.info(message, delivery.message_id, delivery.endpoint_id, attempts, error)
    return AttemptOutcome(status, attempts, code, error, retry_in)


def delivery_claim_and_attempt(*, delivery_id: int, now: datetime | None = None) -> AttemptOutcome | Claim:
    """Send one due delivery once; the Claim (not due, or its endpoint busy) when it was not sent."""
    started = _attempt_start(delivery_id, now or timezone.now())
    if not isinstance(started, _Attempt):
        return started
    code, error = started.send()
    return _attempt_finish(started, code, error)


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> AttemptOutcome | None:
    """Send one due delivery once. None when it is not sent (not due, claimed elsewhere, or its endpoint busy)."""
    outcome = delivery_claim_and_attempt(delivery_id=delivery_id, now=now)
    return outcome if isinstance(outcome, AttemptOutcome) else None


def deliveries_send_due(*, now: datetime | None = None, limit: int = 200, budget_seconds: float = 50.0) -> int:
    """The sweep without workers: send due deliveries, several at once; returns how many were attempted.

    Claims and records stay in this thread (and its database connection); only the POSTs run in a
    pool of WEBHOOK_SWEEP_CONCURRENCY threads, so a slow endpoint holds one thread, not the run.
    Stops starting new attempts after `budget_seconds`, so that a run stays shorter than the beat
    interval; the next run continues. Each attempt is signed at its own time.
    """
    started = time.monotonic()
    attempted = 0
    waiting = deque(deliveries_due(now=now or timezone.now(), limit=limit))
    running: dict[Future, _Attempt] = {}
    with ThreadPoolExecutor(max_workers=conf.sweep_concurrency(), thread_name_prefix="webhook-send") as pool:
        while waiting or running:
            while waiting and len(running) < conf.sweep_concurrency() and time.monotonic() - started <= budget_seconds:
                attempt = _attempt_start(waiting.popleft(), now or timezone.now())
                if isinstance(attempt, _Attempt):
                    running[pool.submit(attempt.send)] = attempt
                elif isinstance(attempt, AttemptOutcome):
                    attempted += 1
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                _attempt_finish(running.pop(future), *future.result())
                attempted += 1
    return attempted
