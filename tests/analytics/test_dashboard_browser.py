"""The dashboard in a real headless Chromium: every chart draws with data, the headline numbers are
the report's, and the console stays free of errors. Leaves a screenshot in artifacts/screenshots/."""

from __future__ import annotations

import os
import random
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import Event, EventType
from analytics.services.events import event_record
from analytics.services.metrics import adoption_metrics_compute_range, adoption_report
from analytics.services.nudges import nudge_outcome_record, sign_in_record
from passkeys.services.credentials import credential_import
from tenants.models import Membership
from tests.support.browser import chromium, console_log, screenshot

PASSWORD = "correct horse battery staple"
DAYS = 30
CANVASES = ["rates", "sign-ins", "registrations", "authentications", "nudges", "os", "browser", "provider"]
# The v1.1 panels, drawn by the server as SVG bars: {panel: [bar, ...]}.
BAR_PANELS = {
    "automatic-upgrades": ["sign_ins", "offered", "completed"],
    "creation-paths": ["nudge", "automatic_upgrade", "other"],
    "cross-device": ["same_device", "cross_device"],
    "login-ends": ["started", "succeeded", "cancelled", "no_credential", "timed_out", "error", "aborted", "no_report"],
    "capabilities": ["conditionalGet", "conditionalCreate", "hybridTransport"],
    "passkey-first": [],  # lines, not bars
    "decision-reasons": [
        "remembered_on_device", "usable_on_platform", "conditional_ui_available", "no_passkey_for_platform",
        "no_passkey", "recent_failures", "conditional_ui_unavailable", "webauthn_unavailable",
    ],
}  # fmt: skip
ROWS = {"decision-reasons"}  # bars laid along x: as long as their share of the largest
# How a passkey sign-in ends in the browser, by weight; the server hears only of those with a passkey's answer.
CLIENT_ENDS = {"succeeded": 85, "cancelled": 6, "no_credential": 4, "timed_out": 2, "error": 2, None: 1}

# (user agent, passkey provider AAGUID, provider name, getClientCapabilities()): a realistic mix of platforms.
CLIENTS = [
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        "fbfc3007-154e-4ecc-8c0b-6e020557d7bd",
        "Apple Passwords",
        {"conditionalGet": True, "conditionalCreate": True, "hybridTransport": False},
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15",
        "fbfc3007-154e-4ecc-8c0b-6e020557d7bd",
        "Apple Passwords",
        {"conditionalGet": True, "conditionalCreate": True, "hybridTransport": True},
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "08987058-cadc-4b81-b6e1-30de50dcbe96",
        "Windows Hello",
        {"conditionalGet": True, "conditionalCreate": False, "hybridTransport": True},
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
        "Google Password Manager",
        {"conditionalGet": True, "conditionalCreate": True, "hybridTransport": False},
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "bada5566-a7aa-401f-bd96-45619a55120d",
        "1Password",
        None,  # no getClientCapabilities()
    ),
]

NOT_SUMMED = {"date", "authentication_ms_p50", "authentication_ms_p95"}  # not counts, and null on untimed days
DECISIONS = ("login_decisions_passkey", "login_decisions_autofill", "login_decisions_password")

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's thread needs committed rows


def history_seed(tenant, *, days: int = DAYS, first_users: int = 30, new_per_day: int = 3) -> None:
    """Weeks of rising adoption through the services the API uses; past days stored by the metrics job.

    Users sign in by password and are nudged; more accept as the weeks go by, and those who have a
    passkey come back with it (now and then failing, now and then with their phone). From the second week some
    browsers are offered an automatic upgrade after a password sign-in, and some of those make a passkey. The
    browsers report how passkey sign-ins ended (passkey autofill left for a password ends aborted).
    """
    rng = random.Random(7)  # the same picture on every run
    now = timezone.now()
    clients: dict[str, tuple] = {}
    with_passkey: set[str] = set()
    for ago in range(days - 1, -1, -1):
        at = now - timedelta(days=ago, minutes=30)
        progress = 1 - ago / days
        for n in range(first_users if ago == days - 1 else new_per_day):
            clients[f"user-{ago}-{n}"] = CLIENTS[rng.randrange(len(CLIENTS))]
        for user, client in clients.items():
            if user in with_passkey:
                if rng.random() < 0.5:
                    _decided(tenant, client, at, "passkey", "remembered_on_device" if ago % 3 else "usable_on_platform")
                    failed, cross_device = rng.random() < 0.08, rng.random() < 0.1
                    ended = rng.choices(list(CLIENT_ENDS), weights=list(CLIENT_ENDS.values()))[0]
                    duration = round(rng.lognormvariate(7.8, 0.45))  # about 2.4 s
                    _passkey_sign_in(tenant, user, client, at, failed=failed, cross_device=cross_device,
                                     ended=ended, duration=duration)  # fmt: skip
                continue
            if not user.startswith(f"user-{ago}-") and rng.random() > 0.3:
                continue  # not every user signs in every day
            if rng.random() < 0.1:  # passkey autofill offered, a password typed instead
                _decided(tenant, client, at, "passkey_autofill", "conditional_ui_available")
                event_record(tenant=tenant, type=EventType.AUTHENTICATION_STARTED, occurred_at=at,
                             mediation="conditional")  # fmt: skip
                _report(tenant, client, at, "aborted", 9000, mediation="conditional")
            else:
                _decided(tenant, client, at, "password", "no_passkey" if client[3] else "webauthn_unavailable")
            decision = sign_in_record(
                tenant=tenant, user_id=user, method=rng.choice(["password", "password", "otp", "magic_link"]),
                user_agent=client[0], platform_authenticator_available=rng.random() < 0.8, now=at,
            )  # fmt: skip
            made = False
            if ago < days - 7 and rng.random() < 0.4:  # an automatic upgrade offered: half make a passkey
                made = _registration(tenant, user, client, at, made=rng.random() < 0.5, mediation="conditional")
            elif decision.nudge is None:
                made = rng.random() < 0.05 and _registration(tenant, user, client, at, made=True)  # account settings
            else:
                accept = rng.random() < 0.2 + 0.5 * progress
                outcome = "accepted" if accept else rng.choice(["dismissed", "dismissed", "shown"])
                nudge_outcome_record(tenant=tenant, nudge_id=decision.nudge.pk, outcome=outcome, now=at)
                if outcome != "shown":
                    made = _registration(tenant, user, client, at, made=accept, nudge_id=decision.nudge.pk)
            if made:
                with_passkey.add(user)
    today = now.date()
    adoption_metrics_compute_range(first=today - timedelta(days=days - 1), last=today - timedelta(days=1),
                                   tenants=[tenant])  # fmt: skip


def _registration(tenant, user: str, client: tuple, at, *, made: bool, **recorded) -> bool:
    """Started, and when `made` a passkey and its success; `recorded` is the events' mediation or nudge."""
    mediation = recorded.get("mediation")
    event_record(tenant=tenant, type=EventType.REGISTRATION_STARTED, user_id=user, user_agent=client[0],
                 mediation=mediation, occurred_at=at)  # fmt: skip
    if not made:
        return False
    credential_import(
        tenant=tenant, user_id=user, credential_id=os.urandom(32), public_key=os.urandom(77),
        algorithm=-7, aaguid=uuid.UUID(client[1]), backup_eligible=True, backed_up=True, created_at=at,
    )  # fmt: skip
    event_record(tenant=tenant, type=EventType.REGISTRATION_SUCCEEDED, user_id=user, user_agent=client[0],
                 provider=client[2], occurred_at=at, **recorded)  # fmt: skip
    return True


def _decided(tenant, client: tuple, at, decision: str, reason: str) -> None:
    """The login decision the sign-in page asked for (POST /v1/login-decisions records this event)."""
    event_record(tenant=tenant, type=EventType.LOGIN_DECIDED, user_agent=client[0], method=decision, code=reason,
                 occurred_at=at)  # fmt: skip


def _report(tenant, client: tuple, at, outcome: str, duration: int, **columns) -> None:
    """The browser's report of how a sign-in ended, as POST /v1/client-events records it."""
    Event.objects.create(tenant=tenant, type=EventType.AUTHENTICATION_CLIENT_OUTCOME, occurred_at=at, outcome=outcome,
                         duration_ms=duration, capabilities=client[3], **columns)  # fmt: skip


def _passkey_sign_in(tenant, user: str, client: tuple, at, *, failed: bool, cross_device: bool, ended: str | None,
                     duration: int) -> None:  # fmt: skip
    """Started, the browser's report (`ended`; None: no report), and the server's verdict when a passkey answered."""
    event_record(tenant=tenant, type=EventType.AUTHENTICATION_STARTED, user_id=user, user_agent=client[0],
                 occurred_at=at)  # fmt: skip
    if ended is not None:
        _report(tenant, client, at, ended, duration)
    if ended not in ("succeeded", None):
        return  # the browser gave up: nothing reaches the server
    event_record(
        tenant=tenant, user_id=user, user_agent=client[0], provider=client[2], occurred_at=at,
        type=EventType.AUTHENTICATION_FAILED if failed else EventType.AUTHENTICATION_SUCCEEDED,
        code="user_verification_required" if failed else "",
        attachment="" if failed else "cross-platform" if cross_device else "platform",
    )  # fmt: skip


@pytest.fixture
def browser():
    with chromium(width=1400, height=1800) as driver:
        yield driver


@pytest.fixture
def analyst(django_user_model, make_tenant):
    tenant = make_tenant(name="Acme Shop", rp_id="shop.example.com", origins=["https://shop.example.com"])
    person = django_user_model.objects.create_user(username="ana", password=PASSWORD)
    Membership.objects.create(user=person, tenant=tenant, role="analyst")
    return person, tenant


BAR_STATE = """
return Array.from(document.querySelectorAll("[data-panel]")).map(function (panel) {
  return {
    panel: panel.getAttribute("data-panel"),
    bars: Array.from(panel.querySelectorAll("g[data-bar]")).map(function (bar) {
      var box = bar.querySelector("rect").getBoundingClientRect();
      return {bar: bar.getAttribute("data-bar"), value: Number(bar.getAttribute("data-value")),
              width: box.width, height: box.height};
    }),
  };
});
"""

LINE_STATE = """
var lines = {};
document.querySelectorAll('[data-panel="passkey-first"] g[data-series]').forEach(function (series) {
  lines[series.getAttribute("data-series")] = Array.from(series.querySelectorAll("circle")).map(function (point) {
    var box = point.getBoundingClientRect();
    return {date: point.getAttribute("data-date"), value: Number(point.getAttribute("data-value")),
            width: box.width, top: box.top};
  });
});
return lines;
"""

CHART_STATE = """
return Array.from(document.querySelectorAll("canvas")).map(function (canvas) {
  var chart = Chart.getChart(canvas);
  var context = canvas.getContext("2d");
  var pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  var painted = 0;
  for (var i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) { painted += 1; } }
  var blank = document.createElement("canvas");
  blank.width = canvas.width;
  blank.height = canvas.height;
  return {
    id: canvas.id,
    type: chart ? chart.config.type : null,
    datasets: chart ? chart.data.datasets.map(function (d) { return d.data.length; }) : [],
    total: chart ? chart.data.datasets.reduce(function (sum, d) {
      return sum + d.data.reduce(function (a, b) { return a + Math.abs(b); }, 0);
    }, 0) : 0,
    painted: painted,
    differs: canvas.toDataURL() !== blank.toDataURL(),
    width: canvas.width,
  };
});
"""


def test_dashboard_draws_every_chart_with_the_reports_numbers(browser, live_server, analyst):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    person, tenant = analyst
    history_seed(tenant)
    browser.get(f"{live_server.url}/accounts/login/")
    screenshot(browser, "login", width=1400)
    browser.find_element(By.NAME, "username").send_keys(person.username)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.login-form button[type=submit]").click()
    WebDriverWait(browser, 15).until(expected_conditions.url_contains(f"/dashboard/{tenant.pk}/"))
    WebDriverWait(browser, 15).until(lambda driver: driver.execute_script("return document.readyState") == "complete")

    today = timezone.now().date()
    report = adoption_report(tenant=tenant, first=today - timedelta(days=29), last=today)

    charts = {state["id"]: state for state in browser.execute_script(CHART_STATE)}
    assert sorted(charts) == sorted(f"chart-{name}" for name in CANVASES)
    for state in charts.values():
        assert state["type"], f"{state['id']} has no Chart instance"
        assert state["datasets"] and all(state["datasets"]), f"{state['id']} has an empty dataset"
        assert state["total"] > 0, f"{state['id']} plots only zeros"
        assert state["differs"] and state["painted"] > 500, f"{state['id']} drew nothing: {state}"
    assert charts["chart-rates"]["datasets"] == [30, 30]

    shown = {
        card.get_attribute("data-metric"): (
            card.get_attribute("data-value"), card.find_element(By.CSS_SELECTOR, ".value").text,
        )
        for card in browser.find_elements(By.CSS_SELECTOR, ".card")
    }  # fmt: skip
    latest, days = report["days"][-1], report["days"]
    total = {name: sum(day[name] for day in days) for name in latest if name not in NOT_SUMMED}
    passkey_sign_in_rate = round(total["passkey_sign_ins"] / total["sign_ins"], 4)
    assert shown == {
        "users": (str(latest["users"]), f"{latest['users']:,}"),
        "passkey_users": (str(latest["passkey_users"]), f"{latest['passkey_users']:,}"),
        "adoption_rate": (str(latest["adoption_rate"]), f"{latest['adoption_rate'] * 100:.1f} %"),
        "passkey_sign_in_rate": (str(passkey_sign_in_rate), f"{passkey_sign_in_rate * 100:.1f} %"),
        "sign_ins": (str(total["sign_ins"]), f"{total['sign_ins']:,}"),
        "registrations_completed": (
            str(total["registrations_completed"]), f"{total['registrations_completed']:,}",
        ),
        "authentication_failures": (
            str(total["authentication_failures"]), f"{total['authentication_failures']:,}",
        ),
        "nudges_accepted": (str(total["nudges_accepted"]), f"{total['nudges_accepted']:,}"),
    }  # fmt: skip
    assert latest["passkey_users"] > 0 and total["authentication_failures"] > 0
    embedded = browser.execute_script('return JSON.parse(document.getElementById("adoption-report").textContent)')
    assert embedded == report

    # The server-drawn bars: on screen, in order, each the report's total and as tall as its share of the largest.
    paths, reasons = report["breakdowns"]["creation_path"], report["breakdowns"]["login_decision_reasons"]
    outcomes, capabilities = report["breakdowns"]["client_outcomes"], report["breakdowns"]["capabilities"]
    started = total["authentications_started"]
    ends = [outcomes.get(key, 0) for key in ("succeeded", "cancelled", "no_credential", "timed_out")]
    ends += [outcomes.get("security_error", 0) + outcomes.get("error", 0), outcomes.get("aborted", 0)]
    expected = {
        "login-ends": [started, *ends, started - sum(outcomes.values())],
        "capabilities": [capabilities.get(key, 0) for key in BAR_PANELS["capabilities"]],
        "automatic-upgrades": [
            total["sign_ins"] - total["passkey_sign_ins"],
            total["automatic_upgrades_offered"],
            total["automatic_upgrades_completed"],
        ],
        "creation-paths": [paths.get(key, 0) for key in BAR_PANELS["creation-paths"]],
        "cross-device": [total["passkey_sign_ins"] - total["cross_device_sign_ins"], total["cross_device_sign_ins"]],
        "passkey-first": [],
        "decision-reasons": [reasons.get(key, 0) for key in BAR_PANELS["decision-reasons"]],
    }
    drawn = {state["panel"]: state["bars"] for state in browser.execute_script(BAR_STATE)}
    assert {panel: [bar["bar"] for bar in bars] for panel, bars in drawn.items()} == BAR_PANELS
    for panel, bars in drawn.items():
        assert [bar["value"] for bar in bars] == expected[panel], panel
        if not bars:
            continue
        # Every bar has a count, except reasons no decision gave (the seeded pages give some of them only).
        assert all(value > 0 for value in expected[panel]) or panel in ROWS, f"{panel} has an empty bar"
        length = "width" if panel in ROWS else "height"
        tallest = max(bars, key=lambda bar: bar["value"])
        assert tallest["width"] > 20 and tallest["height"] > 8, f"{panel} is not on screen: {tallest}"
        assert tallest[length] > 100, f"{panel} is not on screen: {tallest}"
        # Capabilities are shares: a bar is as tall as its count's share of the reports that carried capabilities.
        full = capabilities["reported"] if panel == "capabilities" else tallest["value"]
        size = tallest[length] * full / tallest["value"]
        for bar in bars:
            assert bar[length] == pytest.approx(size * bar["value"] / full, abs=2), bar

    # The passkey-first lines: a point on every day with decisions (each its share) and with sign-ins, on screen.
    lines = browser.execute_script(LINE_STATE)
    decided = {day["date"]: sum(day[name] for name in DECISIONS) for day in days}
    led = {day["date"]: day["login_decisions_passkey"] + day["login_decisions_autofill"] for day in days}
    assert {point["date"]: point["value"] for point in lines["passkey_first"]} == {
        date: round(led[date] / count, 4) for date, count in decided.items() if count
    }
    assert len(lines["passkey_sign_in_rate"]) == sum(1 for day in days if day["sign_ins"])
    for points in lines.values():
        assert all(point["width"] > 2 for point in points), points
        # Higher shares are drawn higher: compare the lowest and highest points.
        low, high = min(points, key=lambda p: p["value"]), max(points, key=lambda p: p["value"])
        assert low["value"] == high["value"] or low["top"] > high["top"]
    # Adoption rises over the weeks, and so does the share of decisions that lead with a passkey.
    shares = [point["value"] for point in lines["passkey_first"]]
    assert sum(shares[-7:]) / 7 > sum(shares[:7]) / 7, shares

    console = console_log(browser)
    severe = [entry for entry in console if entry["level"] == "SEVERE"]
    assert not severe, f"console errors: {severe}"
    screenshot(browser, "dashboard", width=1400)
