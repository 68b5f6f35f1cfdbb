"""Sending deliveries: claim one, sign it, POST it once, record the outcome and the next attempt.

The table is the retry schedule. A delivery is claimed by moving its `next_attempt_at` past the
attempt (one UPDATE that only one worker can win), so the Celery task, its retries and the
`deliver_due` sweep can all try the same delivery and it is still sent once per due time. A
worker that dies mid-attempt leaves a claim that lapses, and the sweep sends the delivery again.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from . import conf
from .models import Delivery, DeliveryStatus
from .selectors import deliveries_due
from .services import endpoint_signing_secrets
from .signing import signed_headers
from .validators import endpoint_url_problem

logger = logging.getLogger(__name__)

CLAIM_MARGIN = timedelta(seconds=60)  # beyond the timeout, before a claimed attempt counts as lost
RESPONSE_READ_BYTES = 4096
ERROR_SNIPPET_CHARS = 200
USER_AGENT = "passkey-service-webhooks/1"


@dataclass(frozen=True)
class AttemptOutcome:
    status: str
    attempts: int
    response_code: int | None
    error: str
    retry_in: timedelta | None  # when pending: the back-off before the next attempt


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is the endpoint's answer, not an instruction: following it could reach any host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def http_post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """POST once; (status code or None when no answer came, error text or "" on a 2xx)."""
    problem = endpoint_url_problem(url)
    if problem is not None:  # validated on save already; this guards rows written around the validation
        return None, f"not sent: the URL {problem}"
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above: https, or http to localhost
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(RESPONSE_READ_BYTES)
            return response.status, ""
    except urllib.error.HTTPError as error:  # any non-2xx status, 3xx included
        with error:
            snippet = error.read(ERROR_SNIPPET_CHARS).decode("utf-8", "replace")
        return error.code, f"HTTP {error.code}: {snippet}".strip()[: ERROR_SNIPPET_CHARS + 20]
    except urllib.error.URLError as error:  # no connection: refused, DNS, TLS, connect timeout
        return None, f"{type(error.reason).__name__}: {error.reason}"
    except (OSError, http.client.HTTPException, ValueError) as error:  # read timeout, reset, bad answer
        return None, f"{type(error).__name__}: {error}"


def _claim(delivery_id: int, now: datetime) -> bool:
    lease_until = now + timedelta(seconds=conf.timeout_seconds()) + CLAIM_MARGIN
    due = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    return due.update(next_attempt_at=lease_until) == 1


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> AttemptOutcome | None:
    """Send one due delivery once. None when it is not due (sent already, scheduled later, or claimed)."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = Delivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:  # its endpoint was deleted meanwhile
        return None
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        error = "not sent: the endpoint is disabled"
        Delivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None, last_error=error
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
    code, error = http_post(url=endpoint.url, body=body, headers=headers, timeout=conf.timeout_seconds())

    attempts = delivery.attempts + 1
    retry_in = None
    if code is not None and 200 <= code < 300:
        status, next_attempt_at, delivered_at = DeliveryStatus.SUCCEEDED, None, now
    elif attempts >= conf.max_attempts():
        status, next_attempt_at, delivered_at = DeliveryStatus.FAILED, None, None
    else:
        retry_in = conf.retry_delay(attempts)
        status, next_attempt_at, delivered_at = DeliveryStatus.PENDING, now + retry_in, None
    Delivery.objects.filter(pk=delivery_id).update(
        status=status,
        attempts=attempts,
        response_code=code,
        last_error=error[:500],
        last_attempt_at=now,
        next_attempt_at=next_attempt_at,
        delivered_at=delivered_at or delivery.delivered_at,
    )
    if status != DeliveryStatus.SUCCEEDED:
        logger.info("webhook %s to %s failed (attempt %d): %s", delivery.message_id, endpoint.url, attempts, error)
    return AttemptOutcome(status, attempts, code, error, retry_in)


def deliveries_send_due(*, now: datetime | None = None, limit: int = 200, budget_seconds: float = 50.0) -> int:
    """The sweep: send deliveries whose next attempt time has passed; returns how many were attempted.

    Stops taking new ones after `budget_seconds`, so that a run stays shorter than the beat interval
    when endpoints time out; the next run continues. Each attempt is signed at its own time.
    """
    started = time.monotonic()
    attempted = 0
    for delivery_id in deliveries_due(now=now or timezone.now(), limit=limit):
        if time.monotonic() - started > budget_seconds:
            break
        if delivery_attempt(delivery_id=delivery_id, now=now) is not None:
            attempted += 1
    return attempted
