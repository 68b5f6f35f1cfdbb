"""Automatic passkey upgrades on the demo in headless Chromium: after a password sign-in the account page
asks the browser for a silent passkey (create with mediation "conditional") where it can make one, and
the nudge card is the fallback wherever it does not.

Chromium's virtual authenticator cannot complete a conditional create (it stays pending until the
options' timeout: see tests/support/conditional_create.py), which is the fallback as real browsers take
it; the one test that needs a passkey made silently lets the virtual authenticator stand in for the
password manager, with UP and UV cleared as a silent create reports them."""

from __future__ import annotations

import pytest

from analytics.models import Event, EventType, Nudge
from demo.models import DemoUser
from demo.services import AUTOMATIC_UPGRADE_NAME
from tests.support.browser import console_log, screenshot
from tests.support.conditional_create import (
    PASSWORD_MANAGER_CREATES_SILENTLY,
    RECORD_CONDITIONAL_CREATES,
    WITHOUT_CONDITIONAL_CREATE,
    conditional_creates,
)
from tests.support.demo_site import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's threads need committed rows


def offers_made(demo, user: DemoUser) -> int:
    """Conditional registration starts the service recorded: the automatic upgrades it offered the user."""
    started = Event.objects.filter(tenant=demo.tenant, type=EventType.REGISTRATION_STARTED, user_id=str(user.user_id))
    return started.filter(mediation="conditional").count()


def nudge_outcome(nudge: Nudge) -> str:
    return Nudge.objects.get(pk=nudge.pk).outcome


def console_says(entries: list[dict], *parts: str) -> bool:
    return any(all(part in entry["message"] for part in parts) for entry in entries)


def test_silent_create_left_unanswered_falls_back_to_the_nudge_card(demo, virtual_authenticator, ada, browser):
    site = demo.site
    site.emulate(RECORD_CONDITIONAL_CREATES)
    site.sign_in_with_password("ada", PASSWORD)
    assert offers_made(demo, ada) == 1  # Chromium reports conditionalCreate: the sign-in form said so
    nudge = Nudge.objects.get(tenant=demo.tenant, user_id=str(ada.user_id))

    site.wait_until(lambda d: conditional_creates(d), "the silent create")
    [asked] = conditional_creates(browser)
    assert (asked["state"], asked["userName"]) == ("pending", "ada")
    # While a passkey may still come silently, the card is not counted as shown.
    assert nudge_outcome(nudge) == ""

    # Chromium never answers: the page gives up at its deadline and leaves the user the card.
    site.wait_until(lambda d: conditional_creates(d)[0]["state"] == "rejected", "the page to give up")
    assert conditional_creates(browser)[0]["error"] == "TimeoutError"
    site.wait_until(lambda d: nudge_outcome(nudge) == "shown", "the nudge's shown outcome")
    assert site.find("#nudge").is_displayed()
    assert site.message() == ""  # a silent upgrade that fails says nothing on the page
    entries = console_log(browser)
    assert console_says(entries, "Automatic passkey upgrade", "TimeoutError")
    assert not [entry for entry in entries if entry["level"] == "SEVERE"]
    screenshot(browser, "demo-account-upgrade-fallback")

    site.find("#nudge-accept").click()  # the abandoned request does not stand in the way
    site.wait_for_path("/demo/settings/")
    assert site.wait_for_message("Passkey created.")
    [credential] = demo.credentials(ada)
    assert (credential["created_via"], credential["user_verified"]) == ("ceremony", True)
    site.wait_until(lambda d: nudge_outcome(nudge) == "accepted", "the nudge's acceptance")


def test_nudge_accepted_while_the_silent_create_is_pending_stops_it_first(demo, virtual_authenticator, ada, browser):
    site = demo.site
    site.emulate(RECORD_CONDITIONAL_CREATES)
    site.sign_in_with_password("ada", PASSWORD)
    site.wait_until(lambda d: conditional_creates(d), "the silent create")
    assert conditional_creates(browser)[0]["state"] == "pending"

    # One WebAuthn request at a time: left pending, it would refuse the card's ("A request is already pending.").
    site.find("#nudge-accept").click()
    site.wait_for_path("/demo/settings/")
    assert site.wait_for_message("Passkey created.")
    [credential] = demo.credentials(ada)
    assert credential["created_via"] == "ceremony"
    [stored] = virtual_authenticator.credentials()
    assert stored.id == credential["id"]
    # Stopped by the click, not by the page's deadline (which would have kept the user waiting for it).
    [asked] = conditional_creates(browser)
    assert (asked["state"], asked["error"]) == ("rejected", "AbortError")


def test_browser_without_conditional_create_gets_the_nudge_card_alone(demo, virtual_authenticator, ada, browser):
    site = demo.site
    site.emulate(WITHOUT_CONDITIONAL_CREATE)
    site.emulate(RECORD_CONDITIONAL_CREATES)
    site.sign_in_with_password("ada", PASSWORD)
    assert offers_made(demo, ada) == 0  # the sign-in form said conditionalCreate false
    assert not site.find_all("#automatic-upgrade")
    nudge = Nudge.objects.get(tenant=demo.tenant, user_id=str(ada.user_id))
    site.wait_until(lambda d: nudge_outcome(nudge) == "shown", "the nudge's shown outcome")
    assert site.find("#nudge").is_displayed()
    assert conditional_creates(browser) == []  # nothing asked of the browser


def test_offer_reaching_a_page_without_conditional_create_asks_nothing_of_the_browser(
    demo, virtual_authenticator, ada, browser
):
    """A browser that does not know conditional create might take the request for a modal one and prompt:
    the account page asks only where getClientCapabilities() says conditionalCreate itself."""
    site = demo.site
    site.emulate(RECORD_CONDITIONAL_CREATES)
    site.open("/demo/")
    site.wait_until(lambda d: site.find("#platform-authenticator").get_attribute("value"), "the capability check")
    assert site.find("#conditional-create").get_attribute("value") == "true"
    site.emulate(WITHOUT_CONDITIONAL_CREATE)  # from the account page on
    site.find("#username").send_keys("ada")
    site.find("#password").send_keys(PASSWORD)
    site.find("#password-signin").click()
    site.wait_for_path("/demo/account/")
    assert offers_made(demo, ada) == 1 and site.find_all("#automatic-upgrade")
    nudge = Nudge.objects.get(tenant=demo.tenant, user_id=str(ada.user_id))
    site.wait_until(lambda d: nudge_outcome(nudge) == "shown", "the nudge's shown outcome")
    assert conditional_creates(browser) == []
    assert console_says(console_log(browser), "Automatic passkey upgrade", "cannot create passkeys silently")
    assert virtual_authenticator.credentials() == [] and site.message() == ""


def test_silent_create_by_the_password_manager_stores_an_automatic_upgrade(demo, virtual_authenticator, ada, browser):
    site = demo.site
    site.emulate(PASSWORD_MANAGER_CREATES_SILENTLY)
    site.emulate(RECORD_CONDITIONAL_CREATES)
    virtual_authenticator.answer_with(up_cleared=True, uv_cleared=True)  # nobody was asked: no UP, no UV
    site.sign_in_with_password("ada", PASSWORD)
    nudge = Nudge.objects.get(tenant=demo.tenant, user_id=str(ada.user_id))

    assert "saved a passkey" in site.wait_for_message("saved a passkey")
    assert "(" not in site.message()  # a success note, not an error with its code
    [credential] = demo.credentials(ada)
    assert (credential["created_via"], credential["name"]) == ("automatic_upgrade", AUTOMATIC_UPGRADE_NAME)
    assert credential["user_verified"] is False
    [asked] = conditional_creates(browser)
    assert (asked["state"], asked["id"], asked["userName"]) == ("resolved", credential["id"], "ada")
    [stored] = virtual_authenticator.credentials()
    assert (stored.id, stored.user_name, stored.user_display_name) == (credential["id"], "ada", "Ada Lovelace")
    # The passkey the card would have offered exists: no card, and the prompt was never shown.
    assert not site.find_all("#nudge")
    assert nudge_outcome(nudge) == ""
    assert not [entry for entry in console_log(browser) if entry["level"] == "SEVERE"]
    screenshot(browser, "demo-account-automatic-upgrade")

    site.open("/demo/account/")  # handed out once: a reload asks the browser for nothing
    assert not site.find_all("#automatic-upgrade") and not site.find_all("#nudge")
    site.open("/demo/settings/")
    [item] = site.passkey_items()
    assert item.get_attribute("data-credential-id") == credential["id"]
    assert AUTOMATIC_UPGRADE_NAME in item.text
