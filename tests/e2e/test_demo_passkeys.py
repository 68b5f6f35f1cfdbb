"""The demo's passkey journeys in headless Chromium: sign-up, the nudge after a password sign-in,
passkey sign-in by username, discoverable and by autofill, with and without the browser's JSON helpers.
Each checks what the page shows and what the service stored; screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from datetime import datetime

import pytest

from analytics.models import Event, EventType, Nudge
from demo.models import DemoUser
from tests.support.authenticator import b64url_decode
from tests.support.browser import console_log, screenshot
from tests.support.demo_site import PASSWORD, WITHOUT_AUTOFILL, WITHOUT_JSON_HELPERS
from tests.support.virtual_authenticator import CHROMIUM_VIRTUAL_AAGUID

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's threads need committed rows


def console_errors(browser) -> list[dict]:
    return [entry for entry in console_log(browser) if entry["level"] == "SEVERE"]


def signed_in_with_passkey(demo, user: DemoUser) -> None:
    demo.site.wait_for_path("/demo/account/")
    assert "You signed in with a passkey." in demo.site.text("#signed-in-with")
    assert f'"sub": "{user.user_id}"' in demo.site.text("#token-claims")
    assert '"passkey"' in demo.site.text("#token-claims")


def test_sign_up_dismiss_the_nudge_then_create_a_passkey(demo, virtual_authenticator, browser):
    site = demo.site
    site.open("/demo/")
    screenshot(browser, "demo-sign-in")
    site.open("/demo/signup/")
    screenshot(browser, "demo-sign-up")

    site.sign_up("grace", PASSWORD, display_name="Grace Hopper")
    user = DemoUser.objects.get(username="grace")
    assert site.find("#welcome").text == "Welcome, Grace Hopper"
    nudge = Nudge.objects.get(tenant=demo.tenant, user_id=str(user.user_id))
    assert site.find("#nudge").get_attribute("data-nudge-id") == str(nudge.pk)
    site.wait_until(lambda d: Nudge.objects.get(pk=nudge.pk).outcome == "shown", "the nudge's shown outcome")
    screenshot(browser, "demo-account-nudge")

    site.find("#nudge-dismiss").click()
    site.wait_until(lambda d: not site.find_all("#nudge"), "the nudge card to go")
    site.wait_until(lambda d: Nudge.objects.get(pk=nudge.pk).outcome == "dismissed", "the dismissal")

    site.create_passkey_on_settings()
    [credential] = demo.credentials(user)
    [stored] = virtual_authenticator.credentials()
    assert (stored.id, stored.rp_id, stored.user_handle) == (credential["id"], "localhost", credential["user_handle"])
    assert stored.user_name == "grace" and stored.user_display_name == "Grace Hopper"
    assert credential["aaguid"] == str(CHROMIUM_VIRTUAL_AAGUID)
    assert credential["provider_name"] == ""  # Chromium's test AAGUID names no provider
    assert credential["transports"] == ["internal"]
    assert (credential["user_verified"], credential["backup_eligible"], credential["backed_up"]) == (True, True, True)
    assert credential["sign_count"] == 1  # Chromium's virtual authenticator starts at 1
    [item] = site.passkey_items()
    assert item.get_attribute("data-credential-id") == credential["id"]
    assert "Unknown provider" in item.text and "synced" in item.text and "never used" in item.text
    assert not console_errors(browser)


def test_password_sign_in_nudge_leads_to_a_passkey(demo, virtual_authenticator, ada, browser):
    site = demo.site
    site.sign_in_with_password("ada", PASSWORD)
    sign_in = Event.objects.get(tenant=demo.tenant, type=EventType.SIGN_IN, user_id=str(ada.user_id))
    assert sign_in.method == "password" and sign_in.browser_family.startswith("HeadlessChrome")
    nudge = Nudge.objects.get(tenant=demo.tenant, user_id=str(ada.user_id))
    assert nudge.reason == "no_passkey_on_platform"

    site.find("#nudge-accept").click()
    site.wait_for_path("/demo/settings/")
    assert site.wait_for_message("Passkey created.")
    [credential] = demo.credentials(ada)
    assert [item.get_attribute("data-credential-id") for item in site.passkey_items()] == [credential["id"]]
    site.wait_until(lambda d: Nudge.objects.get(pk=nudge.pk).outcome == "accepted", "the nudge's acceptance")
    screenshot(browser, "demo-settings-first-passkey")

    # With a passkey on this platform, the next password sign-in is not nudged.
    site.emulate(WITHOUT_AUTOFILL)
    site.sign_out()
    site.sign_in_with_password("ada", PASSWORD)
    assert not site.find_all("#nudge")
    assert Nudge.objects.filter(tenant=demo.tenant, user_id=str(ada.user_id)).count() == 1
    assert not console_errors(browser)


@pytest.mark.parametrize("with_username", [True, False], ids=["username", "discoverable"])
def test_passkey_sign_in_with_the_button(demo, virtual_authenticator, ada, browser, with_username):
    site = demo.site
    site.sign_in_with_password("ada", PASSWORD)
    site.create_passkey_on_settings()
    [before] = demo.credentials(ada)
    site.emulate(WITHOUT_AUTOFILL)
    site.sign_out()
    site.wait_for_path("/demo/")

    site.click_passkey_sign_in("ada" if with_username else "")
    signed_in_with_passkey(demo, ada)
    [after] = demo.credentials(ada)
    assert after["sign_count"] == before["sign_count"] + 1 == virtual_authenticator.credentials()[0].sign_count
    assert datetime.fromisoformat(after["last_used_at"]) >= datetime.fromisoformat(after["created_at"])
    succeeded = Event.objects.get(tenant=demo.tenant, type=EventType.AUTHENTICATION_SUCCEEDED)
    assert succeeded.user_id == str(ada.user_id) and bytes(succeeded.credential_id) == b64url_decode(after["id"])
    # The button's start (the page's login decision made one too, for the one tap): bound to the user when the
    # username was given, else discoverable (the user known only at finish).
    used = Event.objects.get(
        tenant=demo.tenant, type=EventType.AUTHENTICATION_STARTED, ceremony_ref=succeeded.ceremony_ref
    )
    assert used.user_id == (str(ada.user_id) if with_username else "")
    assert not console_errors(browser)


def test_passkey_autofill_signs_in_from_the_username_field(demo, virtual_authenticator, ada, browser):
    site = demo.site
    site.open("/demo/")
    assert site.find("#username").get_attribute("autocomplete") == "username webauthn"
    site.sign_in_with_password("ada", PASSWORD)
    site.create_passkey_on_settings()
    [before] = demo.credentials(ada)

    # Signing out lands on the sign-in page, which leads with Ada's one tap (this browser remembers her); another
    # account is a visitor the site does not know, whose username field offers the passkey as autofill (mediation
    # "conditional"); Chromium's virtual authenticator picks the suggestion by itself. Nothing is typed.
    site.sign_out()
    site.wait_until(lambda d: site.find("#signin").get_attribute("data-decision") == "passkey", "Ada's one tap")
    last_before = Event.objects.filter(tenant=demo.tenant).latest("pk").pk
    site.find("#use-another-account").click()
    signed_in_with_passkey(demo, ada)
    screenshot(browser, "demo-account-passkey")
    [after] = demo.credentials(ada)
    assert after["sign_count"] == before["sign_count"] + 1
    new = Event.objects.filter(tenant=demo.tenant, pk__gt=last_before).order_by("pk")
    assert [(e.type, e.user_id) for e in new.exclude(type=EventType.AUTHENTICATION_CLIENT_OUTCOME)] == [
        (EventType.AUTHENTICATION_STARTED, ""),  # conditional requests are discoverable: no allowCredentials
        (EventType.LOGIN_DECIDED, ""),  # asked anonymously: the start is the decision's, which autofill ran
        (EventType.AUTHENTICATION_SUCCEEDED, str(ada.user_id)),
    ]
    # And the browser's own account of it, from passkeys.js (it races the finish, so it is waited for).
    reports = new.filter(type=EventType.AUTHENTICATION_CLIENT_OUTCOME)
    demo.site.wait_until(lambda d: reports.exists(), "the browser's report")
    assert [(r.outcome, r.mediation) for r in reports] == [("succeeded", "conditional")]
    assert not console_errors(browser)


def test_ceremonies_work_without_the_browsers_json_helpers(demo, virtual_authenticator, ada, browser):
    site = demo.site
    site.emulate(WITHOUT_JSON_HELPERS)
    site.sign_in_with_password("ada", PASSWORD)
    assert browser.execute_script("return typeof PublicKeyCredential.parseCreationOptionsFromJSON") == "undefined"
    site.create_passkey_on_settings()
    [credential] = demo.credentials(ada)
    assert credential["transports"] == ["internal"]  # from getTransports(), in the fallback's toJSON

    site.emulate(WITHOUT_AUTOFILL)
    site.sign_out()
    site.wait_for_path("/demo/")
    site.click_passkey_sign_in("ada")
    signed_in_with_passkey(demo, ada)
    assert demo.credentials(ada)[0]["sign_count"] == credential["sign_count"] + 1
    assert not console_errors(browser)
