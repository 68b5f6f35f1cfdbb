"""Login decisions in the metrics: each day's decisions by what they led with (login_decisions_passkey, _autofill,
_password) and the range's login_decision_reasons breakdown; each rule on decision events recorded here, then stored,
reported and served by GET /v1/metrics/adoption, and one decision made through POST /v1/login-decisions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from analytics.models import DailyMetric, EventType, LoginDecision, LoginDecisionReason
from analytics.selectors import adoption_report_compose, day_figures
from analytics.services.events import event_record
from analytics.services.metrics import adoption_metrics_compute, adoption_report
from tests.support.authenticator import SoftAuthenticator

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
FIGURES = ("login_decisions_passkey", "login_decisions_autofill", "login_decisions_password")
MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
ABLE = {"conditionalGet": True, "hybridTransport": True}
R = LoginDecisionReason
PASSKEY, AUTOFILL, PASSWORD = LoginDecision.PASSKEY, LoginDecision.PASSKEY_AUTOFILL, LoginDecision.PASSWORD
# Which decision each reason leads to (DESIGN.md's table).
LEADS_WITH = {
    R.REMEMBERED_ON_DEVICE: PASSKEY,
    R.USABLE_ON_PLATFORM: PASSKEY,
    R.CONDITIONAL_UI_AVAILABLE: AUTOFILL,
    R.WEBAUTHN_UNAVAILABLE: PASSWORD,
    R.RECENT_FAILURES: PASSWORD,
    R.NO_PASSKEY_FOR_PLATFORM: PASSWORD,
    R.NO_PASSKEY: PASSWORD,
    R.CONDITIONAL_UI_UNAVAILABLE: PASSWORD,
}
# (day, clock, reason, how many): every reason on D1, two on D2 at its very first and last second.
HISTORY = [
    (D1, "08:00:00", R.REMEMBERED_ON_DEVICE, 2),
    (D1, "08:30:00", R.USABLE_ON_PLATFORM, 3),
    (D1, "09:00:00", R.CONDITIONAL_UI_AVAILABLE, 4),
    (D1, "09:30:00", R.WEBAUTHN_UNAVAILABLE, 1),
    (D1, "10:00:00", R.RECENT_FAILURES, 1),
    (D1, "10:30:00", R.NO_PASSKEY_FOR_PLATFORM, 2),
    (D1, "11:00:00", R.NO_PASSKEY, 3),
    (D1, "11:30:00", R.CONDITIONAL_UI_UNAVAILABLE, 1),
    (D2, "00:00:00", R.USABLE_ON_PLATFORM, 1),
    (D2, "23:59:59", R.NO_PASSKEY, 1),
]
EXPECTED = {
    D1: {
        "login_decisions_passkey": 5,
        "login_decisions_autofill": 4,
        "login_decisions_password": 8,
        "login_decision_reason_breakdown": {
            "remembered_on_device": 2,
            "usable_on_platform": 3,
            "conditional_ui_available": 4,
            "webauthn_unavailable": 1,
            "recent_failures": 1,
            "no_passkey_for_platform": 2,
            "no_passkey": 3,
            "conditional_ui_unavailable": 1,
        },
    },
    D2: {
        "login_decisions_passkey": 1,
        "login_decisions_autofill": 0,
        "login_decisions_password": 1,
        "login_decision_reason_breakdown": {"usable_on_platform": 1, "no_passkey": 1},
    },
}
NONE = {"login_decisions_passkey": 0, "login_decisions_autofill": 0, "login_decisions_password": 0,
        "login_decision_reason_breakdown": {}}  # fmt: skip


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=UTC)


def decided(tenant, reason: str, occurred_at: datetime, *, user_id: str | None = "alice") -> None:
    """One decision's event as `login_decide` records it: the decision its method, the reason its code."""
    event_record(
        tenant=tenant,
        type=EventType.LOGIN_DECIDED,
        user_id=None if reason in (R.CONDITIONAL_UI_AVAILABLE, R.CONDITIONAL_UI_UNAVAILABLE) else user_id,
        user_agent=MAC,
        method=LEADS_WITH[reason],
        code=reason,
        occurred_at=occurred_at,
    )


def decisions_add(tenant, history) -> None:
    for day, clock, reason, count in history:
        for _ in range(count):
            decided(tenant, reason, at(day, clock))


def decision_figures(figures) -> dict:
    return {name: figures[name] for name in (*FIGURES, "login_decision_reason_breakdown")}


@pytest.fixture
def other(make_tenant):
    """Another tenant with the same decisions, three times over, on the same days: none of them may count."""
    tenant = make_tenant(name="Other", rp_id="other.example.org", origins=["https://other.example.org"])
    decisions_add(tenant, HISTORY * 3)
    return tenant


@pytest.fixture
def history(tenant, other):
    decisions_add(tenant, HISTORY)
    return tenant


# Each rule on its own


@pytest.mark.parametrize("reason", list(LoginDecisionReason))
def test_each_decision_counts_once_under_what_it_led_with_and_its_reason(tenant, reason):
    decided(tenant, reason, at(D1, "12:00:00"))
    figures = decision_figures(day_figures(tenant=tenant, day=D1))
    figure = {PASSKEY: "login_decisions_passkey", AUTOFILL: "login_decisions_autofill"}.get(
        LEADS_WITH[reason], "login_decisions_password"
    )
    assert figures == {**NONE, figure: 1, "login_decision_reason_breakdown": {reason.value: 1}}


def test_an_anonymous_decision_counts_like_an_identified_one(tenant):
    decided(tenant, R.NO_PASSKEY, at(D1, "12:00:00"), user_id=None)
    decided(tenant, R.NO_PASSKEY, at(D1, "12:00:01"))
    assert day_figures(tenant=tenant, day=D1)["login_decisions_password"] == 2


def test_other_events_with_the_same_method_or_code_are_no_decisions(tenant):
    """A password sign-in (method "password") and a nudge decision are not login decisions."""
    noon = at(D1, "12:00:00")
    event_record(tenant=tenant, type=EventType.SIGN_IN, user_id="alice", method="password", occurred_at=noon)
    event_record(tenant=tenant, type=EventType.NUDGE_DECIDED, user_id="alice", code="no_passkey", occurred_at=noon)
    event_record(tenant=tenant, type=EventType.AUTHENTICATION_STARTED, user_id="alice", mediation="conditional",
                 occurred_at=noon)  # fmt: skip
    assert decision_figures(day_figures(tenant=tenant, day=D1)) == NONE


def test_a_day_without_decisions_has_zero_counts_and_no_reasons(tenant):
    assert decision_figures(day_figures(tenant=tenant, day=D1)) == NONE


# The whole history, per day, stored and reported


@pytest.mark.parametrize("day", [D1, D2])
def test_day_figures_have_each_decision_figure_of_the_history(history, day):
    assert decision_figures(day_figures(tenant=history, day=day)) == EXPECTED[day]


def test_other_tenants_decisions_never_count(history, other):
    """EXPECTED holds with the other tenant's decisions on the same days; and it sees only its own, three times."""
    theirs = decision_figures(day_figures(tenant=other, day=D1))
    assert theirs["login_decisions_passkey"] == 3 * EXPECTED[D1]["login_decisions_passkey"]
    assert theirs["login_decision_reason_breakdown"] == {
        reason: 3 * count for reason, count in EXPECTED[D1]["login_decision_reason_breakdown"].items()
    }
    report = adoption_report(tenant=history, first=D1, last=D2)
    assert sum(day["login_decisions_password"] for day in report["days"]) == 9


@pytest.mark.parametrize("day", [D1, D2])
def test_the_stored_row_has_the_days_decision_figures(history, day):
    stored = model_to_dict(adoption_metrics_compute(tenant=history, day=day))
    assert decision_figures(stored) == EXPECTED[day]


def test_a_stored_day_reads_as_its_live_computation(history):
    for day in (D1, D2):
        adoption_metrics_compute(tenant=history, day=day)
    stored = {row.date: row for row in DailyMetric.objects.filter(tenant=history)}
    today = date(2026, 3, 10)
    read = adoption_report_compose(tenant=history, first=D1, last=D2, stored=stored, today=today)
    live = adoption_report_compose(tenant=history, first=D1, last=D2, stored={}, today=today)
    assert read == live
    assert [day["login_decisions_autofill"] for day in read["days"]] == [4, 0]


def test_a_stored_days_decisions_are_read_from_its_row(history):
    """A past day's decision counts and reasons come from its row, not from the events, once it is stored."""
    adoption_metrics_compute(tenant=history, day=D2)
    DailyMetric.objects.filter(tenant=history, date=D2).update(
        login_decisions_passkey=41, login_decision_reason_breakdown={"usable_on_platform": 41}
    )
    report = adoption_report(tenant=history, first=D2, last=D2)
    assert report["days"][0]["login_decisions_passkey"] == 41
    assert report["breakdowns"]["login_decision_reasons"] == {"usable_on_platform": 41}


def test_the_report_has_the_days_figures_and_sums_the_reasons(history):
    report = adoption_report(tenant=history, first=D1, last=D2)
    for row, day in zip(report["days"], (D1, D2), strict=True):
        assert {name: row[name] for name in FIGURES} == {name: EXPECTED[day][name] for name in FIGURES}
    assert report["breakdowns"]["login_decision_reasons"] == {
        "conditional_ui_available": 4,
        "usable_on_platform": 4,
        "no_passkey": 4,
        "remembered_on_device": 2,
        "no_passkey_for_platform": 2,
        "webauthn_unavailable": 1,
        "recent_failures": 1,
        "conditional_ui_unavailable": 1,
    }


def test_the_api_serves_the_decision_figures(api, other):
    decisions_add(api.tenant, HISTORY)
    response = api.get(f"/v1/metrics/adoption?from={D1.isoformat()}&to={D2.isoformat()}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [{name: day[name] for name in FIGURES} for day in body["days"]] == [
        {name: EXPECTED[day][name] for name in FIGURES} for day in (D1, D2)
    ]
    reported = adoption_report(tenant=api.tenant, first=D1, last=D2)["breakdowns"]["login_decision_reasons"]
    assert body["breakdowns"]["login_decision_reasons"] == reported
    assert sum(reported.values()) == 19


def test_decisions_made_through_the_api_are_counted_today(api):
    """POST /v1/login-decisions records the decisions the metrics count, computed live for today."""
    response = api.register(SoftAuthenticator(), "alice", finish={"user_agent": MAC})
    assert response.status_code == 201, response.content
    response = api.post("/v1/login-decisions", {"user_id": "alice", "user_agent": MAC, "capabilities": ABLE})
    assert response.json()["decision"] == "passkey"
    for capabilities in ({"conditionalGet": True}, {"conditionalGet": False}):
        response = api.post(
            "/v1/login-decisions",
            {"user_agent": MAC, "capabilities": capabilities, "platform_authenticator_available": True},
        )
        assert response.status_code == 200, response.content
    response = api.post("/v1/login-decisions", {"user_id": "bob", "user_agent": MAC, "capabilities": {}})
    assert response.json()["reason"] == "webauthn_unavailable"

    body = api.get("/v1/metrics/adoption").json()

    today = body["days"][-1]
    assert today["date"] == timezone.now().date().isoformat()
    assert {name: today[name] for name in FIGURES} == {
        "login_decisions_passkey": 1,
        "login_decisions_autofill": 1,
        "login_decisions_password": 2,
    }
    assert body["breakdowns"]["login_decision_reasons"] == {
        "usable_on_platform": 1,
        "conditional_ui_available": 1,
        "conditional_ui_unavailable": 1,
        "webauthn_unavailable": 1,
    }
