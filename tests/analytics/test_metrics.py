"""Each adoption metric's definition, checked on a small hand-made history with known answers."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

from analytics.models import DailyMetric, EventType, KnownUser
from analytics.selectors import day_figures
from analytics.services.events import event_record
from analytics.services.metrics import adoption_metrics_compute, adoption_metrics_compute_range, adoption_report
from passkeys.services.credentials import credential_import

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)
WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
APPLE = uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")  # "Apple Passwords" in the AAGUID list
GOOGLE = uuid.UUID("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4")  # "Google Password Manager"
E = EventType

# (day, time, type, user, user agent, extra fields) for the tenant under test.
HISTORY = [
    (D1, "09:00:00", E.REGISTRATION_STARTED, "alice", "", {}),
    (D1, "09:01:00", E.REGISTRATION_SUCCEEDED, "alice", IOS, {"provider": "Apple Passwords"}),
    (D1, "10:00:00", E.AUTHENTICATION_STARTED, "", "", {}),
    (D1, "10:01:00", E.AUTHENTICATION_SUCCEEDED, "alice", IOS, {"provider": "Apple Passwords"}),
    (D1, "11:00:00", E.SIGN_IN, "bob", WINDOWS, {"method": "password"}),
    (D1, "11:01:00", E.NUDGE_SHOWN, "bob", "", {}),
    (D1, "11:02:00", E.NUDGE_DISMISSED, "bob", "", {}),
    (D1, "12:00:00", E.AUTHENTICATION_STARTED, "bob", "", {}),
    (D1, "12:00:05", E.AUTHENTICATION_FAILED, "bob", WINDOWS, {"code": "signature_invalid"}),
    (D1, "23:59:59", E.SIGN_IN, "carol", ANDROID, {"method": "otp"}),
    (D2, "00:00:00", E.SIGN_IN, "dave", ANDROID, {"method": "magic_link"}),
    (D2, "08:00:00", E.NUDGE_SHOWN, "carol", "", {}),
    (D2, "08:01:00", E.REGISTRATION_STARTED, "carol", "", {}),
    (D2, "08:02:00", E.REGISTRATION_SUCCEEDED, "carol", ANDROID, {"provider": "Google Password Manager"}),
    (D2, "08:05:00", E.NUDGE_ACCEPTED, "carol", "", {}),
    (D2, "09:00:00", E.AUTHENTICATION_STARTED, "carol", "", {}),
    (D2, "09:01:00", E.AUTHENTICATION_SUCCEEDED, "carol", ANDROID, {"provider": "Google Password Manager"}),
    (D2, "09:10:00", E.AUTHENTICATION_STARTED, "", "", {}),
    (D2, "09:11:00", E.AUTHENTICATION_SUCCEEDED, "carol", ANDROID, {"provider": "Google Password Manager"}),
    (D2, "10:00:00", E.AUTHENTICATION_STARTED, "alice", "", {}),
    (D2, "10:01:00", E.AUTHENTICATION_SUCCEEDED, "alice", MAC, {"provider": "Apple Passwords"}),
    (D2, "11:00:00", E.REGISTRATION_STARTED, "erin", "", {}),
    (D2, "11:01:00", E.REGISTRATION_FAILED, "erin", MAC, {"code": "origin_not_allowed"}),
]
PASSKEYS = [("alice", APPLE, D1, "09:01:00"), ("carol", GOOGLE, D2, "08:02:00")]
ZERO_DAY = {
    "sign_ins": 0, "passkey_sign_ins": 0, "registrations_started": 0, "registrations_completed": 0,
    "authentications_started": 0, "authentications_completed": 0, "authentication_failures": 0,
    "nudges_shown": 0, "nudges_accepted": 0, "nudges_dismissed": 0,
    "automatic_upgrades_offered": 0, "automatic_upgrades_completed": 0, "cross_device_sign_ins": 0,
    "client_cancellations": 0, "client_errors": 0, "authentication_ms_p50": None, "authentication_ms_p95": None,
    "login_decisions_passkey": 0, "login_decisions_autofill": 0, "login_decisions_password": 0,
    "os_breakdown": {}, "browser_breakdown": {}, "provider_breakdown": {}, "creation_path_breakdown": {},
    "client_outcome_breakdown": {}, "capability_breakdown": {}, "login_decision_reason_breakdown": {},
}  # fmt: skip
EXPECTED = {
    D1: {**ZERO_DAY, "users": 3, "passkey_users": 1, "sign_ins": 3, "passkey_sign_ins": 1,
         "registrations_started": 1, "registrations_completed": 1,
         "authentications_started": 2, "authentications_completed": 1, "authentication_failures": 1,
         "nudges_shown": 1, "nudges_dismissed": 1,
         "os_breakdown": {"iOS": 1}, "browser_breakdown": {"Mobile Safari": 1},
         "provider_breakdown": {"Apple Passwords": 1}, "creation_path_breakdown": {"other": 1}},
    D2: {**ZERO_DAY, "users": 4, "passkey_users": 2, "sign_ins": 4, "passkey_sign_ins": 3,
         "registrations_started": 2, "registrations_completed": 1,
         "authentications_started": 3, "authentications_completed": 3,
         "nudges_shown": 1, "nudges_accepted": 1,
         "os_breakdown": {"Android": 2, "Mac OS X": 1}, "browser_breakdown": {"Chrome Mobile": 2, "Safari": 1},
         "provider_breakdown": {"Google Password Manager": 2, "Apple Passwords": 1},
         "creation_path_breakdown": {"other": 1}},
    D3: {**ZERO_DAY, "users": 4, "passkey_users": 2},
}  # fmt: skip


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=UTC)


def passkey_add(tenant, user_id: str, aaguid: uuid.UUID, created_at: datetime) -> None:
    credential_import(
        tenant=tenant,
        user_id=user_id,
        credential_id=uuid.uuid4().bytes,
        public_key=b"\xa5" * 77,
        algorithm=-7,
        aaguid=aaguid,
        backup_eligible=True,
        backed_up=True,
        created_at=created_at,
    )


def history_add(tenant, events=HISTORY, passkeys=PASSKEYS) -> None:
    for day, clock, type, user_id, user_agent, extra in events:
        when = at(day, clock)
        event_record(tenant=tenant, type=type, user_id=user_id, user_agent=user_agent, occurred_at=when, **extra)
    for user_id, aaguid, day, clock in passkeys:
        passkey_add(tenant, user_id, aaguid, at(day, clock))


def stored(metric: DailyMetric) -> dict:
    return {name: value for name, value in model_to_dict(metric).items() if name not in ("id", "computed_at")}


@pytest.fixture
def other(make_tenant):
    """Another tenant with a busy history on the same days, under the same user ids."""
    tenant = make_tenant(name="Other", rp_id="other.example.org", origins=["https://other.example.org"])
    kinds = ((E.SIGN_IN, "alice"), (E.AUTHENTICATION_SUCCEEDED, "zed"), (E.NUDGE_SHOWN, "bob"))
    noise = [
        (day, f"{hour:02}:30:00", type, user, ANDROID, {"provider": "1Password"})
        for day in (D1, D2)
        for hour in range(5)
        for type, user in kinds
    ]
    history_add(tenant, noise, [("zed", GOOGLE, D1, "01:00:00"), ("alice", GOOGLE, D1, "02:00:00")])
    return tenant


@pytest.fixture
def history(tenant, other):
    history_add(tenant)
    return tenant


@pytest.fixture
def computed(history):
    return {day: adoption_metrics_compute(tenant=history, day=day) for day in (D1, D2, D3)}


# The stored figures


@pytest.mark.parametrize("day", [D1, D2, D3])
def test_daily_metric_has_every_figure_of_the_hand_made_history(computed, day):
    assert stored(computed[day]) == {"tenant": computed[day].tenant_id, "date": day, **EXPECTED[day]}


@pytest.mark.parametrize("day", [D1, D2, D3])
def test_day_figures_equal_the_stored_row(computed, history, day):
    assert day_figures(tenant=history, day=day) == EXPECTED[day]


def test_other_tenants_events_never_count(computed, other):
    """EXPECTED holds with the other tenant's busy history on the same days; and it sees only its own."""
    theirs = stored(adoption_metrics_compute(tenant=other, day=D1))
    assert (theirs["users"], theirs["passkey_users"]) == (2, 2)  # alice and zed
    assert (theirs["sign_ins"], theirs["passkey_sign_ins"], theirs["nudges_shown"]) == (10, 5, 5)
    assert (theirs["registrations_started"], theirs["authentication_failures"]) == (0, 0)
    assert theirs["provider_breakdown"] == {"1Password": 5}


def test_users_are_counted_once_however_often_they_appear(computed, history):
    assert KnownUser.objects.filter(tenant=history).count() == 4  # erin only failed to register: not a user


# Rates and the report


def test_report_rates_are_ratios_of_the_day(computed, history):
    d1, d2, d3 = adoption_report(tenant=history, first=D1, last=D3)["days"]
    assert (d1["adoption_rate"], d1["passkey_sign_in_rate"]) == (0.3333, 0.3333)
    assert (d1["registration_completion_rate"], d1["authentication_success_rate"]) == (1.0, 0.5)
    assert d1["nudge_conversion_rate"] == 0.0
    assert (d2["adoption_rate"], d2["passkey_sign_in_rate"]) == (0.5, 0.75)
    assert (d2["registration_completion_rate"], d2["authentication_success_rate"]) == (0.5, 1.0)
    assert d2["nudge_conversion_rate"] == 1.0
    assert d3["adoption_rate"] == 0.5


def test_report_rates_with_a_zero_denominator_are_zero(computed, history):
    d3 = adoption_report(tenant=history, first=D3, last=D3)["days"][0]
    rates = {name: value for name, value in d3.items() if name.endswith("_rate") and name != "adoption_rate"}
    assert rates and all(value == 0.0 and isinstance(value, float) for value in rates.values()), rates
    empty = adoption_report(tenant=history, first=date(2026, 2, 1), last=date(2026, 2, 1))["days"][0]
    assert (empty["users"], empty["adoption_rate"]) == (0, 0.0)


def test_report_days_and_breakdowns_match_the_stored_rows(computed, history):
    report = adoption_report(tenant=history, first=D1, last=D3)
    for row, day in zip(report["days"], (D1, D2, D3), strict=True):
        assert row["date"] == day.isoformat()
        assert {name: row[name] for name in row if name in EXPECTED[day]} == {
            name: value for name, value in EXPECTED[day].items() if not name.endswith("_breakdown")
        }
    assert report["breakdowns"] == {
        "os": {"Android": 2, "iOS": 1, "Mac OS X": 1},
        "browser": {"Chrome Mobile": 2, "Mobile Safari": 1, "Safari": 1},
        "provider": {"Apple Passwords": 2, "Google Password Manager": 2},
        "creation_path": {"other": 2},
        "client_outcomes": {},
        "capabilities": {},
        "login_decision_reasons": {},
    }


# Days, repeats and order


def test_days_are_utc_days(tenant):
    just_before = datetime(2026, 3, 2, 1, 59, 59, tzinfo=timezone(timedelta(hours=2)))  # 23:59:59 UTC on D1
    for when in (just_before, at(D2, "00:00:00")):
        event_record(tenant=tenant, type=E.SIGN_IN, user_id="alice", method="password", occurred_at=when)
    assert day_figures(tenant=tenant, day=D1)["sign_ins"] == 1
    assert day_figures(tenant=tenant, day=D2)["sign_ins"] == 1


def test_computing_a_day_twice_gives_identical_rows(history):
    first = stored(adoption_metrics_compute(tenant=history, day=D2))
    second = adoption_metrics_compute(tenant=history, day=D2)
    assert stored(second) == first
    assert DailyMetric.objects.filter(tenant=history, date=D2).count() == 1


def test_computing_days_out_of_order_gives_the_same_users(history):
    backwards = {day: adoption_metrics_compute(tenant=history, day=day).users for day in (D3, D2, D1)}
    assert backwards == {day: EXPECTED[day]["users"] for day in (D1, D2, D3)}


def test_range_computes_every_day_of_every_tenant(history, other):
    rows = adoption_metrics_compute_range(first=D1, last=D3)
    assert sorted((row.tenant_id, row.date) for row in rows) == sorted(
        (tenant.pk, day) for tenant in (history, other) for day in (D1, D2, D3)
    )
    assert [row.users for row in rows if row.tenant_id == history.pk] == [3, 4, 4]


# The management command


def test_command_computes_one_date_and_prints_a_line_per_tenant(history, other):
    out = io.StringIO()
    call_command("compute_adoption_metrics", "--date", D2.isoformat(), stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert any(line.startswith(f"{history.pk} {D2}") and "passkey_users=2 sign_ins=4" in line for line in lines)
    assert any(line.startswith(f"{other.pk} {D2}") for line in lines)
    assert stored(DailyMetric.objects.get(tenant=history, date=D2))["sign_ins"] == EXPECTED[D2]["sign_ins"]


def test_command_computes_a_range_with_a_line_per_tenant_and_day(history, other):
    out = io.StringIO()
    call_command("compute_adoption_metrics", "--from", D1.isoformat(), "--to", D3.isoformat(), stdout=out)
    assert len(out.getvalue().splitlines()) == 6
    assert DailyMetric.objects.count() == 6
    assert {m.date: m.users for m in DailyMetric.objects.filter(tenant=history)} == {D1: 3, D2: 4, D3: 4}


def test_command_rejects_a_backwards_range(history):
    with pytest.raises(CommandError):
        call_command("compute_adoption_metrics", "--from", D3.isoformat(), "--to", D1.isoformat())
    assert not DailyMetric.objects.exists()
