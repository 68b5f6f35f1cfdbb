"""The demo's login decision (POST /demo/api/login-decision), against the live server: it asks the service's
POST /v1/login-decisions about the user who last signed in on this browser (a cookie the site signs) and about
nobody else, so that an anonymous visitor learns nothing of an account they name; it hands the page the decision's
start and client token, which the usual finish completes and the browser reports with."""

from __future__ import annotations

from copy import copy

import pytest

from analytics.models import Event, EventType
from demo.remembered import REMEMBERED_COOKIE
from tests.demo.test_demo_client_tokens import report
from tests.demo.test_demo_site import DemoBrowser, assert_error, assert_redirect, demo_user
from tests.support.authenticator import SoftAuthenticator

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's threads need committed rows

PATH = "/demo/api/login-decision"
# What the page sends from a browser with passkey autofill and a platform authenticator.
CAN_DO_PASSKEYS = {"capabilities": {"conditionalGet": True}, "platform_authenticator_available": True}


def decision(visitor: DemoBrowser, body: dict | None = None) -> dict:
    page = visitor.post_json(PATH, CAN_DO_PASSKEYS if body is None else body)
    assert page.status == 200, page.text
    return page.json()


def last_decided() -> Event:
    return Event.objects.filter(type=EventType.LOGIN_DECIDED).latest("pk")


def signed_out(visitor: DemoBrowser) -> DemoBrowser:
    assert_redirect(visitor.post_form("/demo/signout/", {}, follow=False), "/demo/")
    visitor.get("/demo/")
    return visitor


@pytest.fixture
def alice(browser, authenticator):
    """Alice signed up in `browser`, made a passkey there (`authenticator`) and signed out: she is remembered."""
    assert_redirect(browser.sign_up("alice", display_name="Alice Liddell"), "/demo/account/")
    credential = browser.create_passkey(authenticator)
    signed_out(browser)
    return demo_user("alice"), credential


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator()


@pytest.fixture
def browser(live_server, demo_api) -> DemoBrowser:
    return DemoBrowser(live_server.url)


def test_a_browser_nobody_signed_in_on_is_asked_about_anonymously(browser):
    browser.get("/demo/")
    answer = decision(browser)
    assert (answer["decision"], answer["reason"], answer["user"]) == (
        "passkey_autofill",
        "conditional_ui_available",
        None,
    )
    assert answer["client_token"] and "allowCredentials" not in answer["public_key"]  # a conditional start
    decided = last_decided()
    assert (decided.user_id, decided.method, decided.code, decided.os_family) == (
        "",
        "passkey_autofill",
        "conditional_ui_available",
        "Mac OS X",  # the browser's User-Agent, passed on
    )
    without = decision(browser, {"capabilities": {}, "platform_authenticator_available": False})
    assert (without["decision"], without["reason"], without["public_key"]) == ("password", "webauthn_unavailable", None)


def test_the_browser_a_user_signed_in_on_is_asked_about_that_user_and_signs_in_with_one_tap(
    browser, alice, authenticator
):
    user, credential = alice
    answer = decision(browser, {**CAN_DO_PASSKEYS, "device_credential_ids": [credential["id"]]})
    assert (answer["decision"], answer["reason"], answer["user"]) == (
        "passkey",
        "remembered_on_device",
        {"name": "Alice Liddell"},
    )
    assert [c["id"] for c in answer["public_key"]["allowCredentials"]] == [credential["id"]]
    assert (last_decided().user_id, last_decided().code) == (str(user.user_id), "remembered_on_device")

    # The page runs the decision's start and finishes as for any passkey sign-in.
    assertion = authenticator.get(answer["public_key"], origin=browser.origin)
    page = browser.post_json("/demo/api/authentications/finish", {"credential": assertion})
    assert (page.status, page.json()) == (200, {"redirect": "/demo/account/"})
    assert "You signed in with a <strong>passkey</strong>" in browser.get("/demo/account/").text
    started = Event.objects.filter(type=EventType.AUTHENTICATION_STARTED).latest("pk")
    assert started.user_id == str(user.user_id)  # the decision's start, bound to Alice, is the one that finished
    assert Event.objects.get(type=EventType.AUTHENTICATION_SUCCEEDED).ceremony_ref == started.ceremony_ref


def test_a_visitor_cannot_ask_about_an_account_they_name(alice, new_visitor):
    user, credential = alice
    visitor = new_visitor()
    visitor.get("/demo/")
    named = {"username": "alice", "user_id": str(user.user_id), "device_credential_ids": [credential["id"]]}
    body = {**CAN_DO_PASSKEYS, **named}
    answer = decision(visitor, body)
    assert (answer["decision"], answer["user"]) == ("passkey_autofill", None)
    assert last_decided().user_id == ""


def test_a_remembered_user_cookie_that_was_not_signed_here_is_ignored_and_dropped(alice, browser, new_visitor):
    user, _ = alice
    mallory = new_visitor()
    mallory.sign_up("mallory")
    signed_out(mallory)
    [cookie] = [c for c in mallory.jar if c.name == REMEMBERED_COOKIE]
    forged = copy(cookie)
    forged.value = cookie.value.replace(str(demo_user("mallory").user_id), str(user.user_id))
    assert forged.value != cookie.value
    mallory.jar.set_cookie(forged)
    answer = decision(mallory)
    assert (answer["decision"], answer["user"]) == ("passkey_autofill", None)
    assert mallory.cookie(REMEMBERED_COOKIE) is None  # the site asked the browser to drop it
    assert last_decided().user_id == ""


def test_a_remembered_account_that_is_gone_is_anonymous(alice, browser):
    user, _ = alice
    user.delete()
    answer = decision(browser)
    assert (answer["decision"], answer["user"]) == ("passkey_autofill", None)
    assert browser.cookie(REMEMBERED_COOKIE) is None


def test_use_another_account_forgets_the_remembered_user(alice, browser):
    assert decision(browser)["user"] == {"name": "Alice Liddell"}
    assert browser.delete(PATH).status == 204
    assert browser.cookie(REMEMBERED_COOKIE) is None
    assert decision(browser)["user"] is None


def test_every_sign_in_remembers_the_user_in_a_signed_http_only_cookie(alice, new_visitor, authenticator):
    user, _ = alice
    for how in ("password", "passkey"):
        visitor = new_visitor()
        if how == "password":
            page = visitor.sign_in("alice")
        else:
            _, page = visitor.passkey_sign_in(authenticator)
        [set_cookie] = [h for h in page.headers.get_all("Set-Cookie") if h.startswith(f"{REMEMBERED_COOKIE}=")]
        assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
        assert "Path=/demo/" in set_cookie and "Max-Age=7776000" in set_cookie  # 90 days
        assert "alice" not in visitor.cookie(REMEMBERED_COOKIE)  # the opaque id, signed
        assert decision(signed_out(visitor))["user"] == {"name": "Alice Liddell"}


def test_three_failures_reported_here_lead_with_the_password_until_a_passkey_sign_in(browser, alice, authenticator):
    """The decision's client token names Alice's ceremony, so the browser's reports count against leading her to
    the passkey on this platform; a passkey sign-in whose finish carries this browser's User-Agent clears them."""
    user, _ = alice
    for _ in range(3):
        answer = decision(browser)
        assert answer["decision"] == "passkey"
        assert report(browser, answer["client_token"], "cancelled") == 202
    answer = decision(browser)
    assert (answer["decision"], answer["reason"], answer["public_key"]) == ("password", "recent_failures", None)
    failures = Event.objects.filter(type=EventType.AUTHENTICATION_CLIENT_OUTCOME, user_id=str(user.user_id))
    assert failures.count() == 3

    _, page = browser.passkey_sign_in(authenticator, username="alice")  # the passkey button, still on the page
    assert page.status == 200, page.text
    assert Event.objects.get(type=EventType.AUTHENTICATION_SUCCEEDED).os_family == "Mac OS X"  # this browser's
    answer = decision(signed_out(browser))
    assert (answer["decision"], answer["reason"]) == ("passkey", "usable_on_platform")


def test_a_capability_the_service_does_not_know_is_refused_as_the_service_refuses_it(browser):
    browser.get("/demo/")
    assert_error(browser.post_json(PATH, {"capabilities": {"teleport": True}}), 400, "validation_error")


def test_login_decisions_answer_429_past_the_per_ip_limit(browser, settings):
    settings.DEMO_PASSKEY_RATE_LIMIT_PER_IP = 2
    browser.get("/demo/")
    for _ in range(2):
        decision(browser)
    assert_error(browser.post_json(PATH, CAN_DO_PASSKEYS), 429, "rate_limited")
    assert Event.objects.filter(type=EventType.LOGIN_DECIDED).count() == 2


def test_login_decision_without_the_csrf_token_is_refused(browser):
    browser.get("/demo/")
    assert browser.post_json(PATH, CAN_DO_PASSKEYS, csrf=False).status == 403
    assert not Event.objects.exists()


@pytest.fixture
def new_visitor(live_server, demo_api):
    return lambda: DemoBrowser(live_server.url)
