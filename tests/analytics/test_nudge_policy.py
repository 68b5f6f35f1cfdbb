"""The nudge policy: who is asked to create a passkey after signing in another way, and when not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from analytics.models import EventType, Nudge, NudgeSchedule, ScheduleStatus
from analytics.selectors import has_usable_passkey
from analytics.services.events import event_record
from analytics.services.nudges import (
    NOT_READY_RETRY,
    in_rollout,
    nudge_outcome_record,
    nudge_policy_for,
    sign_in_record,
)
from passkeys.services.credentials import credential_import

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
NO_PROVIDER = uuid.UUID(int=0)  # a security key or a platform that sends no AAGUID
GOOGLE = uuid.UUID("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4")  # "Google Password Manager" in the AAGUID list
ICLOUD = uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")  # "Apple Passwords"
USERS = [f"user-{n}" for n in range(2000)]
TENANT_ID = uuid.UUID("6f1c2b1e-1d2a-4c8e-9f00-000000000001")


@pytest.fixture
def sign_in(tenant):
    """A password sign-in by `user_id` at `now`, answering the nudge decision."""

    def sign_in(user_id: str = "alice", *, user_agent: str = IOS, ready: bool | None = True, now: datetime = NOW):
        return sign_in_record(
            tenant=tenant,
            user_id=user_id,
            method="password",
            user_agent=user_agent,
            platform_authenticator_available=ready,
            now=now,
        )

    return sign_in


def policy_set(tenant, **fields):
    policy = nudge_policy_for(tenant)
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.save()
    return policy


def passkey_add(tenant, user_id: str = "alice", *, aaguid=NO_PROVIDER, synced: bool, registered_with: str = ""):
    """A stored passkey; `registered_with` records its registration from that user agent, as a ceremony would."""
    credential_id = uuid.uuid4().bytes
    credential = credential_import(
        tenant=tenant,
        user_id=user_id,
        credential_id=credential_id,
        public_key=b"\xa5" * 77,
        algorithm=-7,
        aaguid=aaguid,
        backup_eligible=synced,
        backed_up=synced,
        created_at=NOW - timedelta(days=30),
    )
    if registered_with:
        event_record(
            tenant=tenant,
            type=EventType.REGISTRATION_SUCCEEDED,
            user_id=user_id,
            user_agent=registered_with,
            provider=credential.provider_name,
            credential_id=credential_id,
            occurred_at=NOW - timedelta(days=30),
        )
    return credential


def schedule_of(tenant, user_id: str = "alice") -> NudgeSchedule:
    return NudgeSchedule.objects.get(tenant=tenant, user_id=user_id)


# Rollout


def test_rollout_gives_the_same_user_the_same_answer_on_every_call():
    first = [in_rollout(tenant_id=TENANT_ID, user_id=user, percent=50) for user in USERS]
    again = [in_rollout(tenant_id=TENANT_ID, user_id=user, percent=50) for user in USERS]
    assert first == again


def test_raising_the_rollout_only_adds_users():
    previous: set[str] = set()
    for percent in (0, 1, 10, 25, 50, 75, 99, 100):
        included = {user for user in USERS if in_rollout(tenant_id=TENANT_ID, user_id=user, percent=percent)}
        assert previous <= included, f"raising to {percent}% dropped {previous - included}"
        previous = included


@pytest.mark.parametrize(("percent", "expected"), [(0, 0), (100, len(USERS))])
def test_rollout_of_zero_includes_nobody_and_of_hundred_everybody(percent, expected):
    assert sum(in_rollout(tenant_id=TENANT_ID, user_id=user, percent=percent) for user in USERS) == expected


@pytest.mark.parametrize("percent", [10, 30, 50, 80])
def test_rollout_includes_roughly_the_percentage_of_users(percent):
    share = sum(in_rollout(tenant_id=TENANT_ID, user_id=user, percent=percent) for user in USERS) / len(USERS)
    assert abs(share - percent / 100) < 0.035  # about three standard deviations at 2000 users


def test_user_outside_the_rollout_is_never_nudged(tenant, sign_in):
    policy_set(tenant, rollout_percent=50)
    outside = next(u for u in USERS if not in_rollout(tenant_id=tenant.pk, user_id=u, percent=50))
    inside = next(u for u in USERS if in_rollout(tenant_id=tenant.pk, user_id=u, percent=50))
    for day in range(3):
        decision = sign_in(outside, now=NOW + timedelta(days=day))
        assert (decision.nudge, decision.reason) == (None, "not_in_rollout")
    assert sign_in(inside).reason == "no_passkey_on_platform"


# The policy itself


def test_new_tenant_policy_has_the_documented_defaults(tenant):
    policy = nudge_policy_for(tenant)
    assert (policy.enabled, policy.rollout_percent, policy.dismiss_cooldown_days) == (True, 100, 14)
    assert (policy.max_prompts, policy.rest_days, policy.require_platform_authenticator) == (3, 90, True)
    assert policy.platforms == []


def test_user_without_passkey_on_a_ready_platform_is_nudged(tenant, sign_in):
    decision = sign_in()
    assert decision.reason == "no_passkey_on_platform"
    nudge = Nudge.objects.get(tenant=tenant)
    assert decision.nudge == nudge
    assert (nudge.user_id, nudge.os_family, nudge.created_at) == ("alice", "iOS", NOW)
    assert nudge.accept_until == NOW + timedelta(hours=nudge_policy_for(tenant).acceptance_window_hours)
    assert schedule_of(tenant).status == ScheduleStatus.DUE


def test_disabled_policy_never_nudges(tenant, sign_in):
    policy_set(tenant, enabled=False)
    decision = sign_in()
    assert (decision.nudge, decision.reason) == (None, "disabled")
    assert not Nudge.objects.exists()


def test_platforms_filter_nudges_only_listed_os_families(tenant, sign_in):
    policy_set(tenant, platforms=["iOS", "Android"])
    windows = sign_in("bob", user_agent=WINDOWS)
    assert (windows.nudge, windows.reason) == (None, "platform_not_eligible")
    assert sign_in("alice", user_agent=IOS).nudge is not None
    assert sign_in("carol", user_agent=ANDROID).nudge is not None


# An existing passkey


def test_passkey_registered_on_the_same_os_prevents_a_nudge(tenant, sign_in):
    passkey_add(tenant, synced=False, registered_with=IOS)
    decision = sign_in(user_agent=IOS)
    assert (decision.nudge, decision.reason) == (None, "has_passkey")
    assert schedule_of(tenant).status == ScheduleStatus.DONE


def test_synced_google_passkey_prevents_a_nudge_on_android(tenant, sign_in):
    passkey_add(tenant, aaguid=GOOGLE, synced=True)
    decision = sign_in(user_agent=ANDROID)
    assert (decision.nudge, decision.reason) == (None, "has_passkey")


def test_device_bound_passkey_from_another_os_does_not_count(tenant, sign_in):
    passkey_add(tenant, synced=False, registered_with=WINDOWS)
    assert not has_usable_passkey(tenant=tenant, user_id="alice", os_family="iOS")
    decision = sign_in(user_agent=IOS)
    assert decision.reason == "no_passkey_on_platform"
    assert decision.nudge is not None


def test_synced_apple_passkey_does_not_count_on_windows(tenant, sign_in):
    passkey_add(tenant, aaguid=ICLOUD, synced=True)
    assert has_usable_passkey(tenant=tenant, user_id="alice", os_family="iOS")
    assert sign_in(user_agent=WINDOWS).nudge is not None


def test_passkey_at_another_tenant_does_not_count(tenant, make_tenant, sign_in):
    other = make_tenant(name="Other", rp_id="other.example.org", origins=["https://other.example.org"])
    passkey_add(other, aaguid=GOOGLE, synced=True, registered_with=ANDROID)
    assert sign_in(user_agent=ANDROID).nudge is not None


# The platform signal


@pytest.mark.parametrize("ready", [False, None])
def test_no_platform_authenticator_waits_and_retries_later(tenant, sign_in, ready):
    decision = sign_in(ready=ready)
    assert (decision.nudge, decision.reason) == (None, "platform_authenticator_unavailable")
    schedule = schedule_of(tenant)
    assert schedule.status == ScheduleStatus.WAITING
    assert schedule.next_eligible_at == NOW + NOT_READY_RETRY


def test_platform_signal_is_ignored_when_the_policy_does_not_require_it(tenant, sign_in):
    policy_set(tenant, require_platform_authenticator=False)
    assert sign_in(ready=None).nudge is not None


# Cooldown and cap


def test_no_nudge_during_the_cooldown_after_a_dismissal(tenant, sign_in):
    policy_set(tenant, dismiss_cooldown_days=5)
    first = sign_in()
    nudge_outcome_record(tenant=tenant, nudge_id=first.nudge.pk, outcome="dismissed", now=NOW)
    cooldown_end = NOW + timedelta(days=5)
    during = sign_in(now=cooldown_end - timedelta(seconds=1))
    assert (during.nudge, during.reason) == (None, "cooldown")
    after = sign_in(now=cooldown_end)
    assert after.reason == "no_passkey_on_platform"
    assert after.nudge is not None


def test_prompt_cap_rests_then_prompts_again(tenant, sign_in):
    policy_set(tenant, max_prompts=2, rest_days=10)
    prompts = [sign_in(now=NOW + timedelta(days=day)) for day in range(2)]
    assert all(decision.nudge is not None for decision in prompts)
    last_prompt = NOW + timedelta(days=1)
    capped = sign_in(now=NOW + timedelta(days=2))
    assert (capped.nudge, capped.reason) == (None, "prompt_limit_reached")
    schedule = schedule_of(tenant)
    assert (schedule.status, schedule.next_eligible_at) == (ScheduleStatus.WAITING, last_prompt + timedelta(days=10))
    assert sign_in(now=last_prompt + timedelta(days=10, seconds=-1)).reason == "prompt_limit_reached"
    rested = sign_in(now=last_prompt + timedelta(days=10))
    assert rested.nudge is not None
    assert schedule_of(tenant).prompts == 1  # a new round of prompts begins
    assert Nudge.objects.filter(tenant=tenant).count() == 3
