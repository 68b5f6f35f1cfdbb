"""GET /v1/metrics/adoption and the dashboard are bounded: at most 400 days, none after today (UTC),
a per-key rate limit, and each past day computed once and then read from its stored row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import DailyMetric, Event, EventType
from analytics.services.events import event_record
from analytics.services.metrics import adoption_metrics_compute
from tenants import caching
from tenants.models import Membership, Role
from tests.support.api import assert_problem

# What a report for any past range costs once its days are stored: one read of the stored rows (the
# API key comes from the Redis cache; its last-use touch is switched off below). Nothing per day.
STORED_REPORT_QUERIES = 1


def adoption(api, first, last):
    return api.get(f"/v1/metrics/adoption?from={first.isoformat()}&to={last.isoformat()}")


@pytest.fixture
def today():
    return timezone.now().date()


@pytest.fixture
def unlimited(settings, monkeypatch):
    """No rate limit, and no once-a-minute last-use UPDATE of the key landing inside a counted request."""
    settings.RATE_LIMIT_METRICS_PER_KEY = 0
    monkeypatch.setattr(caching, "api_key_touch_due", lambda prefix: False)


# --- range -----------------------------------------------------------------------------------------


def test_a_range_of_400_days_up_to_today_is_answered(api, today, unlimited):
    response = adoption(api, today - timedelta(days=399), today)
    assert response.status_code == 200, response.content
    assert len(response.json()["days"]) == 400


def test_a_range_of_401_days_is_a_validation_error_naming_the_limits(api, today):
    problem = assert_problem(adoption(api, today - timedelta(days=400), today), 400, "validation_error")
    assert "400 days" in problem["detail"] and today.isoformat() in problem["detail"]
    assert not DailyMetric.objects.exists()


def test_a_range_ending_after_today_is_a_validation_error(api, today):
    problem = assert_problem(adoption(api, today, today + timedelta(days=1)), 400, "validation_error")
    assert "today" in problem["detail"]


def test_only_to_after_today_is_a_validation_error(api, today):
    assert_problem(api.get(f"/v1/metrics/adoption?to={today + timedelta(days=1)}"), 400, "validation_error")


def test_the_old_unbounded_range_from_2000_is_refused(api):
    assert_problem(api.get("/v1/metrics/adoption?from=2000-01-01"), 400, "validation_error")


# --- rate limit ------------------------------------------------------------------------------------


def test_reports_are_rate_limited_per_key(api, make_api, settings, today):
    settings.RATE_LIMIT_METRICS_PER_KEY = 2
    assert [adoption(api, today, today).status_code for _ in range(2)] == [200, 200]
    response = adoption(api, today, today)
    assert_problem(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    other_key = make_api(api.tenant)
    assert adoption(other_key, today, today).status_code == 200  # each key has its own budget


def test_ceremonies_do_not_spend_the_reports_budget(api, settings, today):
    settings.RATE_LIMIT_METRICS_PER_KEY = 1
    for n in range(3):
        assert api.post("/v1/sign-ins", {"user_id": f"u{n}", "method": "password"}).status_code == 201
    assert adoption(api, today, today).status_code == 200


# --- computed once ---------------------------------------------------------------------------------


def test_a_past_range_is_stored_on_first_ask_and_only_read_afterwards(
    api, today, unlimited, django_assert_num_queries
):
    first, last = today - timedelta(days=30), today - timedelta(days=1)
    noon = datetime.combine(last, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    event_record(tenant=api.tenant, type=EventType.SIGN_IN, user_id="alice", method="password", occurred_at=noon)
    computed = adoption(api, first, last).json()
    assert DailyMetric.objects.filter(tenant=api.tenant).count() == 30

    adoption(api, last, last)  # the key freshly cached: the count below is the report's own
    with django_assert_num_queries(STORED_REPORT_QUERIES):
        again = adoption(api, first, last).json()

    assert again == computed
    assert again["days"][-1]["sign_ins"] == 1


def test_reading_stored_days_costs_the_same_for_any_range_length(api, today, unlimited):
    counts = []
    for days in (2, 300):
        first, last = today - timedelta(days=days), today - timedelta(days=1)
        adoption(api, first, last)
        adoption(api, last, last)  # the key freshly cached: storing 300 days may outlast its cache entry
        with CaptureQueriesContext(connection) as queries:
            assert adoption(api, first, last).status_code == 200
        counts.append(len(queries))
    assert counts == [STORED_REPORT_QUERIES, STORED_REPORT_QUERIES]


def test_a_stored_day_is_not_recomputed_when_late_events_arrive(api, today, unlimited):
    """A past day's row is the answer once stored (the job's recompute replaces it, not a read)."""
    yesterday = today - timedelta(days=1)
    assert adoption(api, yesterday, yesterday).json()["days"][0]["sign_ins"] == 0
    noon = datetime.combine(yesterday, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    event_record(tenant=api.tenant, type=EventType.SIGN_IN, user_id="late", method="password", occurred_at=noon)
    assert adoption(api, yesterday, yesterday).json()["days"][0]["sign_ins"] == 0


def test_today_is_computed_live_and_never_stored(api, today, unlimited):
    assert adoption(api, today, today).json()["days"][0]["sign_ins"] == 0
    event_record(tenant=api.tenant, type=EventType.SIGN_IN, user_id="alice", method="password")
    assert adoption(api, today, today).json()["days"][0]["sign_ins"] == 1
    assert not DailyMetric.objects.filter(date=today).exists()


def test_a_stored_row_equals_what_the_job_stores(api, today, unlimited):
    day = today - timedelta(days=2)
    noon = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    for user in ("a", "b"):
        event_record(tenant=api.tenant, type=EventType.SIGN_IN, user_id=user, method="password", occurred_at=noon)
    from_report = adoption(api, day, day).json()["days"][0]
    adoption_metrics_compute(tenant=api.tenant, day=day)
    assert adoption(api, day, day).json()["days"][0] == from_report
    assert Event.objects.count() == 2


# --- the dashboard has the same bounds ----------------------------------------------------------


@pytest.fixture
def analyst(client, django_user_model, tenant):
    person = django_user_model.objects.create_user(username="ana")
    Membership.objects.create(tenant=tenant, user=person, role=Role.ANALYST)
    client.force_login(person)
    return client


@pytest.mark.parametrize("span", [400, 2000])
def test_the_dashboard_refuses_more_than_400_days(analyst, tenant, today, span):
    response = analyst.get(f"/dashboard/{tenant.pk}/?from={today - timedelta(days=span)}&to={today}")
    assert b'id="range-message"' in response.content
    assert b"400 days" in response.content
    assert DailyMetric.objects.filter(tenant=tenant).count() == 29  # the default 30 days, today not stored


def test_the_dashboard_refuses_a_range_after_today(analyst, tenant, today):
    response = analyst.get(f"/dashboard/{tenant.pk}/?from={today}&to={today + timedelta(days=1)}")
    assert b'id="range-message"' in response.content
