"""The demo's sign-in page leads with the service's login decision (POST /v1/login-decisions), in headless Chromium
with its virtual authenticator: the user who last signed in on this browser gets a one-tap "Continue with your
passkey" and signs in with it; once the passkey is gone from the device and three taps have failed here, the page
leads with the password form. The page shows the decision in #signin's data attributes; the service's
`login.decided` events show it was the service that decided."""

from __future__ import annotations

import pytest

from analytics.models import Event, EventType
from demo.models import DemoUser
from tests.support.browser import screenshot
from tests.support.conditional_create import WITHOUT_CONDITIONAL_CREATE
from tests.support.demo_site import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's threads need committed rows

REMEMBERED = """
const done = arguments[arguments.length - 1];
import("/static/passkeys/passkeys.js").then((passkeys) => done(passkeys.rememberedCredentialIds()));
"""


def decided(site) -> tuple[str, str]:
    """The decision the sign-in page leads with, and its reason, once the page has one."""
    site.wait_until(lambda d: site.find("#signin").get_attribute("data-decision"), "the login decision")
    section = site.find("#signin")
    return section.get_attribute("data-decision"), section.get_attribute("data-reason")


def decisions(demo, user: DemoUser) -> list[tuple[str, str]]:
    """The service's login decisions for the user, in order: (decision, reason)."""
    events = Event.objects.filter(tenant=demo.tenant, type=EventType.LOGIN_DECIDED, user_id=str(user.user_id))
    return list(events.order_by("pk").values_list("method", "code"))


def sign_in_reports(demo, user: DemoUser):
    return Event.objects.filter(
        tenant=demo.tenant, type=EventType.AUTHENTICATION_CLIENT_OUTCOME, user_id=str(user.user_id)
    ).order_by("pk")


@pytest.fixture
def passkey_here(demo, virtual_authenticator) -> tuple[DemoUser, dict]:
    """Ada signed up with a password, made a passkey on this device's authenticator, and signed out: the browser
    is on the sign-in page. No silent creation is offered, so the passkey is the one she made."""
    demo.site.emulate(WITHOUT_CONDITIONAL_CREATE)
    demo.site.sign_up("ada", PASSWORD, display_name="Ada Lovelace")
    demo.site.create_passkey_on_settings()
    demo.site.sign_out()
    demo.site.wait_for_path("/demo/")
    ada = DemoUser.objects.get(username="ada")
    [credential] = demo.credentials(ada)
    return ada, credential


def test_a_user_with_a_passkey_on_this_device_gets_the_one_tap_and_signs_in(demo, passkey_here, browser):
    ada, credential = passkey_here
    site = demo.site
    site.open("/demo/")
    assert decided(site) == ("passkey", "remembered_on_device")  # the library remembered the passkey it made
    one_tap = site.find("#passkey-continue")
    assert one_tap.is_displayed() and site.text("#welcome-back") == "Welcome back, Ada Lovelace"
    assert one_tap.location["y"] < site.find("#username").location["y"]  # it leads; the form follows
    assert not site.find("#signin-intro").is_displayed()
    screenshot(browser, "demo-sign-in-passkey-lead")

    # A browser that forgot the ids it used is still led to the passkey: it is usable on this platform.
    browser.execute_script("localStorage.clear()")
    site.open("/demo/")
    assert decided(site) == ("passkey", "usable_on_platform")
    assert decisions(demo, ada)[-2:] == [("passkey", "remembered_on_device"), ("passkey", "usable_on_platform")]
    start = Event.objects.filter(tenant=demo.tenant, type=EventType.AUTHENTICATION_STARTED).latest("pk")
    assert start.user_id == str(ada.user_id)  # the decision's start, bound to Ada

    site.find("#passkey-continue").click()
    site.wait_for_path("/demo/account/")
    assert "You signed in with a passkey." in site.text("#signed-in-with")
    assert f'"sub": "{ada.user_id}"' in site.text("#token-claims")
    # One tap ran the decision's start: no other was made, and the browser's report names that ceremony.
    assert Event.objects.filter(tenant=demo.tenant, type=EventType.AUTHENTICATION_STARTED).latest("pk") == start
    site.wait_until(lambda d: sign_in_reports(demo, ada).exists(), "the browser's report")
    [report] = sign_in_reports(demo, ada)
    assert (report.outcome, report.ceremony_ref) == ("succeeded", start.ceremony_ref)
    succeeded = Event.objects.get(tenant=demo.tenant, type=EventType.AUTHENTICATION_SUCCEEDED)
    assert (succeeded.user_id, succeeded.os_family) == (str(ada.user_id), report.os_family)
    assert browser.execute_async_script(REMEMBERED) == [credential["id"]]  # remembered again for the next visit


def test_after_three_failed_taps_on_this_device_the_page_leads_with_the_password(
    demo, passkey_here, virtual_authenticator, browser
):
    ada, credential = passkey_here
    site = demo.site
    assert decided(site) == ("passkey", "remembered_on_device")
    virtual_authenticator.remove(credential["id"])  # gone from this device; the site still has it

    for failures in (1, 2, 3):
        # The first tap runs the page's decision; each later one asks the service again, which still says passkey.
        site.wait_until(lambda d: site.find("#passkey-continue").is_enabled(), "the one-tap button")
        site.find("#passkey-continue").click()
        site.wait_until(lambda d, n=failures: sign_in_reports(demo, ada).count() == n, f"failed tap {failures}")
        assert site.wait_for_message("cancelled") == "The passkey request was cancelled."
    assert [(r.outcome, r.error_name) for r in sign_in_reports(demo, ada)] == [("cancelled", "NotAllowedError")] * 3
    assert site.path == "/demo/"

    site.open("/demo/")
    assert decided(site) == ("password", "recent_failures")
    assert not site.find("#passkey-lead").is_displayed()
    assert site.find("#username").is_displayed() and site.find("#password-signin").is_displayed()
    assert site.text("#decision-note") == (
        "Welcome back, Ada Lovelace. Your passkey has not worked on this device lately: sign in with your password."
    )
    screenshot(browser, "demo-sign-in-password-lead")
    assert decisions(demo, ada) == [("passkey", "remembered_on_device")] * 3 + [("password", "recent_failures")]
    assert not Event.objects.filter(tenant=demo.tenant, type=EventType.AUTHENTICATION_FAILED).exists()

    site.sign_in_with_password("ada", PASSWORD)  # the password it leads with signs her in
    assert "You signed in with your password." in site.text("#signed-in-with")
