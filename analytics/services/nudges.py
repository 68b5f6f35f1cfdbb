"""Post-sign-in nudges: decide at once whether to prompt, record outcomes, keep the schedule."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import NotFound
from passkeys.services import registration_start
from passkeys.webauthn import CONDITIONAL
from tenants.models import Tenant

from ..models import Event, EventType, Nudge, NudgeOutcome, NudgePolicy, NudgeSchedule, ScheduleStatus
from ..selectors import (
    has_usable_passkey,
    nudge_accepted_unnamed,
    nudge_schedules_due,
    nudges_answered_by_registration,
    nudges_open,
)
from ..signals import nudge_due
from ..useragents import client_of
from .events import event_record

# A user whose browser had no platform authenticator is looked at again after this long.
NOT_READY_RETRY = timedelta(days=7)


# Why a nudge is shown: after a sign-in by another method, or after a passkey sign-in from another device.
NO_PASSKEY_ON_PLATFORM = "no_passkey_on_platform"
AFTER_CROSS_DEVICE = "after_cross_device"


@dataclass(frozen=True)
class NudgeDecision:
    nudge: Nudge | None
    reason: str
    automatic_upgrade: dict[str, Any] | None = None  # {"public_key": creation options} for a conditional create


def nudge_policy_for(tenant: Tenant) -> NudgePolicy:
    policy, _ = NudgePolicy.objects.get_or_create(tenant=tenant)
    return policy


def in_rollout(*, tenant_id: uuid.UUID, user_id: str, percent: int) -> bool:
    """A stable bucket per (tenant, user): raising the percentage only ever adds users."""
    digest = hashlib.sha256(f"{tenant_id}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


def _decide(
    *,
    tenant: Tenant,
    policy: NudgePolicy,
    user_id: str,
    os_family: str,
    platform_ready: bool | None,
    now: datetime,
    reason: str = NO_PASSKEY_ON_PLATFORM,
) -> NudgeDecision:
    if not policy.enabled:
        return NudgeDecision(None, "disabled")
    if not in_rollout(tenant_id=tenant.pk, user_id=user_id, percent=policy.rollout_percent):
        return NudgeDecision(None, "not_in_rollout")
    if policy.platforms and os_family not in policy.platforms:
        return NudgeDecision(None, "platform_not_eligible")
    schedule, _ = NudgeSchedule.objects.select_for_update().get_or_create(tenant=tenant, user_id=user_id)
    if has_usable_passkey(tenant=tenant, user_id=user_id, os_family=os_family):
        _reschedule(schedule, status=ScheduleStatus.DONE, next_eligible_at=None)
        return NudgeDecision(None, "has_passkey")
    if policy.require_platform_authenticator and platform_ready is not True:
        _reschedule(schedule, status=ScheduleStatus.WAITING, next_eligible_at=now + NOT_READY_RETRY)
        return NudgeDecision(None, "platform_authenticator_unavailable")
    if schedule.last_dismissed_at and now < schedule.last_dismissed_at + timedelta(days=policy.dismiss_cooldown_days):
        return NudgeDecision(None, "cooldown")
    if schedule.prompts >= policy.max_prompts:
        rest_until = schedule.last_prompt_at + timedelta(days=policy.rest_days)
        if now < rest_until:
            _reschedule(schedule, status=ScheduleStatus.WAITING, next_eligible_at=rest_until)
            return NudgeDecision(None, "prompt_limit_reached")
        schedule.prompts = 0
    nudge = Nudge.objects.create(
        tenant=tenant,
        user_id=user_id,
        reason=reason,
        os_family=os_family,
        created_at=now,
        accept_until=now + timedelta(hours=policy.acceptance_window_hours),
    )
    schedule.prompts += 1
    schedule.last_prompt_at = now
    _reschedule(schedule, status=ScheduleStatus.DUE, next_eligible_at=None)
    return NudgeDecision(nudge, nudge.reason)


def _reschedule(schedule: NudgeSchedule, *, status: str, next_eligible_at: datetime | None) -> None:
    schedule.status = status
    schedule.next_eligible_at = next_eligible_at
    schedule.save()


@transaction.atomic
def sign_in_record(
    *,
    tenant: Tenant,
    user_id: str,
    method: str,
    user_agent: str = "",
    platform_authenticator_available: bool | None = None,
    conditional_create_available: bool | None = None,
    username: str = "",
    display_name: str = "",
    now: datetime | None = None,
) -> NudgeDecision:
    """Record a sign-in by another method and answer whether to prompt for a passkey now, and whether the
    browser may create one silently (an automatic upgrade) now."""
    now = now or timezone.now()
    os_family = client_of(user_agent).os_family
    event_record(tenant=tenant, type=EventType.SIGN_IN, user_id=user_id, user_agent=user_agent, method=method,
                 occurred_at=now)  # fmt: skip
    decision = _decide(
        tenant=tenant,
        policy=nudge_policy_for(tenant),
        user_id=user_id,
        os_family=os_family,
        platform_ready=platform_authenticator_available,
        now=now,
    )
    _nudge_decided(tenant=tenant, decision=decision, user_id=user_id, user_agent=user_agent, now=now)
    if conditional_create_available is True and username:
        upgrade = _automatic_upgrade_offer(
            tenant=tenant, user_id=user_id, username=username, display_name=display_name, os_family=os_family, now=now
        )
        decision = replace(decision, automatic_upgrade=upgrade)
    return decision


def _nudge_decided(*, tenant: Tenant, decision: NudgeDecision, user_id: str, user_agent: str, now: datetime) -> None:
    if decision.nudge is not None:
        event_record(tenant=tenant, type=EventType.NUDGE_DECIDED, user_id=user_id, user_agent=user_agent,
                     nudge_id=decision.nudge.pk, occurred_at=now)  # fmt: skip


def _automatic_upgrade_offer(
    *, tenant: Tenant, user_id: str, username: str, display_name: str, os_family: str, now: datetime
) -> dict[str, Any] | None:
    """A conditional registration start for a user with no passkey usable here, at most once per user per UTC day.

    Silent (no prompt is shown), so it leaves the nudge's prompt count alone; the schedule row is locked so two
    concurrent sign-ins make one offer.
    """
    if not tenant.automatic_upgrades:
        return None
    today = now.astimezone(UTC).date()
    schedule, _ = NudgeSchedule.objects.select_for_update().get_or_create(tenant=tenant, user_id=user_id)
    if schedule.upgrade_offered_on == today:
        return None
    if has_usable_passkey(tenant=tenant, user_id=user_id, os_family=os_family):
        return None
    started = registration_start(
        tenant=tenant, user_id=user_id, username=username, display_name=display_name, mediation=CONDITIONAL
    )
    schedule.upgrade_offered_on = today
    schedule.save(update_fields=["upgrade_offered_on"])
    return {"public_key": started.public_key, "client_token": started.client_token}


@transaction.atomic
def nudge_after_passkey_sign_in(
    *,
    tenant: Tenant,
    user_id: str,
    attachment: str | None,
    user_agent: str = "",
    platform_authenticator_available: bool | None = None,
    now: datetime | None = None,
) -> NudgeDecision | None:
    """After a passkey sign-in from another device (a phone over hybrid, a security key), whether to prompt for a
    passkey on this one: the sign-in nudge's policy, cooldown and outcomes. None for a same-device sign-in."""
    if attachment != "cross-platform":
        return None
    now = now or timezone.now()
    decision = _decide(
        tenant=tenant,
        policy=nudge_policy_for(tenant),
        user_id=user_id,
        os_family=client_of(user_agent).os_family,
        platform_ready=platform_authenticator_available,
        now=now,
        reason=AFTER_CROSS_DEVICE,
    )
    _nudge_decided(tenant=tenant, decision=decision, user_id=user_id, user_agent=user_agent, now=now)
    return decision


_OUTCOME_EVENTS = {
    NudgeOutcome.SHOWN: EventType.NUDGE_SHOWN,
    NudgeOutcome.ACCEPTED: EventType.NUDGE_ACCEPTED,
    NudgeOutcome.DISMISSED: EventType.NUDGE_DISMISSED,
}


@transaction.atomic
def nudge_outcome_record(*, tenant: Tenant, nudge_id: uuid.UUID, outcome: str, now: datetime | None = None) -> Nudge:
    """shown, then accepted or dismissed; repeats and later answers are ignored so the funnel counts each nudge once."""
    nudge = Nudge.objects.select_for_update().filter(tenant=tenant, pk=nudge_id).first()
    if nudge is None:
        raise NotFound("No such nudge.")
    _outcome_apply(tenant=tenant, nudge=nudge, outcome=outcome, now=now or timezone.now())
    return nudge


def _outcome_apply(*, tenant: Tenant, nudge: Nudge, outcome: str, now: datetime) -> bool:
    """Record `outcome` on a nudge the caller holds locked; False when the rules say it changes nothing."""
    if nudge.outcome in (NudgeOutcome.ACCEPTED, NudgeOutcome.DISMISSED) or nudge.outcome == outcome:
        return False  # the first final answer stands, so a nudge counts in one funnel step only
    if outcome == NudgeOutcome.SHOWN and nudge.outcome:
        return False
    if not nudge.outcome and outcome != NudgeOutcome.SHOWN:  # it was shown, even if nobody said so
        event_record(tenant=tenant, type=EventType.NUDGE_SHOWN, user_id=nudge.user_id, nudge_id=nudge.pk,
                     occurred_at=now)  # fmt: skip
    nudge.outcome, nudge.outcome_at = outcome, now
    nudge.save(update_fields=["outcome", "outcome_at"])
    event_record(tenant=tenant, type=_OUTCOME_EVENTS[outcome], user_id=nudge.user_id, nudge_id=nudge.pk,
                 occurred_at=now)  # fmt: skip
    if outcome == NudgeOutcome.DISMISSED:
        policy = nudge_policy_for(tenant)
        NudgeSchedule.objects.filter(tenant=tenant, user_id=nudge.user_id).update(
            last_dismissed_at=now,
            status=ScheduleStatus.WAITING,
            next_eligible_at=now + timedelta(days=policy.dismiss_cooldown_days),
        )
    return True


def nudges_accept_on_registration(*, tenant: Tenant, user_id: str, now: datetime | None = None) -> uuid.UUID | None:
    """A passkey registered inside an open nudge's window accepts it at once, in the caller's
    transaction, so metrics see it without beat (the embedded mode has none); the sweep stays a
    safety net and skips what this accepted. Returns the nudge the registration answers: the latest it
    accepted, else one the frontend reported accepted before the ceremony finished and no registration
    names yet, else None."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locked like the sweep locks them, so a concurrent sweep and this never both accept one nudge.
        open_nudges = nudges_open(tenant=tenant, user_id=user_id, now=now).order_by("created_at").select_for_update()
        accepted = [
            nudge.pk
            for nudge in open_nudges
            if _outcome_apply(tenant=tenant, nudge=nudge, outcome=NudgeOutcome.ACCEPTED, now=now)
        ]
        if accepted:
            NudgeSchedule.objects.filter(tenant=tenant, user_id=user_id).update(
                status=ScheduleStatus.DONE, next_eligible_at=None
            )
            return accepted[-1]
    answered = nudge_accepted_unnamed(tenant=tenant, user_id=user_id, now=now)
    return answered.pk if answered else None


@dataclass(frozen=True)
class ScheduleSweep:
    accepted: int
    due: int


def nudges_schedule(*, now: datetime | None = None) -> ScheduleSweep:
    """Beat's sweep: count registrations inside a nudge's window as accepting it, and mark
    users whose cooldown, rest or retry time has passed as due again. Safe to run twice."""
    now = now or timezone.now()
    accepted = 0
    with transaction.atomic():
        answered = nudges_answered_by_registration(now=now).select_for_update(skip_locked=True, of=("self",))
        for nudge in answered.select_related("tenant"):
            # Registrations accept their nudges themselves; this catches only what they could not.
            if not _outcome_apply(tenant=nudge.tenant, nudge=nudge, outcome=NudgeOutcome.ACCEPTED, now=now):
                continue
            NudgeSchedule.objects.filter(tenant=nudge.tenant, user_id=nudge.user_id).update(
                status=ScheduleStatus.DONE, next_eligible_at=None
            )
            accepted += 1
    due = []
    with transaction.atomic():
        rows = nudge_schedules_due(now=now).select_for_update(skip_locked=True, of=("self",))
        for schedule in rows.select_related("tenant"):
            due.append(
                Event(tenant=schedule.tenant, type=EventType.NUDGE_DUE, user_id=schedule.user_id, occurred_at=now)
            )
            schedule.status = ScheduleStatus.DUE
            schedule.save(update_fields=["status"])
        Event.objects.bulk_create(due)
        for event in due:
            transaction.on_commit(
                lambda event=event: nudge_due.send(sender=Tenant, tenant=event.tenant, user_id=event.user_id)
            )
    return ScheduleSweep(accepted=accepted, due=len(due))
