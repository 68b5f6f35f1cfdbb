"""The v1.1 client-side figures: cancellations and errors the browsers reported, the sign-in time percentiles, and the
client_outcomes and capabilities breakdowns; each rule on report rows inserted here, then stored, reported and
served by GET /v1/metrics/adoption."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from django.forms.models import model_to_dict

from analytics.models import DailyMetric, Event, EventType
from analytics.selectors import adoption_report_compose, day_figures, nearest_rank
from analytics.services.metrics import adoption_metrics_compute, adoption_report

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
SIGN_IN, REGISTRATION = EventType.AUTHENTICATION_CLIENT_OUTCOME, EventType.REGISTRATION_CLIENT_OUTCOME
CLIENT_FIGURES = (
    "client_cancellations",
    "client_errors",
    "authentication_ms_p50",
    "authentication_ms_p95",
    "client_outcome_breakdown",
    "capability_breakdown",
)
NONE = {
    "client_cancellations": 0,
    "client_errors": 0,
    "authentication_ms_p50": None,
    "authentication_ms_p95": None,
    "client_outcome_breakdown": {},
    "capability_breakdown": {},
}
MODERN = {"conditionalGet": True, "conditionalCreate": True, "hybridTransport": True, "extension:prf": True}
OLDER = {"conditionalGet": True, "conditionalCreate": False, "hybridTransport": False, "extension:prf": False}

# (day, clock, type, outcome, duration_ms, capabilities): a day of each kind of report the figures must tell apart.
HISTORY = [
    # Sign-ins the browser finished, timed: 20 durations given out of order, one untimed.
    *[(D1, f"10:{n:02}:00", SIGN_IN, "succeeded", ms, None) for n, ms in enumerate([900, 300, 1500, 1200, 600])],
    *[(D1, f"11:{n:02}:00", SIGN_IN, "succeeded", 100 * n, MODERN) for n in range(1, 16)],
    (D1, "12:00:00", SIGN_IN, "succeeded", None, OLDER),
    # Sign-ins that ended without a passkey, timed too: none of them is a successful sign-in's time.
    (D1, "13:00:00", SIGN_IN, "cancelled", 99_000, OLDER),
    (D1, "13:01:00", SIGN_IN, "no_credential", 98_000, OLDER),
    (D1, "13:02:00", SIGN_IN, "timed_out", 300_000, {}),
    (D1, "13:03:00", SIGN_IN, "security_error", 97_000, None),
    (D1, "13:04:00", SIGN_IN, "error", 96_000, None),
    (D1, "13:05:00", SIGN_IN, "aborted", 95_000, None),
    # Registrations: a slow success that is no sign-in's time, a cancellation, two errors, capabilities not counted.
    (D1, "14:00:00", REGISTRATION, "succeeded", 94_000, MODERN),
    (D1, "14:01:00", REGISTRATION, "cancelled", 93_000, MODERN),
    (D1, "14:02:00", REGISTRATION, "excluded_credential", 2_000, MODERN),
    (D1, "14:03:00", REGISTRATION, "unsupported", None, None),
    (D1, "14:04:00", REGISTRATION, "aborted", 1_000, None),
    # D2: one success and one cancellation, so that days stay apart and the range sums them.
    (D2, "00:00:00", SIGN_IN, "succeeded", 4_200, MODERN),
    (D2, "23:59:59", SIGN_IN, "cancelled", 5_000, OLDER),
]
# The 20 timed successes of D1 sorted: 100..1500 in steps of 100, then 900, 1200, 1500 again (and 300, 600).
D1_DURATIONS = sorted([900, 300, 1500, 1200, 600, *range(100, 1600, 100)])
EXPECTED = {
    D1: {
        "client_cancellations": 2,  # one of each ceremony
        "client_errors": 6,  # no_credential, timed_out, security_error, error; excluded_credential, unsupported
        "authentication_ms_p50": 800,  # rank 10 of 20
        "authentication_ms_p95": 1500,  # rank 19 of 20
        "client_outcome_breakdown": {
            "succeeded": 21,
            "cancelled": 1,
            "no_credential": 1,
            "timed_out": 1,
            "security_error": 1,
            "error": 1,
            "aborted": 1,
        },
        "capability_breakdown": {
            "reported": 19,  # 15 modern, 3 older, one empty map
            "conditionalGet": 18,
            "conditionalCreate": 15,
            "hybridTransport": 15,
            "extension:prf": 15,
        },
    },
    D2: {
        "client_cancellations": 1,
        "client_errors": 0,
        "authentication_ms_p50": 4200,
        "authentication_ms_p95": 4200,
        "client_outcome_breakdown": {"succeeded": 1, "cancelled": 1},
        "capability_breakdown": {
            "reported": 2,
            "conditionalGet": 2,
            "conditionalCreate": 1,
            "hybridTransport": 1,
            "extension:prf": 1,
        },
    },
}


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=UTC)


def reports_add(tenant, reports) -> None:
    """Report rows as POST /v1/client-events writes them (client_report_record)."""
    for day, clock, type, outcome, duration_ms, capabilities in reports:
        Event.objects.create(
            tenant=tenant,
            type=type,
            occurred_at=at(day, clock),
            outcome=outcome,
            duration_ms=duration_ms,
            capabilities=capabilities,
            os_family="iOS",
            browser_family="Mobile Safari",
        )


def client_figures(figures) -> dict:
    return {name: figures[name] for name in CLIENT_FIGURES}


def only(tenant, *reports) -> dict:
    """The D1 client figures of a tenant that has just these (type, outcome, duration_ms, capabilities) reports."""
    reports_add(tenant, [(D1, f"12:00:{n:02}", *report) for n, report in enumerate(reports)])
    return client_figures(day_figures(tenant=tenant, day=D1))


@pytest.fixture
def other(make_tenant):
    """Another tenant with the same reports, three times over, on the same days: none of them may count."""
    tenant = make_tenant(name="Other", rp_id="other.example.org", origins=["https://other.example.org"])
    reports_add(tenant, HISTORY * 3)
    reports_add(tenant, [(D1, "15:00:00", SIGN_IN, "succeeded", 1, MODERN)] * 100)  # would move both percentiles
    return tenant


@pytest.fixture
def history(tenant, other):
    reports_add(tenant, HISTORY)
    return tenant


# The percentile rule


def test_nearest_rank_is_one_of_the_values_at_rank_ceiling_of_p_times_n():
    twenty = list(range(100, 2100, 100))
    assert (nearest_rank(twenty, 50), nearest_rank(twenty, 95)) == (1000, 1900)
    assert (nearest_rank([7, 8, 9], 50), nearest_rank([7, 8, 9], 95)) == (8, 9)
    assert (nearest_rank([4200], 50), nearest_rank([4200], 95)) == (4200, 4200)
    assert (nearest_rank([1, 2], 50), nearest_rank([1, 2], 95)) == (1, 2)


def test_nearest_rank_of_nothing_is_none():
    assert nearest_rank([], 50) is None and nearest_rank([], 95) is None


# Each rule on its own


def test_a_cancellation_of_either_ceremony_is_a_client_cancellation(tenant):
    figures = only(tenant, (SIGN_IN, "cancelled", 3000, None), (REGISTRATION, "cancelled", 5000, None))
    assert (figures["client_cancellations"], figures["client_errors"]) == (2, 0)


@pytest.mark.parametrize(
    "outcome", ["timed_out", "no_credential", "excluded_credential", "security_error", "unsupported", "error"]
)
def test_each_error_outcome_of_either_ceremony_is_a_client_error(tenant, outcome):
    figures = only(tenant, (SIGN_IN, outcome, None, None), (REGISTRATION, outcome, None, None))
    assert (figures["client_errors"], figures["client_cancellations"]) == (2, 0)


@pytest.mark.parametrize("outcome", ["succeeded", "aborted"])
def test_successes_and_aborts_are_neither_cancellations_nor_errors(tenant, outcome):
    figures = only(tenant, (SIGN_IN, outcome, 1000, None), (REGISTRATION, outcome, 1000, None))
    assert (figures["client_cancellations"], figures["client_errors"]) == (0, 0)


def test_the_percentiles_are_nearest_rank_over_the_days_timed_successful_sign_ins(tenant):
    durations = [5000, 1000, 4000, 2000, 3000]  # out of order: the database sorts them
    figures = only(tenant, *[(SIGN_IN, "succeeded", ms, None) for ms in durations])
    assert (figures["authentication_ms_p50"], figures["authentication_ms_p95"]) == (3000, 5000)


def test_the_percentiles_are_null_on_a_day_without_a_timed_successful_sign_in(tenant):
    figures = only(
        tenant,
        (SIGN_IN, "succeeded", None, None),  # not timed
        (SIGN_IN, "cancelled", 2000, None),
        (SIGN_IN, "timed_out", 300_000, None),
        (REGISTRATION, "succeeded", 4000, None),
    )
    assert (figures["authentication_ms_p50"], figures["authentication_ms_p95"]) == (None, None)


def test_registration_durations_are_not_in_the_sign_in_percentiles(tenant):
    figures = only(
        tenant,
        (SIGN_IN, "succeeded", 2000, None),
        *[(REGISTRATION, "succeeded", 60_000, None)] * 5,
    )
    assert (figures["authentication_ms_p50"], figures["authentication_ms_p95"]) == (2000, 2000)


def test_failed_sign_ins_durations_are_not_in_the_percentiles(tenant):
    figures = only(
        tenant,
        (SIGN_IN, "succeeded", 2000, None),
        *[(SIGN_IN, outcome, 90_000, None) for outcome in ("cancelled", "timed_out", "error", "aborted")],
    )
    assert (figures["authentication_ms_p50"], figures["authentication_ms_p95"]) == (2000, 2000)


def test_the_outcome_breakdown_counts_sign_in_reports_only(tenant):
    figures = only(
        tenant,
        (SIGN_IN, "succeeded", 1000, None),
        (SIGN_IN, "succeeded", None, None),
        (SIGN_IN, "no_credential", 400, None),
        (REGISTRATION, "cancelled", 1000, None),
        (REGISTRATION, "excluded_credential", 1000, None),
    )
    assert figures["client_outcome_breakdown"] == {"succeeded": 2, "no_credential": 1}


def test_the_capability_breakdown_counts_reports_that_carried_a_map_and_the_names_said_true(tenant):
    figures = only(
        tenant,
        (SIGN_IN, "succeeded", 1000, MODERN),
        (SIGN_IN, "cancelled", 1000, OLDER),
        (SIGN_IN, "succeeded", 1000, {}),  # a map naming nothing known: reported, nothing true
        (SIGN_IN, "succeeded", 1000, None),  # no getClientCapabilities(): not reported
        (REGISTRATION, "succeeded", 1000, MODERN),  # a registration's report is not a sign-in's
    )
    assert figures["capability_breakdown"] == {
        "reported": 3,
        "conditionalGet": 2,
        "conditionalCreate": 1,
        "hybridTransport": 1,
        "extension:prf": 1,
    }


def test_other_events_are_no_client_figures(tenant):
    """The ceremony events beside the reports (started, succeeded, failed, sign-ins) count for none of them."""
    for type in (EventType.AUTHENTICATION_STARTED, EventType.AUTHENTICATION_SUCCEEDED, EventType.SIGN_IN):
        Event.objects.create(tenant=tenant, type=type, occurred_at=at(D1, "09:00:00"), mediation="conditional")
    Event.objects.create(
        tenant=tenant, type=EventType.AUTHENTICATION_FAILED, occurred_at=at(D1, "09:00:00"), code="challenge_expired"
    )
    assert only(tenant) == NONE


# The whole history, per day, stored and reported


@pytest.mark.parametrize("day", [D1, D2])
def test_day_figures_have_each_client_figure_of_the_history(history, day):
    assert client_figures(day_figures(tenant=history, day=day)) == EXPECTED[day]


def test_d1_percentiles_are_those_of_its_sorted_durations(history):
    figures = day_figures(tenant=history, day=D1)
    assert len(D1_DURATIONS) == 20
    assert figures["authentication_ms_p50"] == D1_DURATIONS[9]
    assert figures["authentication_ms_p95"] == D1_DURATIONS[18]


def test_other_tenants_reports_never_count(history, other):
    """EXPECTED holds with the other tenant's reports on the same days; and it sees only its own."""
    theirs = client_figures(day_figures(tenant=other, day=D2))
    assert theirs["client_cancellations"] == 3
    assert theirs["capability_breakdown"]["reported"] == 6
    assert day_figures(tenant=other, day=D1)["authentication_ms_p50"] == 1  # its 100 one-millisecond sign-ins


@pytest.mark.parametrize("day", [D1, D2])
def test_the_stored_row_has_the_days_client_figures(history, day):
    stored = model_to_dict(adoption_metrics_compute(tenant=history, day=day))
    assert client_figures(stored) == EXPECTED[day]


def test_a_stored_day_reads_as_its_live_computation(history):
    for day in (D1, D2):
        adoption_metrics_compute(tenant=history, day=day)
    stored = {row.date: row for row in DailyMetric.objects.filter(tenant=history)}
    today = date(2026, 3, 10)
    read = adoption_report_compose(tenant=history, first=D1, last=D2, stored=stored, today=today)
    live = adoption_report_compose(tenant=history, first=D1, last=D2, stored={}, today=today)
    assert read == live
    assert [day["authentication_ms_p50"] for day in read["days"]] == [800, 4200]


def test_a_stored_days_percentiles_are_read_from_its_row(history):
    """A past day's p50/p95 come from its row, not from the events, once it is stored."""
    adoption_metrics_compute(tenant=history, day=D2)
    DailyMetric.objects.filter(tenant=history, date=D2).update(authentication_ms_p50=1234, authentication_ms_p95=5678)
    day = adoption_report(tenant=history, first=D2, last=D2)["days"][0]
    assert (day["authentication_ms_p50"], day["authentication_ms_p95"]) == (1234, 5678)


def test_the_report_has_the_days_figures_and_sums_the_breakdowns(history):
    report = adoption_report(tenant=history, first=D1, last=D2)
    days = {day["date"]: day for day in report["days"]}
    for day in (D1, D2):
        row = days[day.isoformat()]
        assert {name: row[name] for name in CLIENT_FIGURES if not name.endswith("_breakdown")} == {
            name: value for name, value in EXPECTED[day].items() if not name.endswith("_breakdown")
        }
    assert report["breakdowns"]["client_outcomes"] == {
        "succeeded": 22,
        "cancelled": 2,
        "no_credential": 1,
        "timed_out": 1,
        "security_error": 1,
        "error": 1,
        "aborted": 1,
    }
    assert report["breakdowns"]["capabilities"] == {
        "reported": 21,
        "conditionalGet": 20,
        "conditionalCreate": 16,
        "hybridTransport": 16,
        "extension:prf": 16,
    }


def test_the_api_serves_the_client_figures(api, other):
    reports_add(api.tenant, HISTORY)
    response = api.get(f"/v1/metrics/adoption?from={D1.isoformat()}&to={D2.isoformat()}")
    assert response.status_code == 200, response.content
    body = response.json()
    first, second = body["days"]
    assert (first["client_cancellations"], first["client_errors"]) == (2, 6)
    assert (first["authentication_ms_p50"], first["authentication_ms_p95"]) == (800, 1500)
    assert (second["authentication_ms_p50"], second["authentication_ms_p95"]) == (4200, 4200)
    assert body["breakdowns"]["client_outcomes"]["succeeded"] == 22
    assert body["breakdowns"]["capabilities"]["reported"] == 21


def test_the_api_serves_null_percentiles_on_an_untimed_day(api):
    response = api.get(f"/v1/metrics/adoption?from={D1.isoformat()}&to={D1.isoformat()}")
    day = response.json()["days"][0]
    assert (day["authentication_ms_p50"], day["authentication_ms_p95"]) == (None, None)
    assert (day["client_cancellations"], day["client_errors"]) == (0, 0)
