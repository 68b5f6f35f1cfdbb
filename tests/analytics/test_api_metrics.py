"""GET /v1/metrics/adoption: the documented shape, its range rules, its scope and its tenant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from analytics.models import EventType
from analytics.services.events import event_record
from analytics.services.metrics import adoption_metrics_compute
from tests.support.api import assert_problem

IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
DAY = date(2026, 3, 2)
# DESIGN.md's keys of a day, plus the funnel rates the API adds (additions are allowed by the contract).
DESIGN_DAY_KEYS = {
    "date", "users", "passkey_users", "adoption_rate", "sign_ins", "passkey_sign_ins", "passkey_sign_in_rate",
    "registrations_started", "registrations_completed", "authentications_started", "authentications_completed",
    "authentication_failures", "nudges_shown", "nudges_accepted", "nudges_dismissed",
    # v1.1
    "automatic_upgrades_offered", "automatic_upgrades_completed", "cross_device_sign_ins",
    "client_cancellations", "client_errors", "authentication_ms_p50", "authentication_ms_p95",
    "login_decisions_passkey", "login_decisions_autofill", "login_decisions_password",
}  # fmt: skip
PERCENTILES = {"authentication_ms_p50", "authentication_ms_p95"}  # null on a day without a timed sign-in
BREAKDOWN_KEYS = (
    "os", "browser", "provider", "creation_path", "client_outcomes", "capabilities", "login_decision_reasons",
)  # fmt: skip
NO_BREAKDOWNS = {key: {} for key in BREAKDOWN_KEYS}
ADDED_RATES = {"registration_completion_rate", "authentication_success_rate", "nudge_conversion_rate"}


def adoption(api, **params):
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return api.get(f"/v1/metrics/adoption?{query}" if query else "/v1/metrics/adoption")


def activity_add(tenant, day: date = DAY, *, sign_ins: int, passkey_sign_ins: int) -> None:
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    for n in range(sign_ins):
        event_record(tenant=tenant, type=EventType.SIGN_IN, user_id=f"user-{n}", method="password", occurred_at=noon)
    for n in range(passkey_sign_ins):
        event_record(
            tenant=tenant,
            type=EventType.AUTHENTICATION_SUCCEEDED,
            user_id=f"user-{n}",
            user_agent=IOS,
            provider="Apple Passwords",
            occurred_at=noon,
        )
    adoption_metrics_compute(tenant=tenant, day=day)


@pytest.fixture
def other(make_tenant):
    return make_tenant(name="Other", rp_id="other.example.org", origins=["https://other.example.org"])


# Shape


def test_report_has_the_documented_shape(api):
    activity_add(api.tenant, sign_ins=2, passkey_sign_ins=1)
    response = adoption(api, **{"from": "2026-03-01", "to": "2026-03-03"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"tenant_id", "from", "to", "days", "breakdowns"}
    assert (body["tenant_id"], body["from"], body["to"]) == (str(api.tenant.pk), "2026-03-01", "2026-03-03")
    assert [day["date"] for day in body["days"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    for day in body["days"]:
        assert set(day) == DESIGN_DAY_KEYS | ADDED_RATES
        counts = DESIGN_DAY_KEYS - PERCENTILES - {"date"}
        assert all(isinstance(day[key], int) for key in counts if "rate" not in key)
        assert all(day[key] is None for key in PERCENTILES)
        assert all(isinstance(day[key], float) and 0.0 <= day[key] <= 1.0 for key in day if key.endswith("_rate"))
    assert body["breakdowns"] == {
        "os": {"iOS": 1},
        "browser": {"Mobile Safari": 1},
        "provider": {"Apple Passwords": 1},
        "creation_path": {},
        "client_outcomes": {},
        "capabilities": {},
        "login_decision_reasons": {},
    }


def test_report_numbers_are_the_days_figures(api):
    activity_add(api.tenant, sign_ins=3, passkey_sign_ins=1)
    day = adoption(api, **{"from": DAY, "to": DAY}).json()["days"][0]
    assert (day["users"], day["sign_ins"], day["passkey_sign_ins"], day["passkey_sign_in_rate"]) == (3, 4, 1, 0.25)
    assert (day["authentications_completed"], day["passkey_users"], day["adoption_rate"]) == (1, 0, 0.0)


def test_empty_range_reports_zeros(api):
    body = adoption(api, **{"from": "2026-01-01", "to": "2026-01-02"}).json()
    assert [day["sign_ins"] for day in body["days"]] == [0, 0]
    assert all(day["adoption_rate"] == 0.0 and day["passkey_sign_in_rate"] == 0.0 for day in body["days"])
    assert body["breakdowns"] == NO_BREAKDOWNS


def test_today_counts_users_first_seen_today_before_the_job_runs(api, authenticator):
    """Today is computed live: a user who registered a passkey today is a user today."""
    assert api.register(authenticator, "alice").status_code == 201
    today = adoption(api).json()["days"][-1]
    assert today["date"] == timezone.now().date().isoformat()
    assert (today["users"], today["passkey_users"], today["adoption_rate"]) == (1, 1, 1.0)


# Range


def test_default_range_is_the_last_seven_days_to_today(api):
    body = adoption(api).json()
    today = timezone.now().date()
    assert (body["from"], body["to"]) == ((today - timedelta(days=6)).isoformat(), today.isoformat())
    assert len(body["days"]) == 7


def test_only_to_reports_the_seven_days_up_to_it(api):
    body = adoption(api, to="2026-03-10").json()
    assert (body["from"], body["to"], len(body["days"])) == ("2026-03-04", "2026-03-10", 7)


def test_a_single_day_range_is_allowed(api):
    assert len(adoption(api, **{"from": DAY, "to": DAY}).json()["days"]) == 1


def test_400_days_is_the_longest_range(api):
    response = adoption(api, **{"from": "2025-01-01", "to": "2026-02-04"})
    assert response.status_code == 200
    assert len(response.json()["days"]) == 400


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-13-01", "to": "2026-12-31"},
        {"from": "yesterday"},
        {"to": "2026-02-30"},
        {"from": "2026-03-05", "to": "2026-03-04"},
        {"from": "2025-01-01", "to": "2026-02-05"},
        {"to": ""},
        {"from": "1999-12-31", "to": "2000-01-01"},
    ],
    ids=["bad-month", "not-a-date", "no-such-day", "from-after-to", "401-days", "empty", "before-2000"],
)
def test_bad_ranges_are_validation_errors(api, params):
    assert_problem(adoption(api, **params), 400, "validation_error")


# Scope and tenant


def test_key_without_metrics_read_is_refused(make_api, tenant):
    assert_problem(adoption(make_api(tenant, scopes=["ceremonies", "credentials:read"])), 403, "insufficient_scope")


def test_metrics_read_scope_is_enough(make_api, tenant):
    assert adoption(make_api(tenant, scopes=["metrics:read"])).status_code == 200


def test_request_without_key_is_refused(api):
    assert_problem(api.client.get("/v1/metrics/adoption"), 401, "invalid_api_key")


def test_a_key_sees_only_its_own_tenants_numbers(api, make_api, other):
    activity_add(api.tenant, sign_ins=5, passkey_sign_ins=4)
    activity_add(other, sign_ins=1, passkey_sign_ins=0)
    range_ = {"from": DAY, "to": DAY}
    mine, theirs = adoption(api, **range_).json(), adoption(make_api(other), **range_).json()
    assert (mine["tenant_id"], theirs["tenant_id"]) == (str(api.tenant.pk), str(other.pk))
    assert (mine["days"][0]["sign_ins"], mine["days"][0]["users"]) == (9, 5)
    assert (theirs["days"][0]["sign_ins"], theirs["days"][0]["users"]) == (1, 1)
    assert theirs["breakdowns"] == NO_BREAKDOWNS


def test_a_live_day_counts_only_the_keys_tenant(api, make_api, other):
    """Today is computed on read, through the same tenant filter as the stored days."""
    event_record(tenant=api.tenant, type=EventType.AUTHENTICATION_SUCCEEDED, user_id="alice", user_agent=IOS)
    today = adoption(make_api(other)).json()
    assert today["days"][-1]["sign_ins"] == 0
    assert today["breakdowns"]["os"] == {}
