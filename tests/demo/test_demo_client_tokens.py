"""The demo hands the page each start's client token with its options, so that passkeys.js can report how the
ceremony ended: the registration start, every kind of authentication start (bound, imaginary, discoverable,
autofill) and the automatic upgrade the account page offers. Each token is the service's own: a report made
with it over HTTP is recorded against the right ceremony and user."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from analytics.models import Event, EventType
from demo.models import DemoUser
from demo.services import demo_user_create
from tests.demo.test_demo_site import PASSWORD, USER_AGENT, DemoBrowser, assert_redirect
from tests.demo.test_demo_upgrade_offer import upgrade_offer_on

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's threads need committed rows


@pytest.fixture
def browser(live_server, demo_api) -> DemoBrowser:
    return DemoBrowser(live_server.url)


@pytest.fixture
def alice(db) -> DemoUser:
    return demo_user_create(username="alice", password=PASSWORD, display_name="Alice Liddell")


def report(browser: DemoBrowser, token: str, outcome: str) -> int:
    """What passkeys.js sends: POST /v1/client-events from the page's origin, the token as bearer."""
    request = urllib.request.Request(  # noqa: S310 (the live server)
        browser.base_url + "/v1/client-events",
        data=json.dumps({"outcome": outcome}).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Origin": browser.origin,
            "User-Agent": USER_AGENT,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def reported(tenant) -> list[tuple[str, str, str, str]]:
    events = Event.objects.filter(tenant=tenant, outcome__gt="").order_by("pk")
    return [(e.type, e.user_id, e.mediation, e.outcome) for e in events]


def test_registration_start_hands_the_page_its_client_token(browser, alice, demo_api):
    assert_redirect(browser.sign_in("alice"), "/demo/account/")
    started = browser.post_json("/demo/api/registrations/start")
    assert started.status == 200, started.text
    assert set(started.json()) == {"public_key", "client_token"}
    assert report(browser, started.json()["client_token"], "cancelled") == 202
    assert reported(demo_api.tenant) == [(EventType.REGISTRATION_CLIENT_OUTCOME, str(alice.user_id), "", "cancelled")]


@pytest.mark.parametrize(
    ("start", "bound", "mediation"),
    [
        ({"username": "alice"}, True, ""),
        ({"username": "nobody"}, False, ""),  # the imaginary credential's options get a token too
        ({}, False, ""),
        ({"mediation": "conditional"}, False, "conditional"),
    ],
    ids=["bound", "unknown-account", "discoverable", "autofill"],
)
def test_authentication_start_hands_the_page_its_client_token(browser, alice, demo_api, start, bound, mediation):
    browser.get("/demo/")
    started = browser.post_json("/demo/api/authentications/start", start)
    assert started.status == 200, started.text
    assert set(started.json()) == {"public_key", "client_token"}
    assert report(browser, started.json()["client_token"], "no_credential") == 202
    user_id = str(alice.user_id) if bound else ""
    assert reported(demo_api.tenant) == [(EventType.AUTHENTICATION_CLIENT_OUTCOME, user_id, mediation, "no_credential")]


def test_automatic_upgrade_offer_carries_its_client_token(browser, alice, demo_api):
    assert_redirect(browser.sign_in("alice", conditional_create="true"), "/demo/account/")
    offer = upgrade_offer_on(browser.get("/demo/account/"))
    assert set(offer) == {"public_key", "client_token"}
    assert report(browser, offer["client_token"], "aborted") == 202
    assert reported(demo_api.tenant) == [
        (EventType.REGISTRATION_CLIENT_OUTCOME, str(alice.user_id), "conditional", "aborted")
    ]


def test_a_client_token_is_not_an_api_key(browser, alice):
    """The page holds the token: it reports and does nothing else at the service."""
    assert_redirect(browser.sign_in("alice"), "/demo/account/")
    token = browser.post_json("/demo/api/registrations/start").json()["client_token"]
    request = urllib.request.Request(  # noqa: S310 (the live server)
        f"{browser.base_url}/v1/users/{alice.user_id}/credentials", headers={"Authorization": f"Bearer {token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert refused.value.code == 401
