"""`manage.py seed_demo`: each sign-in page of the demo's history asks which sign-in to lead with, the service's own
rule answers from the history so far, and the metrics show passkey-first decisions rising with adoption."""

from __future__ import annotations

import io
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.models import Event, EventType, LoginDecision, LoginDecisionReason
from analytics.services.metrics import adoption_report
from passkeys.models import Credential
from tenants.models import Tenant

# 300 users over 30 days: the history depends on the hour it is seeded; this many give a few hundred decisions.
MEDIUM = ["--users", "300", "--days", "30"]
R = LoginDecisionReason


def seed(*args: str) -> Tenant:
    call_command("seed_demo", *MEDIUM, *args, stdout=io.StringIO())
    return Tenant.objects.get(name="Demo", rp_id="localhost")


def decisions(tenant: Tenant):
    return Event.objects.filter(tenant=tenant, type=EventType.LOGIN_DECIDED)


@pytest.fixture
def seeded(db) -> Tenant:
    return seed()


def test_seeded_decisions_are_counted_and_passkey_first_rises_with_adoption(seeded):
    today = timezone.now().date()
    report = adoption_report(tenant=seeded, first=today - timedelta(days=29), last=today)
    days = report["days"]

    total = Counter()
    for day in days:
        total.update({name: day[name] for name in ("login_decisions_passkey", "login_decisions_autofill",
                                                   "login_decisions_password")})  # fmt: skip
    assert total["login_decisions_passkey"] > 0 and total["login_decisions_autofill"] > 0, total
    assert total["login_decisions_password"] > 0, total
    reasons = report["breakdowns"]["login_decision_reasons"]
    assert sum(reasons.values()) == sum(total.values()) == decisions(seeded).count()
    for reason in (R.REMEMBERED_ON_DEVICE, R.NO_PASSKEY, R.CONDITIONAL_UI_AVAILABLE):
        assert reasons.get(reason, 0) > 0, reasons

    def share(part: list[dict]) -> float:
        decided = sum(d["login_decisions_passkey"] + d["login_decisions_autofill"] + d["login_decisions_password"]
                      for d in part)  # fmt: skip
        return sum(d["login_decisions_passkey"] + d["login_decisions_autofill"] for d in part) / decided

    # The first ten days against the last ten: more decisions lead with a passkey as more users have one.
    assert share(days[-10:]) > share(days[:10]) + 0.1, (share(days[:10]), share(days[-10:]))
    assert days[-1]["adoption_rate"] > days[0]["adoption_rate"]


def test_seeded_decisions_agree_with_the_users_passkeys_and_come_with_their_starts(seeded):
    events = Event.objects.filter(tenant=seeded)
    made = {}  # each user's first passkey
    for user_id, created in Credential.objects.filter(tenant=seeded).values_list("user__user_id", "created_at"):
        made[user_id] = min(created, made.get(user_id, created))
    starts = Counter(events.filter(type=EventType.AUTHENTICATION_STARTED).values_list("occurred_at", "user_id",
                                                                                       "mediation"))  # fmt: skip
    for user_id, method, code, at in decisions(seeded).values_list("user_id", "method", "code", "occurred_at"):
        assert code in LoginDecisionReason.values and method in LoginDecision.values
        if method == LoginDecision.PASSKEY:
            # Only for a user who had a passkey by then, with an authentication start bound to them at that instant.
            assert user_id in made and made[user_id] <= at, (user_id, code, at)
            assert starts[(at, user_id, "")] > 0
        elif method == LoginDecision.PASSKEY_AUTOFILL:
            assert user_id == "" and starts[(at, "", "conditional")] > 0
        if code == R.NO_PASSKEY:
            assert user_id and (user_id not in made or made[user_id] > at), (user_id, at)
        if code in (R.CONDITIONAL_UI_AVAILABLE, R.CONDITIONAL_UI_UNAVAILABLE):
            assert user_id == ""
        elif code != R.WEBAUTHN_UNAVAILABLE:
            assert user_id, code
    # A passkey signs in within the ceremony its decision started: bound sign-ins name the user in their start.
    bound = events.filter(type=EventType.AUTHENTICATION_STARTED).exclude(user_id="").values_list("ceremony_ref")
    assert events.filter(type=EventType.AUTHENTICATION_SUCCEEDED, ceremony_ref__in=bound).exists()
    autofilled = events.filter(type=EventType.AUTHENTICATION_SUCCEEDED, mediation="conditional")
    assert autofilled.exists()


def test_reset_gives_the_same_decisions(seeded):
    columns = ("user_id", "method", "code", "os_family", "browser_family")  # today's times depend on the hour
    before = sorted(decisions(seeded).values_list(*columns))

    again = seed("--reset")

    assert before and sorted(decisions(again).values_list(*columns)) == before
