"""The dashboard's client-side cards: where passkey logins end (with the sign-in time percentiles), and which
capabilities the reporting browsers have; the range's figures, from the adoption report only."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.utils import timezone

from analytics.models import Event, EventType
from analytics.services.events import event_record
from analytics.services.metrics import adoption_metrics_compute_range
from tests.support.dashboard import embedded_report, panels

SIGN_IN, REGISTRATION = EventType.AUTHENTICATION_CLIENT_OUTCOME, EventType.REGISTRATION_CLIENT_OUTCOME
ALL = {"conditionalGet": True, "conditionalCreate": True, "hybridTransport": True}
# Each day: 10 sign-ins started and 9 reports of how they ended (one never reported), 5 of them with capabilities.
DAY_REPORTS = [
    ("succeeded", ALL),
    ("succeeded", {**ALL, "hybridTransport": False}),
    ("succeeded", {"conditionalGet": True, "conditionalCreate": False}),
    ("succeeded", None),
    ("cancelled", {"conditionalGet": True}),
    ("no_credential", {"conditionalGet": False, "conditionalCreate": False, "hybridTransport": False}),
    ("timed_out", None),
    ("security_error", None),  # an error other than the two the card names
    ("aborted", None),
]
DURATIONS = {0: [1000, 2000, 3000, 4000], 1: [1500, 2500, 3500, 9000]}  # the successes' duration_ms, by days ago


def client_history_seed(tenant) -> None:
    """Two days of sign-ins and their reports: yesterday stored by the metrics job, today computed live."""
    today = timezone.now().date()
    for ago in (1, 0):
        at = datetime.combine(today - timedelta(days=ago), time(0, 0, 1), tzinfo=UTC)
        for _ in range(10):
            event_record(tenant=tenant, type=EventType.AUTHENTICATION_STARTED, occurred_at=at)
        durations = iter(DURATIONS[ago])
        for outcome, capabilities in DAY_REPORTS:
            duration = next(durations) if outcome == "succeeded" else 60_000
            Event.objects.create(
                tenant=tenant, type=SIGN_IN, occurred_at=at, outcome=outcome, duration_ms=duration,
                capabilities=capabilities,
            )  # fmt: skip
        # A registration's report: in the day's client_cancellations, not in the sign-in cards.
        Event.objects.create(tenant=tenant, type=REGISTRATION, occurred_at=at, outcome="cancelled", capabilities=ALL)
    yesterday = today - timedelta(days=1)
    adoption_metrics_compute_range(first=yesterday, last=yesterday, tenants=[tenant])


def test_the_login_ends_card_shows_where_the_ranges_sign_ins_ended(analyst_a, tenant_a, tenant_b):
    client_history_seed(tenant_a)
    client_history_seed(tenant_b)  # another tenant's reports change nothing on A's page

    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/")

    assert response.status_code == 200
    card = panels(response)["login-ends"]
    assert card["bars"] == {
        "started": 20,
        "succeeded": 8,
        "cancelled": 2,
        "no_credential": 2,
        "timed_out": 2,
        "error": 2,
        "aborted": 2,
        "no_report": 2,
    }
    # The sign-in time: the median day's p50 (2000 and 2500 ms) and p95 (4000 and 9000 ms), lower of two.
    assert card["pill"] == "p50 2.0 s · p95 4.0 s"
    page = response.content.decode()
    assert "40.0 % of started" in page and "10.0 % of started" in page
    assert 'class="panel span-2" data-panel="login-ends"' in page


def test_the_capabilities_card_shows_each_capabilitys_share_of_the_reports_that_carried_them(
    analyst_a, tenant_a, tenant_b
):
    client_history_seed(tenant_a)
    client_history_seed(tenant_b)

    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/")

    card = panels(response)["capabilities"]
    assert card["pill"] == "10 reports"
    assert card["bars"] == {"conditionalGet": 8, "conditionalCreate": 4, "hybridTransport": 2}
    page = response.content.decode()
    for text in ("80.0 %", "40.0 %", "20.0 %", "8 of 10 reports", "2 of 10 reports"):
        assert text in page, text


def test_the_cards_are_the_embedded_reports_figures(analyst_a, tenant_a):
    client_history_seed(tenant_a)

    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/")

    report = embedded_report(response)
    outcomes, capabilities = report["breakdowns"]["client_outcomes"], report["breakdowns"]["capabilities"]
    shown = panels(response)
    started = sum(day["authentications_started"] for day in report["days"])
    ends = shown["login-ends"]["bars"]
    assert ends["started"] == started
    assert sum(value for key, value in ends.items() if key != "started") == started
    assert ends["succeeded"] == outcomes["succeeded"]
    assert shown["capabilities"]["bars"] == {
        name: capabilities[name] for name in ("conditionalGet", "conditionalCreate", "hybridTransport")
    }
    assert sum(day["client_cancellations"] for day in report["days"]) == 4  # two sign-ins, two registrations


def test_no_report_bar_only_when_some_sign_ins_went_unreported(analyst_a, tenant_a):
    at = timezone.now() - timedelta(minutes=1)
    event_record(tenant=tenant_a, type=EventType.AUTHENTICATION_STARTED, occurred_at=at)
    for outcome in ("succeeded", "cancelled"):  # a retried report: more reports than starts
        Event.objects.create(tenant=tenant_a, type=SIGN_IN, occurred_at=at, outcome=outcome)

    card = panels(analyst_a.get(f"/dashboard/{tenant_a.pk}/"))["login-ends"]

    assert "no_report" not in card["bars"]
    assert card["pill"] == "p50 – · p95 –"  # nothing timed
