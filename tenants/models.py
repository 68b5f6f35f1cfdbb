"""Tenants (one relying party each) and the API keys their backends call with."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

DEFAULT_ALGORITHMS = [-8, -7, -257]  # EdDSA, ES256, RS256


def default_algorithms() -> list[int]:
    return list(DEFAULT_ALGORITHMS)


class Requirement(models.TextChoices):
    REQUIRED = "required"
    PREFERRED = "preferred"
    DISCOURAGED = "discouraged"


class AttestationPreference(models.TextChoices):
    NONE = "none"
    INDIRECT = "indirect"
    DIRECT = "direct"
    ENTERPRISE = "enterprise"


class AttestationPolicy(models.TextChoices):
    NONE = "none", "none: accept any authenticator"
    MONITOR = "monitor", "monitor: verify and record the verdict, refuse nothing"
    ENFORCE = "enforce", "enforce: refuse untrusted attestation and compromised models"


class CredentialKinds(models.TextChoices):
    ANY = "any", "any"
    DEVICE_BOUND = "device_bound", "device-bound only (backup eligibility clear)"
    SYNCED = "synced", "synced only (backup eligibility set)"


class Tenant(models.Model):
    """One relying party and its WebAuthn settings."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    rp_id = models.CharField("RP ID", max_length=253, help_text="Registrable domain, e.g. example.com")
    rp_name = models.CharField("RP name", max_length=200)
    origins = models.JSONField(
        default=list,
        help_text="Exact origins allowed in clientDataJSON: https://… or android:apk-key-hash:…",
    )
    allow_cross_origin = models.BooleanField(
        default=False, help_text="Accept ceremonies run in a cross-origin iframe (crossOrigin: true)."
    )
    top_origins = models.JSONField(
        default=list, blank=True, help_text="Exact top-level origins accepted when cross-origin is allowed."
    )
    user_verification = models.CharField(max_length=12, choices=Requirement.choices, default=Requirement.PREFERRED)
    resident_key = models.CharField(max_length=12, choices=Requirement.choices, default=Requirement.REQUIRED)
    attestation = models.CharField(
        max_length=12, choices=AttestationPreference.choices, default=AttestationPreference.NONE
    )
    attestation_roots = models.TextField(
        blank=True,
        help_text="PEM root certificates. When set, a registration's attestation must chain to one of them.",
    )
    algorithms = models.JSONField(default=default_algorithms, help_text="COSE algorithm ids offered, in order.")
    challenge_timeout = models.PositiveIntegerField(
        default=300, validators=[MinValueValidator(10), MaxValueValidator(3600)], help_text="Seconds."
    )
    allowed_aaguids = models.JSONField(
        default=list,
        blank=True,
        help_text="Authenticator AAGUIDs allowed to register (lowercase, dashed); empty allows every authenticator.",
    )
    attestation_policy = models.CharField(
        max_length=8, choices=AttestationPolicy.choices, default=AttestationPolicy.NONE
    )
    credential_kinds = models.CharField(max_length=16, choices=CredentialKinds.choices, default=CredentialKinds.ANY)
    automatic_upgrades = models.BooleanField(
        default=True,
        help_text="Offer password users a silent passkey creation (conditional create) right after they sign in.",
    )
    rate_limit_per_key = models.PositiveIntegerField(
        default=1200, help_text="Requests per minute one API key may make to the ceremony endpoints."
    )
    rate_limit_per_user = models.PositiveIntegerField(
        default=30, help_text="Ceremony requests per minute for one user of this tenant."
    )
    event_retention_days = models.PositiveIntegerField(
        default=400, validators=[MinValueValidator(1)], help_text="Events older than this are deleted."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(challenge_timeout__gte=10, challenge_timeout__lte=3600),
                name="tenant_challenge_timeout_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.rp_id})"


class ApiKey(models.Model):
    """A secret key of one tenant, stored only as its SHA-256 hash."""

    SCOPES = ("ceremonies", "credentials:read", "credentials:write", "users:delete", "metrics:read")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    prefix = models.CharField(max_length=32, unique=True, editable=False, help_text="Visible part of the key.")
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.label or 'no label'})"


class Role(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    ANALYST = "analyst"


class Membership(models.Model):
    """A person's role in one tenant: owners and admins manage it, analysts read its dashboards."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.tenant}"


class AuditAction(models.TextChoices):
    TENANT_CREATED = "tenant.created", "tenant created"
    TENANT_UPDATED = "tenant.updated", "tenant settings changed"
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_UPDATED = "api_key.updated", "API key changed"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    SIGNING_KEY_ROTATED = "signing_key.rotated", "signing key rotated"
    CREDENTIAL_DELETED = "credential.deleted", "credential deleted"
    USER_DELETED = "user.deleted", "user deleted"
    MEMBERSHIP_CREATED = "membership.created", "member added"
    MEMBERSHIP_UPDATED = "membership.updated", "member's role changed"
    MEMBERSHIP_DELETED = "membership.deleted", "member removed"
    NUDGE_POLICY_UPDATED = "nudge_policy.updated", "nudge policy changed"
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created", "webhook endpoint created"
    WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint.updated", "webhook endpoint changed"
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted", "webhook endpoint deleted"
    WEBHOOK_SECRET_ROTATED = "webhook_secret.rotated", "webhook secret rotated"


class ActorType(models.TextChoices):
    USER = "user", "person"  # signed in to the admin
    API_KEY = "api_key", "API key"  # a relying party's backend
    SYSTEM = "system", "system"  # a management command, a task, or the service itself


class AuditEntry(models.Model):
    """Who did what to a tenant, when and from where. Written once, never changed."""

    tenant = models.ForeignKey(Tenant, null=True, on_delete=models.SET_NULL, related_name="audit_entries")
    # Kept as text so the entry still says whose it was after the tenant or the person is gone.
    tenant_name = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now, editable=False)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor = models.CharField(max_length=200, help_text="Username, API key prefix, or the command that acted.")
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)
    target = models.CharField(max_length=300, help_text="What was acted on, described for people.")
    changes = models.JSONField(default=dict, blank=True, help_text="Changed fields: {field: [old, new]}.")

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-occurred_at"], name="audit_tenant_time"),
            models.Index(fields=["action", "-occurred_at"], name="audit_action_time"),
        ]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.target}"
