"""Writes of the webhooks domain: endpoints and their secrets, publishing events, redelivery."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.errors import DomainError
from tenants.audit import audit_record, field_changes
from tenants.models import AuditAction, Tenant

from . import conf, signing
from .models import Delivery, DeliveryStatus, Endpoint, EventType, message_id_new
from .selectors import endpoint_subscriptions
from .validators import endpoint_url_problem

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = ("url", "description", "event_types", "enabled")


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: Endpoint
    secret: str  # shown once, stored only encrypted


def _clean_url(url: str) -> str:
    problem = endpoint_url_problem(url)
    if problem is not None:
        raise DomainError(f"The URL {problem}.")
    return url


def _clean_event_types(event_types: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(event_types))
    unknown = sorted(set(chosen) - set(EventType.values))
    if unknown:
        raise DomainError(f"Unknown event types: {', '.join(unknown)}.")
    if not chosen:
        raise DomainError("An endpoint subscribes to at least one event type.")
    return chosen


def endpoint_create(
    *, tenant: Tenant, url: str, event_types: Iterable[str], description: str = "", enabled: bool = True
) -> CreatedEndpoint:
    endpoint = Endpoint(tenant=tenant, url=url, event_types=list(event_types), description=description, enabled=enabled)
    secret = endpoint_add(endpoint=endpoint)
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


def endpoint_add(*, endpoint: Endpoint) -> str:
    """Validate and store a new endpoint (built by the caller, e.g. the admin's form) with a new secret.

    Returns the secret, to be shown once.
    """
    endpoint.url = _clean_url(endpoint.url)
    endpoint.event_types = _clean_event_types(endpoint.event_types)
    secret = signing.secret_generate()
    endpoint.secret_encrypted = signing.secret_encrypt(secret, endpoint_id=str(endpoint.pk))
    with transaction.atomic():
        endpoint.save(force_insert=True)
        audit_record(
            tenant=endpoint.tenant,
            action=AuditAction.WEBHOOK_ENDPOINT_CREATED,
            target=f"Webhook endpoint {endpoint.url}",
            changes=field_changes(None, endpoint, EDITABLE_FIELDS),
        )
    return secret


def endpoint_update(*, endpoint: Endpoint, **fields: Any) -> Endpoint:
    """Change the URL, description, event types or enabled flag (never the tenant or the secret)."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainError(f"Not editable: {', '.join(sorted(unknown))}.")
    if "url" in fields:
        fields["url"] = _clean_url(fields["url"])
    if "event_types" in fields:
        fields["event_types"] = _clean_event_types(fields["event_types"])
    before = Endpoint(**{name: getattr(endpoint, name) for name in EDITABLE_FIELDS})
    for name, value in fields.items():
        setattr(endpoint, name, value)
    changes = field_changes(before, endpoint, EDITABLE_FIELDS)
    with transaction.atomic():
        endpoint.save(update_fields=[*fields, "updated_at"])
        if changes:
            audit_record(
                tenant=endpoint.tenant,
                action=AuditAction.WEBHOOK_ENDPOINT_UPDATED,
                target=f"Webhook endpoint {endpoint.url}",
                changes=changes,
            )
    return endpoint


def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Delete the endpoint and its delivery log."""
    with transaction.atomic():
        audit_record(
            tenant=endpoint.tenant,
            action=AuditAction.WEBHOOK_ENDPOINT_DELETED,
            target=f"Webhook endpoint {endpoint.url}",
        )
        endpoint.delete()


def endpoint_secret_rotate(*, endpoint: Endpoint, overlap: timedelta | None = None, now: datetime | None = None) -> str:
    """Make a new secret; the current one keeps signing alongside it for `overlap` (default 24 h), then drops.

    Returns the new secret, to be shown once. A second rotation inside the overlap drops the oldest
    secret at once: at most two secrets ever sign.
    """
    overlap = conf.secret_overlap() if overlap is None else overlap
    now = now or timezone.now()
    secret = signing.secret_generate()
    with transaction.atomic():
        # Two admins rotating at the same moment must not both keep "the previous" secret.
        current = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        keep_old = overlap > timedelta(0)
        endpoint.previous_secret_encrypted = bytes(current.secret_encrypted) if keep_old else None
        endpoint.previous_secret_expires_at = now + overlap if keep_old else None
        endpoint.secret_encrypted = signing.secret_encrypt(secret, endpoint_id=str(endpoint.pk))
        endpoint.secret_rotated_at = now
        endpoint.save(
            update_fields=[
                "secret_encrypted",
                "previous_secret_encrypted",
                "previous_secret_expires_at",
                "secret_rotated_at",
                "updated_at",
            ]
        )
        audit_record(
            tenant=endpoint.tenant,
            action=AuditAction.WEBHOOK_SECRET_ROTATED,
            target=f"Webhook endpoint {endpoint.url}",
            changes={"old secret signs until": [None, _iso(endpoint.previous_secret_expires_at)]},
        )
    return secret


def endpoint_signing_secrets(*, endpoint: Endpoint, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during its overlap."""
    endpoint_id = str(endpoint.pk)
    secrets = [signing.secret_decrypt(bytes(endpoint.secret_encrypted), endpoint_id=endpoint_id)]
    expires_at = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted is not None and expires_at is not None and now < expires_at:
        secrets.append(signing.secret_decrypt(bytes(endpoint.previous_secret_encrypted), endpoint_id=endpoint_id))
    return secrets


def endpoint_secrets_expire(*, now: datetime | None = None) -> int:
    """Forget rotated-out secrets whose overlap has ended (they no longer sign either way)."""
    expired = Endpoint.objects.filter(previous_secret_expires_at__lte=now or timezone.now())
    return expired.update(previous_secret_encrypted=None, previous_secret_expires_at=None)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def events_publish(
    *, tenant_id: Any, events: Sequence[tuple[str, dict[str, Any]]], occurred_at: datetime | None = None
) -> list[int]:
    """Log a delivery of each (event type, data) to every enabled endpoint of the tenant subscribed to it,
    and send them after the surrounding transaction commits. Returns the new deliveries' ids.

    Runs inside ceremonies: with a warm cache a tenant without endpoints costs no query, and one
    with subscribers costs one INSERT. Nothing is sent here.
    """
    subscriptions = endpoint_subscriptions(tenant_id=tenant_id)
    if not subscriptions:
        return []
    now = occurred_at or timezone.now()
    rows = []
    for event_type, data in events:
        payload = {"type": event_type, "timestamp": _iso(now), "data": data}
        # One message id per event: each endpoint's deliveries of it share the webhook-id.
        message_id = message_id_new()
        for endpoint_id, types in subscriptions:
            if event_type in types:
                rows.append(
                    Delivery(
                        endpoint_id=endpoint_id,
                        message_id=message_id,
                        event_type=event_type,
                        payload=payload,
                        created_at=now,
                        next_attempt_at=now,
                    )
                )
    if not rows:
        return []
    try:
        with transaction.atomic():
            created = Delivery.objects.bulk_create(rows)
    except IntegrityError:
        # The endpoint was deleted between reading the subscriptions and this insert: nobody to tell.
        logger.warning("webhook deliveries for tenant %s dropped: endpoint deleted meanwhile", tenant_id)
        return []
    delivery_ids = [delivery.pk for delivery in created]
    transaction.on_commit(lambda: _enqueue(delivery_ids), robust=True)
    return delivery_ids


def deliveries_redeliver(*, deliveries: QuerySet[Delivery], now: datetime | None = None) -> int:
    """Send the given deliveries again, now, under their original webhook-id.

    A delivery that had used up its attempts gets one more; a pending one is simply brought forward.
    """
    now = now or timezone.now()
    delivery_ids = list(deliveries.values_list("id", flat=True))
    updated = Delivery.objects.filter(id__in=delivery_ids).update(status=DeliveryStatus.PENDING, next_attempt_at=now)
    transaction.on_commit(lambda: _enqueue(delivery_ids), robust=True)
    return updated


# How committed deliveries reach the workers: webhooks.tasks registers it at app ready (WebhooksConfig.ready).
# Tasks wrap services; a hook rather than an import keeps that dependency pointing one way.
_enqueue_hook: Callable[[list[int]], None] | None = None


def deliveries_enqueue_use(enqueue: Callable[[list[int]], None]) -> None:
    """Register how logged deliveries are handed to the workers (webhooks.tasks.deliveries_enqueue)."""
    global _enqueue_hook
    _enqueue_hook = enqueue


def _enqueue(delivery_ids: list[int]) -> None:
    # A broker that is down must not fail the ceremony (robust=True logs it instead); the rows are
    # already due, so the deliver_due sweep sends them later, as it does when no hook is registered.
    if _enqueue_hook is not None:
        _enqueue_hook(delivery_ids)
