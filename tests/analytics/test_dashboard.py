"""The analysts' dashboard: login, which tenants a person sees, and that its numbers are the API's."""

from __future__ import annotations

import os
import re
import uuid
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from analytics.models import EventType
from analytics.services.events import event_record
from analytics.services.metrics import adoption_metrics_compute_range, adoption_report
from analytics.services.nudges import nudge_outcome_record, sign_in_record
from passkeys.services.credentials import credential_import
from tenants.models import Membership
from tests.support.dashboard import embedded_report, panels

PASSWORD = "correct horse battery staple"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"  # noqa: E501
WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"  # noqa: E501
)
APPLE_PASSWORDS = uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")
WINDOWS_HELLO = uuid.UUID("08987058-cadc-4b81-b6e1-30de50dcbe96")
UPGRADE_PANELS = ("automatic-upgrades", "creation-paths", "cross-device")
NOT_SUMMED = {"date", "authentication_ms_p50", "authentication_ms_p95"}  # not counts, and null on untimed days


def history_seed(tenant, *, days: int = 3) -> None:
    """A few days of sign-ins, passkeys, nudges and failures; past days stored by the metrics job."""
    now = timezone.now()
    for ago in range(days - 1, -1, -1):
        at = now - timedelta(days=ago, minutes=5)
        for n, (agent, aaguid) in enumerate([(IPHONE, APPLE_PASSWORDS), (WINDOWS, WINDOWS_HELLO)]):
            user = f"user-{ago}-{n}"
            decision = sign_in_record(
                tenant=tenant, user_id=user, method="password", user_agent=agent,
                platform_authenticator_available=True, now=at,
            )  # fmt: skip
            if decision.nudge is not None:
                outcome = "accepted" if n == 0 else "dismissed"
                nudge_outcome_record(tenant=tenant, nudge_id=decision.nudge.pk, outcome=outcome, now=at)
            if n == 0:
                credential_import(
                    tenant=tenant, user_id=user, credential_id=os.urandom(32), public_key=os.urandom(77),
                    algorithm=-7, aaguid=aaguid, backup_eligible=True, backed_up=True, created_at=at,
                )  # fmt: skip
                event_record(tenant=tenant, type=EventType.REGISTRATION_STARTED, user_id=user, occurred_at=at)
                event_record(tenant=tenant, type=EventType.REGISTRATION_SUCCEEDED, user_id=user, occurred_at=at,
                             user_agent=agent, provider="Apple Passwords")  # fmt: skip
            for kind in (EventType.AUTHENTICATION_STARTED, EventType.AUTHENTICATION_SUCCEEDED):
                event_record(tenant=tenant, type=kind, user_id=user, user_agent=agent, occurred_at=at,
                             provider="Apple Passwords" if n == 0 else "Windows Hello")  # fmt: skip
        event_record(tenant=tenant, type=EventType.AUTHENTICATION_STARTED, occurred_at=at)
        event_record(tenant=tenant, type=EventType.AUTHENTICATION_FAILED, code="signature_invalid", occurred_at=at)
    today = now.date()
    adoption_metrics_compute_range(first=today - timedelta(days=days - 1), last=today - timedelta(days=1),
                                   tenants=[tenant])  # fmt: skip


def upgrades_seed(tenant) -> None:
    """Known v1.1 events (automatic upgrades, nudged and other registrations, cross-device sign-ins) on yesterday,
    stored by the metrics job, and today, computed live."""
    now = timezone.now()
    for at in (now - timedelta(days=1), now - timedelta(minutes=5)):
        for n in range(4):
            event_record(tenant=tenant, type=EventType.SIGN_IN, user_id=f"user-{n}", method="password", occurred_at=at)
        for n in range(3):
            event_record(tenant=tenant, type=EventType.REGISTRATION_STARTED, user_id=f"user-{n}", occurred_at=at,
                         mediation="conditional")  # fmt: skip
        for n, extra in enumerate([{"mediation": "conditional"}] * 2 + [{"nudge_id": uuid.uuid4()}, {}]):
            event_record(tenant=tenant, type=EventType.REGISTRATION_SUCCEEDED, user_id=f"user-{n}", occurred_at=at,
                         user_agent=IPHONE, **extra)  # fmt: skip
        for n, attachment in enumerate(["cross-platform", "platform", "platform", "", "cross-platform"]):
            event_record(tenant=tenant, type=EventType.AUTHENTICATION_SUCCEEDED, user_id=f"user-{n}",
                         occurred_at=at, user_agent=IPHONE, attachment=attachment)  # fmt: skip
    yesterday = now.date() - timedelta(days=1)
    adoption_metrics_compute_range(first=yesterday, last=yesterday, tenants=[tenant])


class _Assets(HTMLParser):
    """Every URL the page makes the browser fetch or link to, and every script tag."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.scripts: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            if attributes.get(name) is not None:
                self.urls.append((tag, name, attributes[name]))
        if tag == "script":
            self.scripts.append(attributes)


def unmasked(response) -> str:
    """The page without its CSRF token, which is masked afresh on every render."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def cards(response) -> dict[str, str]:
    return dict(re.findall(r'data-metric="([a-z_]+)" data-value="([^"]*)"', response.content.decode()))


@pytest.fixture
def make_person(django_user_model):
    def make(username: str, *memberships, role: str = "analyst", superuser: bool = False):
        create = django_user_model.objects.create_superuser if superuser else django_user_model.objects.create_user
        person = create(username=username, password=PASSWORD, email=f"{username}@example.com")
        for tenant in memberships:
            Membership.objects.create(user=person, tenant=tenant, role=role)
        return person

    return make


def test_dashboard_requires_login(client, tenant_a):
    for path in ("/dashboard/", f"/dashboard/{tenant_a.pk}/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={path}"


def test_login_form_signs_in_and_goes_to_the_dashboard(client, make_person, tenant_a):
    make_person("ana", tenant_a)
    page = client.get("/accounts/login/?next=/dashboard/")
    assert page.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in page.content and b'name="password"' in page.content

    response = client.post("/accounts/login/", {"username": "ana", "password": PASSWORD, "next": "/dashboard/"})

    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/dashboard/", follow=True).redirect_chain[-1][0] == f"/dashboard/{tenant_a.pk}/"


def test_login_form_rejects_a_wrong_password(client, make_person, tenant_a):
    make_person("ana", tenant_a)
    response = client.post("/accounts/login/", {"username": "ana", "password": "wrong"})
    assert response.status_code == 200
    assert b"notice-error" in response.content
    assert client.get("/dashboard/").status_code == 302


@pytest.mark.parametrize("role", ["analyst", "admin", "owner"])
def test_every_member_role_may_see_its_tenant(client, make_person, tenant_a, role):
    client.force_login(make_person("member", tenant_a, role=role))
    response = client.get(f"/dashboard/{tenant_a.pk}/")
    assert response.status_code == 200
    assert b"Alpha Corp" in response.content


def test_one_visible_tenant_goes_straight_to_it(analyst_a, tenant_a, tenant_b):
    response = analyst_a.get("/dashboard/", follow=True)
    assert response.redirect_chain == [(f"/dashboard/{tenant_a.pk}/", 302)]
    assert response.status_code == 200
    assert embedded_report(response)["tenant_id"] == str(tenant_a.pk)


def test_analyst_gets_404_for_another_tenants_dashboard(analyst_a, tenant_b):
    history_seed(tenant_b, days=1)
    response = analyst_a.get(f"/dashboard/{tenant_b.pk}/")
    unknown = analyst_a.get(f"/dashboard/{uuid.uuid4()}/")

    assert response.status_code == 404
    # The same page as for a tenant that does not exist: B's existence is not revealed.
    assert unmasked(response) == unmasked(unknown) and unknown.status_code == 404
    assert b"Beta Corp" not in response.content and str(tenant_b.pk).encode() not in response.content


def test_a_malformed_tenant_id_is_404(analyst_a):
    assert analyst_a.get("/dashboard/not-a-uuid/").status_code == 404


def test_chooser_lists_only_the_tenants_a_person_belongs_to(client, make_person, make_tenant, tenant_a, tenant_b):
    tenant_c = make_tenant(name="Gamma Corp", rp_id="c.example.net", origins=["https://c.example.net"])
    client.force_login(make_person("ana", tenant_a, tenant_c))

    response = client.get("/dashboard/")

    assert response.status_code == 200
    page = response.content.decode()
    assert f"/dashboard/{tenant_a.pk}/" in page and f"/dashboard/{tenant_c.pk}/" in page
    assert str(tenant_b.pk) not in page and "Beta Corp" not in page
    assert client.get(f"/dashboard/{tenant_b.pk}/").status_code == 404


def test_superuser_sees_every_tenant(client, make_person, tenant_a, tenant_b):
    client.force_login(make_person("root", superuser=True))

    chooser = client.get("/dashboard/").content.decode()

    assert f"/dashboard/{tenant_a.pk}/" in chooser and f"/dashboard/{tenant_b.pk}/" in chooser
    for tenant in (tenant_a, tenant_b):
        response = client.get(f"/dashboard/{tenant.pk}/")
        assert response.status_code == 200 and embedded_report(response)["tenant_id"] == str(tenant.pk)


def test_person_without_membership_sees_an_empty_state(client, make_person, tenant_a):
    client.force_login(make_person("nobody"))

    response = client.get("/dashboard/")

    assert response.status_code == 200
    assert b'id="no-tenants"' in response.content and b"Alpha Corp" not in response.content
    assert client.get(f"/dashboard/{tenant_a.pk}/").status_code == 404


def test_embedded_report_equals_the_selector_and_the_metrics_api(analyst_a, tenant_a, tenant_b, make_api):
    history_seed(tenant_a, days=4)
    history_seed(tenant_b, days=2)
    today = timezone.now().date()
    first, last = today - timedelta(days=5), today

    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/?from={first}&to={last}")

    assert response.status_code == 200
    page = embedded_report(response)
    assert page == adoption_report(tenant=tenant_a, first=first, last=last)
    api = make_api(tenant_a).get(f"/v1/metrics/adoption?from={first}&to={last}")
    assert api.status_code == 200
    assert page == api.json()
    assert sum(day["sign_ins"] for day in page["days"]) > 0  # the comparison is not between empty reports
    assert set(page["breakdowns"]["provider"]) == {"Apple Passwords", "Windows Hello"}


def test_headline_numbers_come_from_the_report(analyst_a, tenant_a):
    history_seed(tenant_a, days=3)

    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/")

    report = embedded_report(response)
    latest, days = report["days"][-1], report["days"]
    total = {name: sum(day[name] for day in days) for name in ("sign_ins", "passkey_sign_ins", "nudges_accepted")}
    assert cards(response) == {
        "users": str(latest["users"]),
        "passkey_users": str(latest["passkey_users"]),
        "adoption_rate": str(latest["adoption_rate"]),
        "passkey_sign_in_rate": str(round(total["passkey_sign_ins"] / total["sign_ins"], 4)),
        "sign_ins": str(total["sign_ins"]),
        "registrations_completed": str(sum(day["registrations_completed"] for day in days)),
        "authentication_failures": str(sum(day["authentication_failures"] for day in days)),
        "nudges_accepted": str(total["nudges_accepted"]),
    }
    assert f"{latest['adoption_rate'] * 100:.1f} %".encode() in response.content


def test_default_range_is_the_last_30_days(analyst_a, tenant_a):
    today = timezone.now().date()
    report = embedded_report(analyst_a.get(f"/dashboard/{tenant_a.pk}/"))
    assert (report["from"], report["to"]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())
    assert len(report["days"]) == 30


def test_a_valid_range_is_used_as_given(analyst_a, tenant_a):
    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/?from=2025-01-01&to=2025-12-31")
    report = embedded_report(response)
    assert (report["from"], report["to"], len(report["days"])) == ("2025-01-01", "2025-12-31", 365)
    assert b'id="range-message"' not in response.content


@pytest.mark.parametrize(
    "query",
    [
        "from=yesterday",
        "to=2025-13-01",
        "from=2025-02-30",
        "from=2025-03-10&to=2025-03-01",
        "from=2024-01-01&to=2025-02-04",  # 401 days
        "from=0001-01-01",
        "to=0001-01-05",
        "from=9999-12-31&to=9999-12-31",
        "from=%00&to=%ff",
        "from=2025-01-01&from=x",
    ],
)
def test_bad_dates_show_the_default_range_with_a_message(analyst_a, tenant_a, query):
    today = timezone.now().date()

    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/?{query}")

    assert response.status_code == 200
    assert b'id="range-message"' in response.content
    report = embedded_report(response)
    assert (report["from"], report["to"]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())


def test_page_references_only_local_static_assets(analyst_a, tenant_a, client):
    history_seed(tenant_a, days=2)
    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/")
    assets = _Assets()
    assets.feed(response.content.decode())

    fetched = [url for tag, attr, url in assets.urls if tag in ("script", "link", "img")]
    assert any(url.endswith("/vendor/chart.umd.min.js") for url in fetched)
    for url in fetched:
        assert url.startswith("/static/"), url
        assert analyst_a.get(url).status_code == 200, url  # served by WhiteNoise, not just named
    for tag, attr, url in assets.urls:
        assert not re.match(r"^([a-z][a-z0-9+.-]*:)?//", url, re.I), f"<{tag} {attr}> leaves the site: {url}"


def test_page_has_no_inline_script(analyst_a, tenant_a):
    """CSP-friendly: every script is a file, apart from the JSON data block."""
    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/")
    assets = _Assets()
    assets.feed(response.content.decode())
    assert len(assets.scripts) == 3
    for script in assets.scripts:
        assert script.get("src") or script.get("type") == "application/json", script
    assert not re.search(rb"<[^>]+\son[a-z]+\s*=", response.content), "inline event handler"


def test_upgrade_panels_show_the_ranges_automatic_upgrades_creation_paths_and_cross_device_sign_ins(
    analyst_a, tenant_a, tenant_b
):
    upgrades_seed(tenant_a)
    upgrades_seed(tenant_b)  # another tenant's events change nothing on A's page

    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/")

    assert response.status_code == 200
    shown = {key: panel for key, panel in panels(response).items() if key in UPGRADE_PANELS}
    assert shown == {
        "automatic-upgrades": {
            "pill": "66.7 % completed",
            "empty": "",
            "bars": {"sign_ins": 8, "offered": 6, "completed": 4},
        },
        "creation-paths": {
            "pill": "8 new",
            "empty": "",
            "bars": {"nudge": 2, "automatic_upgrade": 4, "other": 2},
        },
        "cross-device": {
            "pill": "40.0 % of passkey sign-ins",
            "empty": "",
            "bars": {"same_device": 6, "cross_device": 4},
        },
    }
    page = response.content.decode()
    for note in ("75.0 % of sign-ins", "66.7 % of offered", "50.0 % of new", "25.0 % of new", "40.0 % of all"):
        assert note in page, note


def test_upgrade_panels_are_the_embedded_reports_totals(analyst_a, tenant_a):
    history_seed(tenant_a, days=3)
    upgrades_seed(tenant_a)

    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/")

    report = embedded_report(response)
    total = {name: sum(day[name] for day in report["days"]) for name in report["days"][0] if name not in NOT_SUMMED}
    paths = report["breakdowns"]["creation_path"]
    shown = panels(response)
    assert shown["automatic-upgrades"]["bars"] == {
        "sign_ins": total["sign_ins"] - total["passkey_sign_ins"],
        "offered": total["automatic_upgrades_offered"],
        "completed": total["automatic_upgrades_completed"],
    }
    assert shown["creation-paths"]["bars"] == {
        key: paths.get(key, 0) for key in ("nudge", "automatic_upgrade", "other")
    }
    assert sum(shown["creation-paths"]["bars"].values()) == total["registrations_completed"]
    assert shown["cross-device"]["bars"] == {
        "same_device": total["passkey_sign_ins"] - total["cross_device_sign_ins"],
        "cross_device": total["cross_device_sign_ins"],
    }


def test_upgrade_panels_say_so_when_there_is_nothing_to_draw(analyst_a, tenant_a):
    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/")

    shown = panels(response)
    assert {key: panel["empty"] for key, panel in shown.items()} == {
        "automatic-upgrades": "No automatic upgrades offered in this range.",
        "creation-paths": "No passkeys registered in this range.",
        "cross-device": "No passkey sign-ins in this range.",
        "login-ends": "No passkey sign-ins started in this range.",
        "capabilities": "No sign-in reports with capabilities in this range.",
        "passkey-first": "No login decisions in this range.",
        "decision-reasons": "No login decisions in this range.",
    }
    assert all(not panel["bars"] for panel in shown.values())
    assert shown["automatic-upgrades"]["pill"] == "0.0 % completed"


def test_a_plain_registration_is_not_drawn_as_an_automatic_upgrade(analyst_a, tenant_a):
    at = timezone.now() - timedelta(minutes=5)
    event_record(tenant=tenant_a, type=EventType.REGISTRATION_STARTED, user_id="alice", occurred_at=at)
    event_record(tenant=tenant_a, type=EventType.REGISTRATION_SUCCEEDED, user_id="alice", occurred_at=at)

    shown = panels(analyst_a.get(f"/dashboard/{tenant_a.pk}/"))

    assert shown["automatic-upgrades"]["empty"] and not shown["automatic-upgrades"]["bars"]
    assert shown["creation-paths"]["bars"] == {"nudge": 0, "automatic_upgrade": 0, "other": 1}
