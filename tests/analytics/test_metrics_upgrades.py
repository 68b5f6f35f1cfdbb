"""The v1.1 adoption figures: automatic upgrades offered and completed, cross-device sign-ins, and new passkeys by
creation path; each rule on events inserted here, then stored, reported and served by GET /v1/metrics/adoption."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

import pytest
from django.forms.models import model_to_dict

from analytics.models import DailyMetric, Event, EventType
from analytics.selectors import day_figures
from analytics.services.events import event_record
from analytics.services.metrics import adoption_metrics_compute, adoption_report

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
E = EventType
CONDITIONAL = "conditional"
IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
UPGRADE_FIGURES = ("automatic_upgrades_offered", "automatic_upgrades_completed", "cross_device_sign_ins")
NUDGE = uuid.UUID("00000000-0000-4000-8000-000000000001")

# (day, time, type, user, extra fields): every kind of event the new figures must tell apart.
HISTORY = [
    # alice: a password sign-in, then an automatic upgrade offered and completed.
    (D1, "09:00:00", E.SIGN_IN, "alice", {"method": "password"}),
    (D1, "09:00:01", E.REGISTRATION_STARTED, "alice", {"mediation": CONDITIONAL}),
    (D1, "09:00:03", E.REGISTRATION_SUCCEEDED, "alice", {"mediation": CONDITIONAL, "user_agent": IOS}),
    # bob: offered, but the browser made nothing (nothing reaches the server); then a conditional failure.
    (D1, "10:00:00", E.SIGN_IN, "bob", {"method": "password"}),
    (D1, "10:00:01", E.REGISTRATION_STARTED, "bob", {"mediation": CONDITIONAL}),
    (D1, "10:05:00", E.REGISTRATION_STARTED, "bob", {"mediation": CONDITIONAL}),
    (D1, "10:05:02", E.REGISTRATION_FAILED, "bob", {"mediation": CONDITIONAL, "code": "user_handle_mismatch"}),
    # carol: an ordinary registration (account settings): neither an upgrade nor a nudge.
    (D1, "11:00:00", E.REGISTRATION_STARTED, "carol", {}),
    (D1, "11:00:20", E.REGISTRATION_SUCCEEDED, "carol", {"user_agent": IOS}),
    # dave: a registration that accepted a nudge.
    (D1, "12:00:00", E.REGISTRATION_STARTED, "dave", {}),
    (D1, "12:00:20", E.REGISTRATION_SUCCEEDED, "dave", {"nudge_id": NUDGE, "user_agent": IOS}),
    # erin: an automatic upgrade whose event also names a nudge: an automatic upgrade, once.
    (D1, "13:00:00", E.REGISTRATION_STARTED, "erin", {"mediation": CONDITIONAL}),
    (D1, "13:00:02", E.REGISTRATION_SUCCEEDED, "erin", {"mediation": CONDITIONAL, "nudge_id": uuid.uuid4()}),
    # Passkey autofill (a conditional *authentication*) is no upgrade offer.
    (D1, "14:00:00", E.AUTHENTICATION_STARTED, "", {"mediation": CONDITIONAL}),
    # Passkey sign-ins: two from another device, one on this one, one whose client did not say.
    (D1, "15:00:00", E.AUTHENTICATION_SUCCEEDED, "alice", {"attachment": "cross-platform", "user_agent": IOS}),
    (D1, "15:10:00", E.AUTHENTICATION_SUCCEEDED, "carol", {"attachment": "cross-platform"}),
    (D1, "15:20:00", E.AUTHENTICATION_SUCCEEDED, "dave", {"attachment": "platform"}),
    (D1, "15:30:00", E.AUTHENTICATION_SUCCEEDED, "erin", {}),
    (D1, "15:40:00", E.AUTHENTICATION_FAILED, "erin", {"attachment": "cross-platform", "code": "signature_invalid"}),
    # D2: one more of each, so that days stay apart and the range sums them.
    (D2, "00:00:00", E.REGISTRATION_STARTED, "frank", {"mediation": CONDITIONAL}),
    (D2, "00:00:02", E.REGISTRATION_SUCCEEDED, "frank", {"mediation": CONDITIONAL}),
    (D2, "08:00:00", E.AUTHENTICATION_SUCCEEDED, "frank", {"attachment": "cross-platform"}),
    (D2, "09:00:00", E.REGISTRATION_SUCCEEDED, "gina", {"nudge_id": NUDGE}),
]
EXPECTED = {
    D1: {"automatic_upgrades_offered": 4, "automatic_upgrades_completed": 2, "cross_device_sign_ins": 2},
    D2: {"automatic_upgrades_offered": 1, "automatic_upgrades_completed": 1, "cross_device_sign_ins": 1},
    D3: {"automatic_upgrades_offered": 0, "automatic_upgrades_completed": 0, "cross_device_sign_ins": 0},
}
EXPECTED_PATHS = {
    D1: {"automatic_upgrade": 2, "nudge": 1, "other": 1},
    D2: {"automatic_upgrade": 1, "nudge": 1},
    D3: {},
}


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=UTC)


def events_add(tenant, events) -> None:
    for day, clock, type, user_id, extra in events:
        event_record(tenant=tenant, type=type, user_id=user_id, occurred_at=at(day, clock), **extra)


def upgrade_figures(figures: dict) -> dict:
    return {name: figures[name] for name in UPGRADE_FIGURES}


@pytest.fixture
def other(make_tenant):
    """Another tenant with the same kinds of events on the same days: none of them may count for `tenant`."""
    tenant = make_tenant(name="Other", rp_id="other.example.org", origins=["https://other.example.org"])
    events_add(tenant, [(day, clock, type, f"other-{user}", extra) for day, clock, type, user, extra in HISTORY] * 3)
    return tenant


@pytest.fixture
def history(tenant, other):
    events_add(tenant, HISTORY)
    return tenant


def only(tenant, *events) -> dict:
    """The D1 figures of a tenant that has just these (type, extra fields) events."""
    events_add(tenant, [(D1, f"12:00:{n:02}", type, f"user-{n}", extra) for n, (type, extra) in enumerate(events)])
    return day_figures(tenant=tenant, day=D1)


# Each rule on its own


def test_a_conditional_registration_start_is_an_automatic_upgrade_offered(tenant):
    figures = only(tenant, (E.REGISTRATION_STARTED, {"mediation": CONDITIONAL}))
    assert (figures["automatic_upgrades_offered"], figures["registrations_started"]) == (1, 1)


def test_an_ordinary_registration_start_is_not_an_offer(tenant):
    figures = only(tenant, (E.REGISTRATION_STARTED, {}), (E.REGISTRATION_STARTED, {"mediation": "immediate"}))
    assert (figures["automatic_upgrades_offered"], figures["registrations_started"]) == (0, 2)


def test_passkey_autofill_is_not_an_automatic_upgrade_offer(tenant):
    figures = only(tenant, (E.AUTHENTICATION_STARTED, {"mediation": CONDITIONAL}))
    assert (figures["automatic_upgrades_offered"], figures["authentications_started"]) == (0, 1)


def test_a_conditional_registration_success_is_an_automatic_upgrade_completed(tenant):
    figures = only(tenant, (E.REGISTRATION_SUCCEEDED, {"mediation": CONDITIONAL}))
    assert (figures["automatic_upgrades_completed"], figures["registrations_completed"]) == (1, 1)


def test_a_plain_registration_is_not_an_automatic_upgrade(tenant):
    figures = only(tenant, (E.REGISTRATION_SUCCEEDED, {}), (E.REGISTRATION_SUCCEEDED, {"nudge_id": NUDGE}))
    assert (figures["automatic_upgrades_completed"], figures["registrations_completed"]) == (0, 2)
    assert figures["creation_path_breakdown"] == {"other": 1, "nudge": 1}


def test_a_failed_or_unfinished_automatic_upgrade_is_not_completed(tenant):
    figures = only(
        tenant,
        (E.REGISTRATION_STARTED, {"mediation": CONDITIONAL}),
        (E.REGISTRATION_FAILED, {"mediation": CONDITIONAL, "code": "user_handle_mismatch"}),
    )
    assert upgrade_figures(figures) == {
        "automatic_upgrades_offered": 1,
        "automatic_upgrades_completed": 0,
        "cross_device_sign_ins": 0,
    }
    assert figures["creation_path_breakdown"] == {}


def test_only_passkey_sign_ins_from_another_device_are_cross_device(tenant):
    figures = only(
        tenant,
        (E.AUTHENTICATION_SUCCEEDED, {"attachment": "cross-platform"}),
        (E.AUTHENTICATION_SUCCEEDED, {"attachment": "platform"}),
        (E.AUTHENTICATION_SUCCEEDED, {}),
        (E.AUTHENTICATION_FAILED, {"attachment": "cross-platform", "code": "signature_invalid"}),
        (E.AUTHENTICATION_STARTED, {"attachment": "cross-platform"}),
    )
    assert (figures["cross_device_sign_ins"], figures["passkey_sign_ins"]) == (1, 3)


def test_a_registration_that_accepted_a_nudge_is_on_the_nudge_path(tenant):
    figures = only(tenant, (E.REGISTRATION_SUCCEEDED, {"nudge_id": NUDGE}))
    assert figures["creation_path_breakdown"] == {"nudge": 1}


def test_an_automatic_upgrade_naming_a_nudge_is_counted_as_an_automatic_upgrade_only(tenant):
    figures = only(tenant, (E.REGISTRATION_SUCCEEDED, {"mediation": CONDITIONAL, "nudge_id": NUDGE}))
    assert figures["creation_path_breakdown"] == {"automatic_upgrade": 1}


def test_creation_paths_count_only_registrations(tenant):
    """Nudge events carry a nudge id and upgrade offers a mediation; neither is a new passkey."""
    figures = only(
        tenant,
        (E.NUDGE_SHOWN, {"nudge_id": NUDGE}),
        (E.NUDGE_ACCEPTED, {"nudge_id": NUDGE}),
        (E.REGISTRATION_STARTED, {"mediation": CONDITIONAL}),
        (E.REGISTRATION_STARTED, {}),
        (E.SIGN_IN, {"method": "password"}),
    )
    assert figures["creation_path_breakdown"] == {}


# A day's figures, stored and reported


@pytest.mark.parametrize("day", [D1, D2, D3])
def test_day_figures_of_the_hand_made_history(history, day):
    figures = day_figures(tenant=history, day=day)
    assert upgrade_figures(figures) == EXPECTED[day]
    assert figures["creation_path_breakdown"] == EXPECTED_PATHS[day]
    assert sum(figures["creation_path_breakdown"].values()) == figures["registrations_completed"]


def test_other_tenants_events_never_count(history, other):
    assert upgrade_figures(day_figures(tenant=other, day=D1)) == {name: 3 * n for name, n in EXPECTED[D1].items()}
    assert upgrade_figures(day_figures(tenant=history, day=D1)) == EXPECTED[D1]


@pytest.mark.parametrize("day", [D1, D2, D3])
def test_daily_metric_stores_the_new_figures(history, day):
    metric = adoption_metrics_compute(tenant=history, day=day)
    metric.refresh_from_db()
    stored = model_to_dict(metric)
    assert upgrade_figures(stored) == EXPECTED[day]
    assert stored["creation_path_breakdown"] == EXPECTED_PATHS[day]


def test_report_reads_the_new_figures_back_from_the_stored_rows(history):
    """Past days are read from DailyMetric: with the events gone, the stored figures still make the report."""
    live = adoption_report(tenant=history, first=D1, last=D3)  # computes and stores each past day
    assert DailyMetric.objects.filter(tenant=history).count() == 3
    Event.objects.filter(tenant=history).delete()

    stored = adoption_report(tenant=history, first=D1, last=D3)

    assert stored == live
    assert [upgrade_figures(day) for day in stored["days"]] == [EXPECTED[D1], EXPECTED[D2], EXPECTED[D3]]
    assert stored["breakdowns"]["creation_path"] == {"automatic_upgrade": 3, "nudge": 2, "other": 1}


def test_report_days_and_creation_path_breakdown(history):
    report = adoption_report(tenant=history, first=D1, last=D3)
    assert [day["date"] for day in report["days"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert [upgrade_figures(day) for day in report["days"]] == [EXPECTED[D1], EXPECTED[D2], EXPECTED[D3]]
    assert report["breakdowns"]["creation_path"] == {"automatic_upgrade": 3, "nudge": 2, "other": 1}
    assert sum(report["breakdowns"]["creation_path"].values()) == sum(
        day["registrations_completed"] for day in report["days"]
    )


def test_a_range_without_registrations_has_an_empty_creation_path_breakdown(history):
    assert adoption_report(tenant=history, first=D3, last=D3)["breakdowns"]["creation_path"] == {}


# The API


def test_metrics_api_serves_the_new_figures(api, history, other, make_api):
    assert api.tenant == history
    response = api.get("/v1/metrics/adoption?from=2026-03-01&to=2026-03-03")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [upgrade_figures(day) for day in body["days"]] == [EXPECTED[D1], EXPECTED[D2], EXPECTED[D3]]
    assert all(isinstance(day[name], int) for day in body["days"] for name in UPGRADE_FIGURES)
    assert body["breakdowns"]["creation_path"] == {"automatic_upgrade": 3, "nudge": 2, "other": 1}
    assert body == adoption_report(tenant=history, first=D1, last=D3)
    theirs = make_api(other).get("/v1/metrics/adoption?from=2026-03-01&to=2026-03-01").json()
    assert upgrade_figures(theirs["days"][0]) == {name: 3 * n for name, n in EXPECTED[D1].items()}
    assert theirs["breakdowns"]["creation_path"] == {"automatic_upgrade": 6, "nudge": 3, "other": 3}
