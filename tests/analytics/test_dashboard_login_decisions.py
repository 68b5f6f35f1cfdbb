"""The dashboard's login-decision cards: each day's passkey-first share beside its passkey sign-in rate (a day with
nothing to divide by has no point, never 0 %), and the range's decisions by reason; figures from the adoption report
only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from django.utils import timezone

from analytics.models import EventType, LoginDecision, LoginDecisionReason
from analytics.services.events import event_record
from analytics.services.metrics import adoption_metrics_compute_range
from tests.support.dashboard import embedded_report, panels

R = LoginDecisionReason
PASSKEY, AUTOFILL, PASSWORD = LoginDecision.PASSKEY, LoginDecision.PASSKEY_AUTOFILL, LoginDecision.PASSWORD
# Days ago: the decisions (decision, reason, how many) and the sign-ins (other methods, passkey) of that day.
# Two days ago both; yesterday sign-ins and no decision; today decisions and no sign-in.
DECISIONS = {
    2: [(PASSKEY, R.REMEMBERED_ON_DEVICE, 1), (PASSKEY, R.USABLE_ON_PLATFORM, 2),
        (AUTOFILL, R.CONDITIONAL_UI_AVAILABLE, 1), (PASSWORD, R.NO_PASSKEY, 3), (PASSWORD, R.RECENT_FAILURES, 1)],
    1: [],
    0: [(PASSKEY, R.USABLE_ON_PLATFORM, 2), (AUTOFILL, R.CONDITIONAL_UI_AVAILABLE, 1),
        (PASSWORD, R.WEBAUTHN_UNAVAILABLE, 1)],
}  # fmt: skip
SIGN_INS = {2: (3, 1), 1: (1, 1), 0: (0, 0)}


def day_at(ago: int) -> datetime:
    return datetime.combine(timezone.now().date() - timedelta(days=ago), time(0, 0, 1), tzinfo=UTC)


def decisions_seed(tenant) -> None:
    """Three days of decisions and sign-ins (DECISIONS, SIGN_INS); past days stored by the metrics job."""
    for ago in (2, 1, 0):
        at = day_at(ago)
        for decision, reason, count in DECISIONS[ago]:
            for _ in range(count):
                event_record(tenant=tenant, type=EventType.LOGIN_DECIDED, method=decision, code=reason, occurred_at=at)
        others, passkeys = SIGN_INS[ago]
        for n in range(others):
            event_record(tenant=tenant, type=EventType.SIGN_IN, user_id=f"u{n}", method="password", occurred_at=at)
        for n in range(passkeys):
            event_record(tenant=tenant, type=EventType.AUTHENTICATION_SUCCEEDED, user_id=f"p{n}", occurred_at=at)
    today = timezone.now().date()
    adoption_metrics_compute_range(first=today - timedelta(days=2), last=today - timedelta(days=1), tenants=[tenant])


def three_days(client, tenant):
    today = timezone.now().date()
    return client.get(f"/dashboard/{tenant.pk}/?from={today - timedelta(days=2)}&to={today}")


def iso(ago: int) -> str:
    return (timezone.now().date() - timedelta(days=ago)).isoformat()


def test_the_passkey_first_card_shows_each_days_share_beside_the_passkey_sign_in_rate(analyst_a, tenant_a, tenant_b):
    decisions_seed(tenant_a)
    decisions_seed(tenant_b)  # another tenant's decisions change nothing on A's page
    event_record(tenant=tenant_b, type=EventType.LOGIN_DECIDED, method=PASSWORD, code=R.NO_PASSKEY,
                 occurred_at=day_at(1))  # would give B's yesterday a share  # fmt: skip

    response = three_days(analyst_a, tenant_a)

    assert response.status_code == 200
    card = panels(response)["passkey-first"]
    # (1 + 2 + 1) of 8 two days ago, (2 + 1) of 4 today; yesterday had no decision, so no share at all.
    assert card["lines"]["passkey_first"] == {iso(2): 0.5, iso(0): 0.75}
    # Sign-ins: 1 of 4 two days ago, 1 of 2 yesterday; today had none, so no rate.
    assert card["lines"]["passkey_sign_in_rate"] == {iso(2): 0.25, iso(1): 0.5}
    assert card["pill"] == "58.3 % passkey-first"  # 7 of 12 over the range
    assert card["empty"] == "" and card["bars"] == {}
    page = response.content.decode()
    assert 'class="panel span-2" data-panel="passkey-first"' in page
    assert "50.0 % (4 of 8 decisions)" in page and "75.0 % (3 of 4 decisions)" in page
    assert "25.0 % (1 of 4 sign-ins)" in page


def test_a_day_without_decisions_breaks_the_share_line_instead_of_dropping_to_zero(analyst_a, tenant_a):
    decisions_seed(tenant_a)

    page = three_days(analyst_a, tenant_a).content.decode()

    share = re.search(r'data-series="passkey_first">.*?<path d="([^"]*)"', page, re.S)
    assert share, "no passkey-first line"
    assert share.group(1).count("M") == 2 and "L" not in share.group(1)  # two lone days: two points, no segment
    line = page.split('data-series="passkey_first">')[1].split("</g>")[0]
    assert iso(1) not in line and ": 0.0 %" not in line


def test_the_share_line_joins_consecutive_days(analyst_a, tenant_a):
    for ago in (1, 0):
        event_record(tenant=tenant_a, type=EventType.LOGIN_DECIDED, method=PASSKEY, code=R.USABLE_ON_PLATFORM,
                     occurred_at=day_at(ago))  # fmt: skip

    page = three_days(analyst_a, tenant_a).content.decode()

    share = re.search(r'data-series="passkey_first">.*?<path d="([^"]*)"', page, re.S).group(1)
    assert share.count("M") == 1 and share.count("L") == 1
    assert panels(three_days(analyst_a, tenant_a))["passkey-first"]["lines"]["passkey_first"] == {
        iso(1): 1.0,
        iso(0): 1.0,
    }


def test_the_reasons_card_shows_every_reason_with_its_count_and_share(analyst_a, tenant_a, tenant_b):
    decisions_seed(tenant_a)
    decisions_seed(tenant_b)

    response = three_days(analyst_a, tenant_a)

    card = panels(response)["decision-reasons"]
    assert card["pill"] == "12 decisions"
    assert card["bars"] == {
        "remembered_on_device": 1,
        "usable_on_platform": 4,
        "conditional_ui_available": 2,
        "no_passkey_for_platform": 0,
        "no_passkey": 3,
        "recent_failures": 1,
        "conditional_ui_unavailable": 0,
        "webauthn_unavailable": 1,
    }
    assert list(card["bars"])[:3] == ["remembered_on_device", "usable_on_platform", "conditional_ui_available"]
    page = response.content.decode()
    assert "Usable on platform: 4 (33.3 %)" in page and "No passkey: 3 (25.0 %)" in page


def test_the_cards_are_the_embedded_reports_figures(analyst_a, tenant_a):
    decisions_seed(tenant_a)

    response = three_days(analyst_a, tenant_a)

    report, shown = embedded_report(response), panels(response)
    for day in report["days"]:
        decided = day["login_decisions_passkey"] + day["login_decisions_autofill"] + day["login_decisions_password"]
        share = shown["passkey-first"]["lines"]["passkey_first"].get(day["date"])
        if decided:
            led = day["login_decisions_passkey"] + day["login_decisions_autofill"]
            assert share == round(led / decided, 4)
        else:
            assert share is None
    reasons = report["breakdowns"]["login_decision_reasons"]
    assert {key: value for key, value in shown["decision-reasons"]["bars"].items() if value} == reasons
    assert set(shown["decision-reasons"]["bars"]) == {reason.value for reason in LoginDecisionReason}


def test_the_cards_say_so_when_the_range_has_no_decisions(analyst_a, tenant_a):
    at = timezone.now() - timedelta(seconds=1)
    event_record(tenant=tenant_a, type=EventType.SIGN_IN, user_id="alice", method="password", occurred_at=at)

    shown = panels(analyst_a.get(f"/dashboard/{tenant_a.pk}/"))

    for key in ("passkey-first", "decision-reasons"):
        assert shown[key]["empty"] == "No login decisions in this range.", key
        assert not shown[key]["bars"] and "lines" not in shown[key]
    assert shown["passkey-first"]["pill"] == "no decisions"
    assert shown["decision-reasons"]["pill"] == "0 decisions"


def test_a_long_range_draws_smaller_points(analyst_a, tenant_a):
    event_record(tenant=tenant_a, type=EventType.LOGIN_DECIDED, method=PASSKEY, code=R.USABLE_ON_PLATFORM,
                 occurred_at=day_at(0))  # fmt: skip
    today = timezone.now().date()

    month = analyst_a.get(f"/dashboard/{tenant_a.pk}/").content.decode()
    year = analyst_a.get(f"/dashboard/{tenant_a.pk}/?from={today - timedelta(days=364)}&to={today}").content.decode()

    assert re.search(r'<circle class="point"[^>]* r="3"', month)
    assert re.search(r'<circle class="point"[^>]* r="1.5"', year)
