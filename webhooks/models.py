"""Webhook endpoints and their delivery log."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from tenants.models import Tenant

from .validators import endpoint_url_validate


class EventType(models.TextChoices):
    PASSKEY_CREATED = "passkey.created"
    PASSKEY_DELETED = "passkey.deleted"
    PASSKEY_LOGIN_SUCCEEDED = "passkey.login_succeeded"
    PASSKEY_LOGIN_FAILED = "passkey.login_failed"
    PASSKEY_SIGN_COUNT_REGRESSION = "passkey.sign_count_regression"
    USER_DELETED = "user.deleted"
    NUDGE_DUE = "nudge.due"
    AUTHENTICATOR_STATUS_CHANGED = "authenticator.status_changed"


def message_id_new() -> str:
    # Standard Webhooks ids are opaque strings prefixed by their kind; no "." (the signed
    # content is "id.timestamp.body").
    return f"msg_{uuid.uuid4().hex}"


class Endpoint(models.Model):
    """A URL of one tenant that receives the event types it subscribes to, signed with its secret."""

    # A UUID known before the INSERT, so the encrypted secret can be bound to the endpoint's id.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(
        "URL",
        max_length=2000,
        validators=[endpoint_url_validate],
        help_text="https://… on the public internet (plain http only inside the operator's WEBHOOK_ALLOWED_NETWORKS). "
        "Redirects are not followed.",
    )
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text="The event types this endpoint receives.")
    enabled = models.BooleanField(default=True)
    # The signing secret ("whsec_…"), AES-GCM encrypted; shown once, at creation and at rotation.
    secret_encrypted = models.BinaryField(editable=False)
    # During a rotation the old secret keeps signing alongside the new one until this time.
    previous_secret_encrypted = models.BinaryField(null=True, editable=False)
    previous_secret_expires_at = models.DateTimeField("old secret signs until", null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "webhook endpoint"
        indexes = [models.Index(fields=["tenant", "enabled"], name="webhook_endpoint_tenant")]

    def __str__(self) -> str:
        return self.description or self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Delivery(models.Model):
    """One event sent (or to be sent) to one endpoint: the delivery log and the retry schedule."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    # webhook-id: the same on every attempt and redelivery, so receivers can drop duplicates.
    message_id = models.CharField(max_length=64, default=message_id_new, editable=False)
    event_type = models.CharField(max_length=64, choices=EventType.choices)
    payload = models.JSONField(help_text='{"type", "timestamp", "data"}: the body sent.')
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Of the last attempt.")
    last_error = models.CharField(max_length=500, blank=True, help_text="Of the last attempt; empty on success.")
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When a pending delivery is next sent.")
    # Set while an attempt is in flight (until its lease lapses): what caps the attempts per endpoint.
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "message_id"], name="webhook_delivery_unique_message"),
            models.CheckConstraint(
                condition=~models.Q(status="pending") | models.Q(next_attempt_at__isnull=False),
                name="webhook_delivery_pending_is_scheduled",
            ),
        ]
        indexes = [
            # The sweep's lookup: pending deliveries whose time has come.
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint"),
            # The claim's count of an endpoint's attempts in flight.
            models.Index(
                fields=["endpoint", "claimed_until"],
                condition=models.Q(claimed_until__isnull=False),
                name="webhook_delivery_in_flight",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.message_id}"
