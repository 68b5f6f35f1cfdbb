"""The demo relying party end to end: a cookie-jar browser drives /demo/ on the live server, whose
server side calls the service's /v1 API over real HTTP; SoftAuthenticator plays the passkey provider.
What the pages and JSON say is checked against what was stored: DemoUser rows, the service's /v1
API (a PasskeyApi of the same tenant) and its analytics rows."""

from __future__ import annotations

import html
import http.cookiejar
import importlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from email.message import Message
from types import SimpleNamespace

import pytest
from django.contrib.auth.hashers import check_password
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client, override_settings
from django.urls import clear_url_caches

import passkey_service.urls
from analytics.models import Event, EventType, Nudge
from demo.models import DemoUser
from demo.services import demo_user_create
from passkeys.models import PasskeyUser
from tests.support.api import PasskeyApi
from tests.support.authenticator import SoftAuthenticator

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's threads need committed rows

PASSWORD = "correct horse battery staple"
USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15"
APPLE_PASSWORDS = uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd").bytes
CLOSED_PORT_URL = "http://127.0.0.1:6390"


# --- a browser without JavaScript: cookies, forms, and the fetch() calls demo.js makes ---


@dataclass
class Page:
    status: int
    headers: Message
    text: str

    def json(self) -> dict:
        return json.loads(self.text)


class _StayOnRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # urllib then raises the 3xx as an HTTPError, which becomes a Page below


class DemoBrowser:
    """One visitor: a cookie jar shared by an opener that follows redirects (pages) and one that stops."""

    def __init__(self, base_url: str) -> None:
        self.base_url = self.origin = base_url
        self.jar = http.cookiejar.CookieJar()
        cookies = urllib.request.HTTPCookieProcessor(self.jar)
        self._following = urllib.request.build_opener(cookies)
        self._staying = urllib.request.build_opener(cookies, _StayOnRedirects())
        for opener in (self._following, self._staying):
            opener.addheaders = [("User-Agent", USER_AGENT)]

    def cookie(self, name: str) -> str | None:
        return next((cookie.value for cookie in self.jar if cookie.name == name), None)

    def csrf_token(self) -> str:
        token = self.cookie("csrftoken")
        assert token, "GET a page first: its {% csrf_token %} sets the cookie"
        return token

    def request(self, method: str, path: str, *, data=None, headers=None, follow: bool = True) -> Page:
        url = self.base_url + path  # always the live server's http://localhost:PORT
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
        try:
            with (self._following if follow else self._staying).open(request, timeout=30) as response:
                return Page(response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as error:  # 4xx, 5xx, and 3xx when not following
            return Page(error.code, error.headers, error.read().decode())

    def get(self, path: str, *, follow: bool = True) -> Page:
        return self.request("GET", path, follow=follow)

    def post_form(self, path: str, fields: dict, *, csrf: bool = True, follow: bool = True) -> Page:
        if csrf:
            fields = {"csrfmiddlewaretoken": self.csrf_token(), **fields}
        data = urllib.parse.urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.request("POST", path, data=data, headers=headers, follow=follow)

    def call(self, method: str, path: str, body: dict | None = None, *, csrf: bool = True) -> Page:
        headers = {"Content-Type": "application/json"}
        if csrf:
            headers["X-CSRFToken"] = self.csrf_token()
        data = b"" if body is None else json.dumps(body).encode()
        return self.request(method, path, data=data, headers=headers)

    def post_json(self, path: str, body: dict | None = None, *, csrf: bool = True) -> Page:
        return self.call("POST", path, body, csrf=csrf)

    def patch_json(self, path: str, body: dict) -> Page:
        return self.call("PATCH", path, body)

    def delete(self, path: str) -> Page:
        return self.call("DELETE", path)

    # --- what a person does on the demo's pages ---

    # platform and conditional_create: what demo.js puts in the hidden fields ("true", "false", "" for unknown).
    def sign_up(
        self,
        username: str,
        *,
        password: str = PASSWORD,
        display_name: str = "",
        platform: str = "true",
        conditional_create: str = "",
    ) -> Page:
        self.get("/demo/signup/")
        fields = {"username": username, "password": password, "display_name": display_name}
        capabilities = {"platform_authenticator": platform, "conditional_create": conditional_create}
        return self.post_form("/demo/signup/", {**fields, **capabilities}, follow=False)

    def sign_in(
        self, username: str, password: str = PASSWORD, *, platform: str = "true", conditional_create: str = ""
    ) -> Page:
        self.get("/demo/")
        fields = {"username": username, "password": password}
        capabilities = {"platform_authenticator": platform, "conditional_create": conditional_create}
        return self.post_form("/demo/", {**fields, **capabilities}, follow=False)

    def create_passkey(self, authenticator: SoftAuthenticator) -> dict:
        started = self.post_json("/demo/api/registrations/start")
        assert started.status == 200, started.text
        credential = authenticator.create(started.json()["public_key"], origin=self.origin)
        finished = self.post_json("/demo/api/registrations/finish", {"credential": credential})
        assert finished.status == 201, finished.text
        return finished.json()["credential"]

    def passkey_sign_in(self, authenticator: SoftAuthenticator, **start) -> tuple[dict, Page]:
        self.get("/demo/")
        started = self.post_json("/demo/api/authentications/start", start)
        assert started.status == 200, started.text
        options = started.json()["public_key"]
        assertion = authenticator.get(options, origin=self.origin)
        return options, self.post_json("/demo/api/authentications/finish", {"credential": assertion})


# --- fixtures and checks ---


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
def alice(browser, authenticator):
    """Alice signed up in `browser` and created a passkey there with `authenticator`."""
    assert browser.sign_up("alice", display_name="Alice").status == 302
    return SimpleNamespace(credential=browser.create_passkey(authenticator), user=demo_user("alice"))


def demo_user(username: str) -> DemoUser:
    return DemoUser.objects.get(username=username)


def service_credentials(api: PasskeyApi, user: DemoUser) -> dict:
    response = api.get(f"/v1/users/{user.user_id}/credentials")
    assert response.status_code == 200, response.content
    return response.json()


def assert_error(page: Page, status: int, code: str) -> dict:
    assert page.status == status, page.text
    body = page.json()
    assert body["code"] == code and body["detail"], body
    return body


def assert_redirect(page: Page, location: str) -> None:
    assert (page.status, page.headers["Location"]) == (302, location), page.text


def assert_signed_out(browser: DemoBrowser) -> None:
    assert_redirect(browser.get("/demo/account/", follow=False), "/demo/")


def nudge_id_on(page: Page) -> str:
    return re.search(r'id="nudge" data-nudge-id="([0-9a-f-]{36})"', page.text).group(1)


# --- the site's own accounts ---


def test_sign_up_stores_a_hashed_password_and_signs_in(browser):
    assert_redirect(browser.sign_up("Alice", display_name="Alice Liddell"), "/demo/account/")
    user = demo_user("alice")
    assert PASSWORD not in user.password and check_password(PASSWORD, user.password)
    assert user.display_name == "Alice Liddell"
    account = browser.get("/demo/account/")
    assert account.status == 200 and "Welcome, Alice Liddell" in account.text


def test_sign_up_refuses_a_username_taken_in_another_case(browser):
    demo_user_create(username="alice", password=PASSWORD)
    page = browser.sign_up("ALICE")
    assert page.status == 400 and "That username is taken." in page.text
    assert list(DemoUser.objects.values_list("username", flat=True)) == ["alice"]
    assert_signed_out(browser)


def test_sign_up_refuses_a_too_short_password(browser):
    page = browser.sign_up("alice", password="short")
    assert page.status == 400 and "This password is too short." in page.text
    assert not DemoUser.objects.exists()
    assert_signed_out(browser)


def test_password_sign_in_refuses_a_wrong_password(browser):
    demo_user_create(username="alice", password=PASSWORD)
    page = browser.sign_in("alice", "not the password")
    assert page.status == 400 and "Wrong username or password." in page.text
    assert_signed_out(browser)
    assert not Event.objects.exists()  # nothing reported to the service


@pytest.mark.parametrize(("platform", "nudged"), [("true", True), ("false", False)])
def test_password_sign_in_reaches_the_account_and_is_reported_to_the_service(browser, platform, nudged):
    user = demo_user_create(username="alice", password=PASSWORD)
    assert_redirect(browser.sign_in("Alice", platform=platform), "/demo/account/")
    account = browser.get("/demo/account/")
    assert account.status == 200 and "You signed in with your <strong>password</strong>" in account.text
    sign_in = Event.objects.get(type=EventType.SIGN_IN)
    assert (sign_in.user_id, sign_in.method, sign_in.os_family) == (str(user.user_id), "password", "Mac OS X")
    # The service nudges only when the page found a platform authenticator (the hidden field).
    assert Nudge.objects.filter(user_id=str(user.user_id)).exists() is nudged
    assert ('id="nudge"' in account.text) is nudged


def test_nudge_card_records_shown_and_dismissed_at_the_service(browser):
    user = demo_user_create(username="alice", password=PASSWORD)
    browser.sign_in("alice")
    nudge_id = nudge_id_on(browser.get("/demo/account/"))
    assert Nudge.objects.get(pk=nudge_id).user_id == str(user.user_id)
    for outcome in ("shown", "dismissed"):
        page = browser.post_json(f"/demo/api/nudges/{nudge_id}/outcome", {"outcome": outcome})
        assert (page.status, page.json()) == (200, {"outcome": outcome})
        assert Nudge.objects.get(pk=nudge_id).outcome == outcome
    recorded = Event.objects.filter(nudge_id=nudge_id).values_list("type", flat=True)
    assert {EventType.NUDGE_SHOWN, EventType.NUDGE_DISMISSED} <= set(recorded)
    assert 'id="nudge"' not in browser.get("/demo/account/").text  # answered: not shown again


def test_nudge_outcome_refuses_another_sessions_nudge_and_unknown_outcomes(new_browser):
    alice, bob = new_browser(), new_browser()
    for name, browser in (("alice", alice), ("bob", bob)):
        demo_user_create(username=name, password=PASSWORD)
        browser.sign_in(name)
    alice_nudge, bob_nudge = (nudge_id_on(browser.get("/demo/account/")) for browser in (alice, bob))
    page = alice.post_json(f"/demo/api/nudges/{bob_nudge}/outcome", {"outcome": "dismissed"})
    assert_error(page, 404, "not_found")
    assert_error(
        alice.post_json(f"/demo/api/nudges/{alice_nudge}/outcome", {"outcome": "ignored"}), 400, "validation_error"
    )
    assert list(Nudge.objects.values_list("outcome", flat=True)) == ["", ""]


# --- passkeys, through the service ---


def test_registration_stores_the_credential_under_the_demo_user_id(browser, authenticator, demo_api):
    browser.sign_up("alice")
    user = demo_user("alice")
    credential = browser.create_passkey(authenticator)
    assert credential["user_id"] == str(user.user_id)
    [stored] = service_credentials(demo_api, user)["credentials"]
    assert (stored["id"], stored["provider_name"]) == (credential["id"], "Apple Passwords")
    assert list(PasskeyUser.objects.values_list("user_id", flat=True)) == [str(user.user_id)]  # never "alice"
    assert demo_api.patch(f"/v1/credentials/{credential['id']}", {"name": "Work laptop"}).status_code == 200
    listing = browser.get("/demo/settings/").text
    assert f'data-credential-id="{credential["id"]}"' in listing
    assert '<div class="passkey-name">Work laptop</div>' in listing
    assert '<span class="provider">Apple Passwords</span>' in listing


@pytest.mark.parametrize(
    ("start", "bound"),
    [({"username": "ALICE"}, True), ({}, False), ({"username": "alice", "mediation": "conditional"}, False)],
    ids=["username", "discoverable", "conditional"],
)
def test_passkey_sign_in_starts_a_session_from_the_verified_token(
    alice, new_browser, authenticator, demo_api, start, bound
):
    visitor = new_browser()
    options, page = visitor.passkey_sign_in(authenticator, **start)
    allowed = [descriptor["id"] for descriptor in options.get("allowCredentials") or []]
    assert allowed == ([alice.credential["id"]] if bound else [])
    assert Event.objects.get(type=EventType.AUTHENTICATION_STARTED).user_id == (str(alice.user.user_id) * bound)
    assert (page.status, page.json()) == (200, {"redirect": "/demo/account/"})
    account = visitor.get("/demo/account/").text
    assert "You signed in with a <strong>passkey</strong>" in account
    claims = json.loads(html.unescape(re.search(r'<pre id="token-claims">(.*?)</pre>', account, re.S).group(1)))
    assert (claims["sub"], claims["amr"], claims["aud"]) == (str(alice.user.user_id), ["passkey"], "localhost")
    [stored] = service_credentials(demo_api, alice.user)["credentials"]
    assert stored["sign_count"] == alice.credential["sign_count"] + 1 and stored["last_used_at"]


def test_passkey_sign_in_refuses_a_token_for_another_audience(alice, new_browser, authenticator, settings):
    settings.DEMO_RP_ID = "shop.example"
    visitor = new_browser()
    _, page = visitor.passkey_sign_in(authenticator)
    assert_error(page, 400, "token_invalid")
    assert Event.objects.filter(type=EventType.AUTHENTICATION_SUCCEEDED).exists()  # the service said yes
    assert_signed_out(visitor)


def settings_signals(browser: DemoBrowser) -> dict:
    """What the settings page hands the browser's Signal API (its json_script element)."""
    page = browser.get("/demo/settings/")
    assert page.status == 200, page.text
    found = re.search(r'<script id="account-signals" type="application/json">(.*?)</script>', page.text, re.S)
    assert found, "the settings page embeds no signals"
    return json.loads(found.group(1))


def test_deleted_passkey_sign_in_answers_credential_not_found(alice, browser, new_browser, authenticator, demo_api):
    assert browser.delete(f"/demo/api/passkeys/{alice.credential['id']}").status == 204
    assert settings_signals(browser)["allAcceptedCredentialIds"] == []
    assert service_credentials(demo_api, alice.user)["credentials"] == []
    visitor = new_browser()
    _, page = visitor.passkey_sign_in(authenticator)  # the authenticator still offers it
    assert_error(page, 400, "credential_not_found")  # demo.js then calls signalUnknownCredential
    assert_signed_out(visitor)


def test_passkey_of_another_user_cannot_be_renamed_or_deleted(alice, new_browser, demo_api):
    bob = new_browser()
    bob.sign_up("bob")
    path = f"/demo/api/passkeys/{alice.credential['id']}"
    assert_error(bob.patch_json(path, {"name": "Mine now"}), 404, "not_found")
    assert_error(bob.delete(path), 404, "not_found")
    [stored] = service_credentials(demo_api, alice.user)["credentials"]
    assert (stored["id"], stored["name"]) == (alice.credential["id"], alice.credential["name"])


def test_passkey_rename_renames_at_the_service_and_the_settings_page_signals(alice, browser, demo_api):
    page = browser.patch_json(f"/demo/api/passkeys/{alice.credential['id']}", {"name": "Work laptop"})
    assert page.status == 204, page.text
    listed = service_credentials(demo_api, alice.user)
    [stored] = listed["credentials"]
    assert stored["name"] == "Work laptop"
    assert settings_signals(browser) == {
        "rpId": "localhost",
        "userId": stored["user_handle"],
        "allAcceptedCredentialIds": [alice.credential["id"]],
        "name": "alice",
        "displayName": "Alice",
    }
    assert stored["user_handle"] == listed["user_handle"]


@pytest.mark.parametrize("name", ["", " ", "x" * 201])
def test_passkey_rename_refuses_an_empty_or_too_long_name(alice, browser, demo_api, name):
    assert_error(
        browser.patch_json(f"/demo/api/passkeys/{alice.credential['id']}", {"name": name}), 400, "validation_error"
    )
    assert service_credentials(demo_api, alice.user)["credentials"][0]["name"] == alice.credential["name"]


def test_passkey_delete_leaves_the_deleted_id_out_of_the_signals(alice, browser, demo_api):
    second = browser.create_passkey(SoftAuthenticator())  # another device
    page = browser.delete(f"/demo/api/passkeys/{alice.credential['id']}")
    assert page.status == 204, page.text
    listed = service_credentials(demo_api, alice.user)
    assert [c["id"] for c in listed["credentials"]] == [second["id"]]
    signals = settings_signals(browser)
    assert (signals["userId"], signals["allAcceptedCredentialIds"]) == (second["user_handle"], [second["id"]])


def test_profile_update_changes_the_display_name_in_the_signals(alice, browser, demo_api):
    page = browser.post_json("/demo/api/profile", {"display_name": "Alice Liddell"})
    assert page.status == 204, page.text
    assert demo_user("alice").display_name == "Alice Liddell"
    listed = service_credentials(demo_api, alice.user)
    assert settings_signals(browser) == {
        "rpId": "localhost",
        "userId": listed["credentials"][0]["user_handle"],
        "allAcceptedCredentialIds": [alice.credential["id"]],
        "name": "alice",
        "displayName": "Alice Liddell",
    }


# --- sessions, CSRF, configuration ---


def test_user_endpoints_answer_401_without_a_session(browser):
    browser.get("/demo/")
    for method, path in [
        ("POST", "registrations/start"),
        ("POST", "registrations/finish"),
        ("POST", "automatic-upgrade"),
        ("PATCH", "passkeys/AAAA"),
        ("DELETE", "passkeys/AAAA"),
        ("POST", "profile"),
        ("POST", f"nudges/{uuid.uuid4()}/outcome"),
    ]:
        assert_error(browser.call(method, f"/demo/api/{path}", {}), 401, "not_signed_in")
    assert not Event.objects.exists()  # nothing reached the service


def test_posts_without_the_csrf_token_are_refused(browser):
    browser.get("/demo/signup/")
    fields = {"username": "mallory", "password": PASSWORD}
    assert browser.post_form("/demo/signup/", fields, csrf=False).status == 403
    assert not DemoUser.objects.exists()
    browser.sign_up("alice", display_name="Alice")
    assert browser.post_json("/demo/api/profile", {"display_name": "Mallory"}, csrf=False).status == 403
    assert demo_user("alice").display_name == "Alice"


def test_sign_out_removes_the_sessions_demo_user(browser):
    browser.sign_up("alice")
    session = browser.cookie("sessionid")
    assert SessionStore(session).load()["demo_user"] == demo_user("alice").pk
    assert_redirect(browser.post_form("/demo/signout/", {}, follow=False), "/demo/")
    assert "demo_user" not in SessionStore(browser.cookie("sessionid")).load()
    assert_signed_out(browser)


def test_demo_uses_the_requests_address_only_in_development(browser, settings):
    settings.DEMO_API_URL = ""
    page = browser.get("/demo/")  # tests run with DEBUG off, as production does
    assert page.status == 503 and "DEMO_API_URL" in page.text
    settings.DEBUG = True
    assert browser.sign_up("alice").status == 302
    assert browser.post_json("/demo/api/registrations/start").status == 200  # reached /v1 at the Host it was sent


def test_demo_without_api_key_answers_503(browser, settings):
    settings.DEMO_API_KEY = ""
    page = browser.get("/demo/")
    assert page.status == 503 and "The demo needs its API key" in page.text
    for path in ("authentications/start", "registrations/start", "profile"):
        assert_error(browser.post_json(f"/demo/api/{path}", {}), 503, "demo_not_configured")
    assert browser.sign_up("alice").status == 503
    assert not DemoUser.objects.exists()


def test_unreachable_service_lets_passwords_in_and_answers_ceremonies_502(browser, settings):
    user = demo_user_create(username="alice", password=PASSWORD)
    settings.DEMO_API_URL = CLOSED_PORT_URL
    assert_redirect(browser.sign_in("alice"), "/demo/account/")
    assert "your <strong>password</strong>" in browser.get("/demo/account/").text
    assert_error(browser.post_json("/demo/api/registrations/start"), 502, "service_unreachable")
    assert not Event.objects.filter(user_id=str(user.user_id)).exists()  # the report went nowhere


def test_demo_disabled_has_no_routes():
    assert Client().get("/demo/").status_code != 404  # mounted as configured for the suite
    try:
        with override_settings(DEMO_ENABLED=False):
            importlib.reload(passkey_service.urls)
            clear_url_caches()
            for path in ("/demo/", "/demo/signup/", "/demo/account/", "/demo/api/authentications/start"):
                assert Client().get(path).status_code == 404, path
    finally:
        importlib.reload(passkey_service.urls)  # back to the suite's URLconf for the tests after this one
        clear_url_caches()
    assert Client().get("/demo/").status_code != 404
