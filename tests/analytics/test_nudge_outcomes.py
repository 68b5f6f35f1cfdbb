"""Nudge outcomes: each recorded once, implicit acceptance by registration, and the schedule sweep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from analytics.models import Event, EventType, Nudge, NudgeSchedule, ScheduleStatus
from analytics.services.events import event_record
from analytics.services.nudges import nudge_outcome_record, nudge_policy_for, nudges_schedule, sign_in_record
from tests.support.authenticator import SoftAuthenticator

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
OUTCOME_EVENTS = {
    "shown": EventType.NUDGE_SHOWN,
    "accepted": EventType.NUDGE_ACCEPTED,
    "dismissed": EventType.NUDGE_DISMISSED,
}


def nudge_for(tenant, user_id: str = "alice", *, ready: bool = True, now: datetime = NOW) -> Nudge | None:
    decision = sign_in_record(
        tenant=tenant,
        user_id=user_id,
        method="password",
        user_agent=IOS,
        platform_authenticator_available=ready,
        now=now,
    )
    return decision.nudge


def outcome(tenant, nudge: Nudge, value: str, *, now: datetime = NOW) -> Nudge:
    return nudge_outcome_record(tenant=tenant, nudge_id=nudge.pk, outcome=value, now=now)


def events_of(nudge: Nudge) -> list[str]:
    """The funnel events of a nudge (the decision itself is left out)."""
    rows = Event.objects.filter(nudge_id=nudge.pk).exclude(type=EventType.NUDGE_DECIDED)
    return sorted(rows.values_list("type", flat=True))


def registration_at(tenant, when: datetime, user_id: str = "alice") -> None:
    event_record(
        tenant=tenant,
        type=EventType.REGISTRATION_SUCCEEDED,
        user_id=user_id,
        user_agent=IOS,
        credential_id=uuid.uuid4().bytes,
        occurred_at=when,
    )


def nudged_over_api(api, user_id: str = "alice") -> str:
    body = {"user_id": user_id, "method": "password", "platform_authenticator_available": True}
    return api.post("/v1/sign-ins", body).json()["nudge"]["id"]


@pytest.fixture
def nudge(tenant) -> Nudge:
    return nudge_for(tenant)


# Recording outcomes


@pytest.mark.parametrize("value", ["shown", "accepted", "dismissed"])
def test_each_outcome_is_recorded_once_and_repeats_are_ignored(tenant, nudge, value):
    outcome(tenant, nudge, "shown")
    for minute in (1, 2, 3):
        recorded = outcome(tenant, nudge, value, now=NOW + timedelta(minutes=minute))
    first_time = NOW if value == "shown" else NOW + timedelta(minutes=1)
    assert (recorded.outcome, recorded.outcome_at) == (value, first_time)
    assert events_of(nudge) == sorted({EventType.NUDGE_SHOWN, OUTCOME_EVENTS[value]})


@pytest.mark.parametrize("value", ["accepted", "dismissed"])
def test_final_outcome_without_shown_records_an_implicit_shown(tenant, nudge, value):
    outcome(tenant, nudge, value)
    assert events_of(nudge) == sorted([EventType.NUDGE_SHOWN, OUTCOME_EVENTS[value]])
    shown = Event.objects.get(nudge_id=nudge.pk, type=EventType.NUDGE_SHOWN)
    assert (shown.user_id, shown.occurred_at) == ("alice", NOW)


def test_shown_after_a_final_outcome_is_ignored(tenant, nudge):
    outcome(tenant, nudge, "accepted")
    assert outcome(tenant, nudge, "shown").outcome == "accepted"
    assert events_of(nudge) == sorted([EventType.NUDGE_SHOWN, EventType.NUDGE_ACCEPTED])


def test_dismissal_puts_the_user_in_cooldown(tenant, nudge):
    outcome(tenant, nudge, "dismissed")
    schedule = NudgeSchedule.objects.get(tenant=tenant, user_id="alice")
    cooldown = timedelta(days=nudge_policy_for(tenant).dismiss_cooldown_days)
    assert (schedule.status, schedule.last_dismissed_at) == (ScheduleStatus.WAITING, NOW)
    assert schedule.next_eligible_at == NOW + cooldown


# Over the API


def test_outcome_api_records_and_answers_the_outcome(api):
    nudge_id = nudged_over_api(api)
    response = api.post(f"/v1/nudges/{nudge_id}/outcome", {"outcome": "shown"})
    assert response.status_code == 200, response.content
    assert response.json() == {"id": nudge_id, "outcome": "shown"}
    assert Nudge.objects.get(pk=nudge_id).outcome == "shown"


def test_outcome_api_unknown_nudge_is_not_found(api):
    response = api.post(f"/v1/nudges/{uuid.uuid4()}/outcome", {"outcome": "shown"})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


def test_outcome_api_another_tenants_nudge_is_not_found_and_unchanged(make_tenant, make_api, tenant):
    theirs = nudge_for(tenant)
    other = make_tenant(name="Other", rp_id="other.example.org", origins=["https://other.example.org"])
    response = make_api(other).post(f"/v1/nudges/{theirs.pk}/outcome", {"outcome": "dismissed"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Nudge.objects.get(pk=theirs.pk).outcome == ""
    assert not Event.objects.filter(nudge_id=theirs.pk, type=EventType.NUDGE_DISMISSED).exists()


@pytest.mark.parametrize("body", [{"outcome": "clicked"}, {}, {"outcome": None}])
def test_outcome_api_rejects_an_unknown_outcome(api, tenant, body):
    response = api.post(f"/v1/nudges/{nudge_for(tenant).pk}/outcome", body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


# Acceptance by registration: at once (tests/analytics/test_nudge_acceptance_at_registration.py), and by the sweep
# for registrations only events show (this history is written as events, without a ceremony)


def test_passkey_registered_through_the_api_after_a_nudge_counts_as_accepted(api, authenticator):
    nudge_id = nudged_over_api(api)
    assert api.register(authenticator, "alice").status_code == 201
    assert nudges_schedule().accepted == 0  # the registration accepted it already
    nudge = Nudge.objects.get(pk=nudge_id)
    assert nudge.outcome == "accepted"
    # the registration's event names the nudge it accepted: its creation path
    assert events_of(nudge) == sorted(
        [EventType.NUDGE_SHOWN, EventType.NUDGE_ACCEPTED, EventType.REGISTRATION_SUCCEEDED]
    )
    assert NudgeSchedule.objects.get(user_id="alice").status == ScheduleStatus.DONE


@pytest.mark.parametrize(
    ("registered_after", "accepted"),
    [(timedelta(0), True), (timedelta(hours=23, minutes=59), True), (timedelta(hours=24, seconds=1), False),
     (timedelta(minutes=-1), False)],
)  # fmt: skip
def test_only_a_registration_inside_the_window_counts_as_accepted(tenant, nudge, registered_after, accepted):
    assert nudge.accept_until == NOW + timedelta(hours=24)
    registration_at(tenant, NOW + registered_after)
    sweep = nudges_schedule(now=NOW + timedelta(days=2))
    assert sweep.accepted == int(accepted)
    assert Nudge.objects.get(pk=nudge.pk).outcome == ("accepted" if accepted else "")


def test_registration_by_another_user_or_at_another_tenant_does_not_accept(tenant, make_tenant, nudge):
    other = make_tenant(name="Other", rp_id="other.example.org", origins=["https://other.example.org"])
    registration_at(tenant, NOW + timedelta(hours=1), user_id="bob")
    registration_at(other, NOW + timedelta(hours=1), user_id="alice")
    assert nudges_schedule(now=NOW + timedelta(days=2)).accepted == 0
    assert Nudge.objects.get(pk=nudge.pk).outcome == ""


def test_dismissed_nudge_is_not_turned_into_an_acceptance(tenant, nudge):
    outcome(tenant, nudge, "dismissed")
    registration_at(tenant, NOW + timedelta(hours=1))
    assert nudges_schedule(now=NOW + timedelta(days=2)).accepted == 0
    assert Nudge.objects.get(pk=nudge.pk).outcome == "dismissed"


def test_sweep_accepts_once_when_run_twice(tenant, nudge):
    registration_at(tenant, NOW + timedelta(hours=1))
    later = NOW + timedelta(days=2)
    assert nudges_schedule(now=later).accepted == 1
    assert nudges_schedule(now=later).accepted == 0
    assert events_of(nudge) == sorted([EventType.NUDGE_SHOWN, EventType.NUDGE_ACCEPTED])


# Waiting users become due


def test_sweep_marks_waiting_users_due_once_their_time_passed(tenant):
    assert nudge_for(tenant, "not-ready", ready=False) is None  # retried a week later
    outcome(tenant, nudge_for(tenant, "dismisser"), "dismissed")  # cooldown of 14 days
    waiting = NudgeSchedule.objects.filter(tenant=tenant, status=ScheduleStatus.WAITING)
    assert waiting.count() == 2

    sweep = nudges_schedule(now=NOW + timedelta(days=8))
    assert (sweep.accepted, sweep.due) == (0, 1)
    assert NudgeSchedule.objects.get(user_id="not-ready").status == ScheduleStatus.DUE
    assert NudgeSchedule.objects.get(user_id="dismisser").status == ScheduleStatus.WAITING
    due = Event.objects.get(type=EventType.NUDGE_DUE)
    assert (due.tenant, due.user_id, due.occurred_at) == (tenant, "not-ready", NOW + timedelta(days=8))

    assert nudges_schedule(now=NOW + timedelta(days=8)).due == 0
    assert Event.objects.filter(type=EventType.NUDGE_DUE).count() == 1

    assert nudges_schedule(now=NOW + timedelta(days=14)).due == 1
    due_users = Event.objects.filter(type=EventType.NUDGE_DUE).values_list("user_id", flat=True)
    assert sorted(due_users) == ["dismisser", "not-ready"]


def test_due_user_is_nudged_at_the_next_sign_in(tenant):
    nudge_for(tenant, ready=False)
    nudges_schedule(now=NOW + timedelta(days=8))
    assert nudge_for(tenant, now=NOW + timedelta(days=8, minutes=1)) is not None


def test_a_registration_after_the_frontend_reported_accepted_still_comes_from_the_nudge(api, authenticator):
    nudge_id = nudged_over_api(api)
    assert api.post(f"/v1/nudges/{nudge_id}/outcome", {"outcome": "accepted"}).status_code == 200

    assert api.register(authenticator, "alice").status_code == 201
    assert api.register(SoftAuthenticator(), "alice").status_code == 201  # a second passkey answers no nudge

    paths = Event.objects.filter(type=EventType.REGISTRATION_SUCCEEDED).order_by("pk").values_list("nudge_id")
    assert [nudge for (nudge,) in paths] == [uuid.UUID(nudge_id), None]
