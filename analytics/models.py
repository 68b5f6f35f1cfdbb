"""Events, nudge policy and state, and the daily adoption metrics computed from them."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants.models import Tenant


class EventType(models.TextChoices):
    REGISTRATION_STARTED = "registration.started"
    REGISTRATION_SUCCEEDED = "registration.succeeded"
    REGISTRATION_FAILED = "registration.failed"
    AUTHENTICATION_STARTED = "authentication.started"
    AUTHENTICATION_SUCCEEDED = "authentication.succeeded"
    AUTHENTICATION_FAILED = "authentication.failed"
    SIGN_IN = "sign_in"  # by a method other than a passkey, reported by the relying party
    NUDGE_DECIDED = "nudge.decided"
    NUDGE_SHOWN = "nudge.shown"
    NUDGE_ACCEPTED = "nudge.accepted"
    NUDGE_DISMISSED = "nudge.dismissed"
    NUDGE_DUE = "nudge.due"
    # What the browser reported about a ceremony through a client token (POST /v1/client-events).
    REGISTRATION_CLIENT_OUTCOME = "registration.client_outcome"
    AUTHENTICATION_CLIENT_OUTCOME = "authentication.client_outcome"
    # Which sign-in a login decision led with (`method`) and why (`code`).
    LOGIN_DECIDED = "login.decided"


class ClientOutcome(models.TextChoices):
    """How a ceremony ended in the browser, as the browser library classifies it."""

    SUCCEEDED = "succeeded"
    CANCELLED = "cancelled"  # NotAllowedError well before the timeout: the user dismissed the dialog
    TIMED_OUT = "timed_out"  # NotAllowedError at (or after) the options' timeout
    NO_CREDENTIAL = "no_credential"  # no passkey for this site at hand (immediate mediation)
    EXCLUDED_CREDENTIAL = "excluded_credential"  # InvalidStateError: the authenticator already holds one
    SECURITY_ERROR = "security_error"  # SecurityError: the page's origin does not fit the rpId
    UNSUPPORTED = "unsupported"  # no WebAuthn in this browser
    ABORTED = "aborted"  # AbortError: the page aborted it (e.g. conditional UI left for a password)
    ERROR = "error"  # anything else


# Client-side outcomes the metrics count as cancellations, and as errors (timeouts included; aborts and
# successes are neither).
CLIENT_CANCELLATIONS = frozenset({ClientOutcome.CANCELLED})
CLIENT_ERRORS = frozenset(
    {
        ClientOutcome.TIMED_OUT,
        ClientOutcome.NO_CREDENTIAL,
        ClientOutcome.EXCLUDED_CREDENTIAL,
        ClientOutcome.SECURITY_ERROR,
        ClientOutcome.UNSUPPORTED,
        ClientOutcome.ERROR,
    }
)


class LoginDecision(models.TextChoices):
    """Which sign-in the page leads with (POST /v1/login-decisions)."""

    PASSKEY = "passkey"  # one tap: a start bound to the user
    PASSKEY_AUTOFILL = "passkey_autofill"  # a conditional start: passkeys in the username field's autofill
    PASSWORD = "password"  # noqa: S105 - a decision's name: the relying party's other sign-in first


class LoginDecisionReason(models.TextChoices):
    """Why, in the order the rules are tried (DESIGN.md "Login decisions")."""

    WEBAUTHN_UNAVAILABLE = "webauthn_unavailable"
    RECENT_FAILURES = "recent_failures"
    REMEMBERED_ON_DEVICE = "remembered_on_device"
    USABLE_ON_PLATFORM = "usable_on_platform"
    NO_PASSKEY_FOR_PLATFORM = "no_passkey_for_platform"
    NO_PASSKEY = "no_passkey"
    CONDITIONAL_UI_AVAILABLE = "conditional_ui_available"
    CONDITIONAL_UI_UNAVAILABLE = "conditional_ui_unavailable"


# Client-side outcomes that count against leading a user with their passkey on a platform.
LOGIN_FAILURES = frozenset(
    {ClientOutcome.CANCELLED, ClientOutcome.NO_CREDENTIAL, ClientOutcome.TIMED_OUT, ClientOutcome.ERROR}
)

# Names getClientCapabilities() may answer (WebAuthn L3 §5.1.7 ClientCapability, and "extension:" + a client
# extension identifier). A report carries only these; the browser library filters to the same list.
CLIENT_CAPABILITIES = frozenset(
    {
        "conditionalCreate",
        "conditionalGet",
        "hybridTransport",
        "immediateGet",
        "passkeyPlatformAuthenticator",
        "userVerifyingPlatformAuthenticator",
        "relatedOrigins",
        "signalAllAcceptedCredentials",
        "signalCurrentUserDetails",
        "signalUnknownCredential",
        *(
            f"extension:{name}"
            for name in (
                "appid",
                "appidExclude",
                "credBlob",
                "credProps",
                "credProtect",
                "getCredBlob",
                "hmacCreateSecret",
                "largeBlob",
                "minPinLength",
                "payment",
                "prf",
                "uvm",
            )
        ),
    }
)


class Event(models.Model):
    """Append-only record of one thing that happened; metrics are aggregated from these rows."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=32, choices=EventType.choices)
    occurred_at = models.DateTimeField()
    user_id = models.CharField(max_length=255, blank=True, help_text="The relying party's user id, when known.")
    code = models.CharField(max_length=64, blank=True, help_text="The error code of a failure.")
    method = models.CharField(max_length=16, blank=True, help_text="Sign-in method.")
    os_family = models.CharField(max_length=64, blank=True)
    browser_family = models.CharField(max_length=64, blank=True)
    provider = models.CharField(max_length=200, blank=True, help_text="Passkey provider of the credential involved.")
    credential_id = models.BinaryField(null=True, blank=True)
    nudge_id = models.UUIDField(null=True, blank=True)
    mediation = models.CharField(
        max_length=16,
        blank=True,
        help_text="A ceremony's mediation when not the modal one: conditional, immediate.",
    )
    attachment = models.CharField(
        max_length=16, blank=True, help_text="authenticatorAttachment of a passkey sign-in: platform, cross-platform."
    )
    ceremony_ref = models.CharField(
        max_length=22,
        blank=True,
        help_text="Links a ceremony's events (started, succeeded, client outcomes): a digest of its challenge.",
    )
    outcome = models.CharField(max_length=24, blank=True, choices=ClientOutcome.choices)
    error_name = models.CharField(max_length=64, blank=True, help_text="The DOMException name the browser gave.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="From options to outcome, as timed.")
    capabilities = models.JSONField(null=True, blank=True, help_text="getClientCapabilities(), known names only.")

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "occurred_at"], name="event_tenant_time"),
            models.Index(fields=["tenant", "user_id"], name="event_tenant_user"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.user_id} {self.occurred_at:%Y-%m-%d %H:%M}"


class KnownUser(models.Model):
    """Every user the tenant has shown us (signed in or registered), with the first time we saw them."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="known_users")
    user_id = models.CharField(max_length=255)
    first_seen_on = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user_id"], name="known_user_unique")]
        indexes = [models.Index(fields=["tenant", "first_seen_on"], name="known_user_first_seen")]


class MetricsWatermark(models.Model):
    """How far a tenant's events have been folded into KnownUser, so the next fold reads only newer events."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="metrics_watermark")
    folded_until = models.DateTimeField(help_text="Events that occurred before this instant are in KnownUser.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant} folded until {self.folded_until:%Y-%m-%d %H:%M}"


class NudgePolicy(models.Model):
    """When to ask a user who signed in another way to create a passkey."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="nudge_policy")
    enabled = models.BooleanField(default=True)
    rollout_percent = models.PositiveSmallIntegerField(
        default=100, validators=[MaxValueValidator(100)], help_text="Share of users (stable per user) who are asked."
    )
    dismiss_cooldown_days = models.PositiveIntegerField(default=14)
    max_prompts = models.PositiveIntegerField(default=3, validators=[MinValueValidator(1)])
    rest_days = models.PositiveIntegerField(default=90, help_text="Pause after max_prompts prompts.")
    require_platform_authenticator = models.BooleanField(
        default=True, help_text="Only ask when the browser reported a platform authenticator."
    )
    platforms = models.JSONField(
        default=list, blank=True, help_text="OS families that qualify (e.g. iOS, Android, Windows); empty = all."
    )
    acceptance_window_hours = models.PositiveIntegerField(
        default=24, help_text="A passkey registered this soon after a nudge counts as accepting it."
    )

    class Meta:
        verbose_name_plural = "nudge policies"
        constraints = [
            models.CheckConstraint(condition=models.Q(rollout_percent__lte=100), name="nudge_policy_rollout_range")
        ]

    def __str__(self) -> str:
        return f"Nudge policy of {self.tenant}"


class NudgeOutcome(models.TextChoices):
    SHOWN = "shown"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


class Nudge(models.Model):
    """One decision to prompt a user, and what came of it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="nudges")
    user_id = models.CharField(max_length=255)
    reason = models.CharField(max_length=64)
    os_family = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    accept_until = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=NudgeOutcome.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "user_id", "created_at"], name="nudge_tenant_user_time")]


class ScheduleStatus(models.TextChoices):
    WAITING = "waiting"  # in cooldown or rest, or not ready; becomes due at next_eligible_at
    DUE = "due"  # eligible again; the next sign-in may prompt, and a nudge.due event was emitted
    DONE = "done"  # the user has a passkey


class NudgeSchedule(models.Model):
    """Per user nudge state; beat sweeps rows whose due time passed (eager mode ignores countdowns)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="nudge_schedules")
    user_id = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=ScheduleStatus.choices, default=ScheduleStatus.DUE)
    prompts = models.PositiveIntegerField(default=0, help_text="Prompts since the last rest.")
    last_prompt_at = models.DateTimeField(null=True, blank=True)
    last_dismissed_at = models.DateTimeField(null=True, blank=True)
    next_eligible_at = models.DateTimeField(null=True, blank=True)
    upgrade_offered_on = models.DateField(
        null=True, blank=True, help_text="UTC day of the last automatic upgrade offered (at most one a day)."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user_id"], name="nudge_schedule_unique")]
        indexes = [models.Index(fields=["status", "next_eligible_at"], name="nudge_schedule_sweep")]


class DailyMetric(models.Model):
    """One tenant's adoption figures for one UTC day; recomputing a day replaces its row."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="daily_metrics")
    date = models.DateField()
    users = models.PositiveIntegerField(default=0)
    passkey_users = models.PositiveIntegerField(default=0)
    sign_ins = models.PositiveIntegerField(default=0)
    passkey_sign_ins = models.PositiveIntegerField(default=0)
    registrations_started = models.PositiveIntegerField(default=0)
    registrations_completed = models.PositiveIntegerField(default=0)
    authentications_started = models.PositiveIntegerField(default=0)
    authentications_completed = models.PositiveIntegerField(default=0)
    authentication_failures = models.PositiveIntegerField(default=0)
    nudges_shown = models.PositiveIntegerField(default=0)
    nudges_accepted = models.PositiveIntegerField(default=0)
    nudges_dismissed = models.PositiveIntegerField(default=0)
    automatic_upgrades_offered = models.PositiveIntegerField(default=0)
    automatic_upgrades_completed = models.PositiveIntegerField(default=0)
    cross_device_sign_ins = models.PositiveIntegerField(default=0)
    client_cancellations = models.PositiveIntegerField(default=0)
    client_errors = models.PositiveIntegerField(default=0)
    authentication_ms_p50 = models.PositiveIntegerField(
        null=True, blank=True, help_text="Nearest-rank percentiles of the browser-timed successful sign-ins."
    )
    authentication_ms_p95 = models.PositiveIntegerField(null=True, blank=True)
    login_decisions_passkey = models.PositiveIntegerField(
        default=0, help_text="Login decisions by what the page led with: passkey, passkey autofill, password."
    )
    login_decisions_autofill = models.PositiveIntegerField(default=0)
    login_decisions_password = models.PositiveIntegerField(default=0)
    os_breakdown = models.JSONField(default=dict)
    browser_breakdown = models.JSONField(default=dict)
    provider_breakdown = models.JSONField(default=dict)
    creation_path_breakdown = models.JSONField(default=dict)
    client_outcome_breakdown = models.JSONField(default=dict)
    capability_breakdown = models.JSONField(default=dict)
    login_decision_reason_breakdown = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "date"], name="daily_metric_unique")]
