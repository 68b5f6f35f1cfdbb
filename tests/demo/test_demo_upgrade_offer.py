"""Automatic passkey upgrades in the demo relying party: after a password sign-in in a browser that can
create passkeys silently (getClientCapabilities().conditionalCreate), the site asks the service, hands
the offered creation options to the account page once, and stores the passkey the browser made for
exactly that offer. The live server and its /v1 API over real HTTP; SoftAuthenticator plays the password
manager's silent create (UP and UV clear, as WebAuthn L3 §7.1 allows for a conditional create)."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.sessions.backends.db import SessionStore

from analytics.models import Event, EventType
from demo.client import PasskeyServiceClient
from demo.models import DemoUser
from demo.services import AUTOMATIC_UPGRADE_NAME, demo_user_create
from tests.demo.test_demo_site import (
    APPLE_PASSWORDS,
    PASSWORD,
    DemoBrowser,
    Page,
    assert_error,
    assert_redirect,
    nudge_id_on,
    service_credentials,
)
from tests.support.authenticator import SoftAuthenticator

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's threads need committed rows


@pytest.fixture
def new_browser(live_server, demo_api):
    return lambda: DemoBrowser(live_server.url)


@pytest.fixture
def browser(new_browser) -> DemoBrowser:
    return new_browser()


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator(aaguid=APPLE_PASSWORDS)


@pytest.fixture
def alice(db) -> DemoUser:
    return demo_user_create(username="alice", password=PASSWORD, display_name="Alice Liddell")


def upgrade_offer_on(page: Page) -> dict | None:
    """The offer the account page hands demo.js (its json_script element), {"public_key", "client_token"}, or None."""
    assert page.status == 200, page.text
    found = re.search(r'<script id="automatic-upgrade" type="application/json">(.*?)</script>', page.text, re.S)
    return json.loads(found.group(1)) if found else None


def upgrade_options_on(page: Page) -> dict | None:
    """The creation options of the account page's offer, or None."""
    offer = upgrade_offer_on(page)
    return offer["public_key"] if offer else None


def offers_made(user: DemoUser) -> int:
    """Conditional registration starts the service recorded for the user: the automatic upgrades it offered."""
    started = Event.objects.filter(type=EventType.REGISTRATION_STARTED, user_id=str(user.user_id))
    return started.filter(mediation="conditional").count()


def offered(browser: DemoBrowser, user: DemoUser) -> dict:
    """Sign in with a browser that can create silently; the options the account page then holds."""
    assert_redirect(browser.sign_in(user.username, conditional_create="true"), "/demo/account/")
    options = upgrade_options_on(browser.get("/demo/account/"))
    assert options is not None, "no automatic upgrade offered"
    return options


def silent_create(authenticator: SoftAuthenticator, options: dict, browser: DemoBrowser) -> dict:
    """What create({publicKey, mediation: "conditional"}) returns: nobody was asked, so UP and UV are clear."""
    return authenticator.create(options, origin=browser.origin, up=False, uv=False)


def post_upgrade(browser: DemoBrowser, credential: dict, *, csrf: bool = True) -> Page:
    """What demo.js does with the silently created passkey."""
    return browser.post_json("/demo/api/automatic-upgrade", {"credential": credential}, csrf=csrf)


# --- the offer: asked for at the password sign-in, handed to the account page once ---


@pytest.mark.parametrize("entry", ["sign_in", "sign_up"])
def test_password_sign_in_passes_the_services_offer_to_the_account_page(browser, alice, entry):
    if entry == "sign_up":
        page = browser.sign_up("bob", display_name="Bob Bobson", conditional_create="true")
        user, display_name = DemoUser.objects.get(username="bob"), "Bob Bobson"
    else:
        page = browser.sign_in("ALICE", conditional_create="true")
        user, display_name = alice, "Alice Liddell"
    assert_redirect(page, "/demo/account/")
    account = browser.get("/demo/account/")
    options = upgrade_options_on(account)
    # The names the service put in the options are the ones the demo sent with the sign-in.
    assert (options["user"]["name"], options["user"]["displayName"]) == (user.username, display_name)
    assert options["rp"]["id"] == "localhost" and options["challenge"]
    assert offers_made(user) == 1
    assert nudge_id_on(account)  # the prompt is decided as before: the page's fallback when the silent create fails


@pytest.mark.parametrize("conditional_create", ["false", ""], ids=["cannot", "unknown"])
def test_no_offer_unless_the_page_found_the_browser_can_create_silently(browser, alice, conditional_create):
    assert_redirect(browser.sign_in("alice", conditional_create=conditional_create), "/demo/account/")
    account = browser.get("/demo/account/")
    assert upgrade_options_on(account) is None
    assert offers_made(alice) == 0
    assert nudge_id_on(account)  # the prompt alone


def test_no_offer_when_the_tenant_turned_automatic_upgrades_off(browser, alice, demo_api):
    demo_api.tenant.automatic_upgrades = False
    demo_api.tenant.save()
    assert_redirect(browser.sign_in("alice", conditional_create="true"), "/demo/account/")
    account = browser.get("/demo/account/")
    assert upgrade_options_on(account) is None and nudge_id_on(account)
    assert offers_made(alice) == 0


def test_account_page_hands_the_offer_out_once(browser, alice):
    offered(browser, alice)
    again = browser.get("/demo/account/")  # a reload must not ask the password manager a second time
    assert upgrade_options_on(again) is None
    assert nudge_id_on(again)
    assert offers_made(alice) == 1


def test_sign_in_record_returns_the_services_whole_answer(live_server, demo_api, alice):
    client = PasskeyServiceClient(base_url=live_server.url, api_key=demo_api.key, tenant_id=str(demo_api.tenant.pk))
    answer = client.sign_in_record(
        user_id=str(alice.user_id),
        method="password",
        platform_authenticator_available=True,
        conditional_create_available=True,
        username="alice",
        display_name="Alice Liddell",
    )
    assert answer["nudge"]["id"] and answer["reason"]
    user = answer["automatic_upgrade"]["public_key"]["user"]
    assert (user["name"], user["displayName"]) == ("alice", "Alice Liddell")


# --- the silent passkey, stored for exactly that offer ---


def test_automatic_upgrade_stores_the_silent_passkey_and_retires_the_prompt(browser, alice, authenticator, demo_api):
    silent = silent_create(authenticator, offered(browser, alice), browser)
    page = post_upgrade(browser, silent)
    assert page.status == 201, page.text
    credential = page.json()["credential"]
    assert (credential["created_via"], credential["name"]) == ("automatic_upgrade", AUTOMATIC_UPGRADE_NAME)
    assert credential["user_id"] == str(alice.user_id)
    [stored] = service_credentials(demo_api, alice)["credentials"]
    assert (stored["id"], stored["created_via"]) == (credential["id"], "automatic_upgrade")
    assert 'id="nudge"' not in browser.get("/demo/account/").text  # nothing left to prompt for
    # The offer is spent: the same passkey posted again never reaches the service.
    assert_error(post_upgrade(browser, silent), 404, "not_found")
    assert len(service_credentials(demo_api, alice)["credentials"]) == 1


def test_automatic_upgrade_refuses_a_session_without_an_offer(browser, alice, authenticator, demo_api):
    assert_redirect(browser.sign_in("alice", conditional_create="false"), "/demo/account/")
    started = browser.post_json("/demo/api/registrations/start")  # an ordinary, prompted registration
    credential = authenticator.create(started.json()["public_key"], origin=browser.origin)
    assert_error(post_upgrade(browser, credential), 404, "not_found")
    assert service_credentials(demo_api, alice)["credentials"] == []


def test_automatic_upgrade_refuses_a_passkey_for_another_challenge(browser, alice, authenticator, demo_api):
    options = offered(browser, alice)
    started = browser.post_json("/demo/api/registrations/start")
    other = authenticator.create(started.json()["public_key"], origin=browser.origin)  # valid, but not the offer's
    assert_error(post_upgrade(browser, other), 400, "validation_error")
    assert service_credentials(demo_api, alice)["credentials"] == []
    # The offer still stands for the passkey that answers it.
    page = post_upgrade(browser, silent_create(authenticator, options, browser))
    assert page.status == 201, page.text


@pytest.mark.parametrize(
    "credential",
    [None, {}, {"response": {}}, {"response": {"clientDataJSON": "%%%"}}, {"response": {"clientDataJSON": "e30"}}],
    ids=["missing", "empty", "no_client_data", "not_base64url", "no_challenge"],
)
def test_automatic_upgrade_refuses_what_is_not_a_registration_response(browser, alice, demo_api, credential):
    offered(browser, alice)
    body = {} if credential is None else {"credential": credential}
    assert_error(browser.post_json("/demo/api/automatic-upgrade", body), 400, "validation_error")
    assert service_credentials(demo_api, alice)["credentials"] == []


def test_automatic_upgrade_without_the_csrf_token_is_refused(browser, alice, authenticator, demo_api):
    silent = silent_create(authenticator, offered(browser, alice), browser)
    assert post_upgrade(browser, silent, csrf=False).status == 403
    assert service_credentials(demo_api, alice)["credentials"] == []


# --- the offer belongs to the session it was made in ---


def test_sign_out_drops_the_offer(browser, alice):
    assert_redirect(browser.sign_in("alice", conditional_create="true"), "/demo/account/")
    assert "demo_automatic_upgrade" in SessionStore(browser.cookie("sessionid")).load()
    assert_redirect(browser.post_form("/demo/signout/", {}, follow=False), "/demo/")
    assert "demo_automatic_upgrade" not in SessionStore(browser.cookie("sessionid")).load()


def test_next_sign_in_in_the_same_browser_drops_the_previous_offer(browser, alice, authenticator, demo_api):
    options = offered(browser, alice)
    assert_redirect(browser.sign_up("bob", conditional_create="false"), "/demo/account/")  # bob, same browser
    assert "demo_automatic_upgrade" not in SessionStore(browser.cookie("sessionid")).load()
    assert_error(post_upgrade(browser, silent_create(authenticator, options, browser)), 404, "not_found")
    assert service_credentials(demo_api, alice)["credentials"] == []
