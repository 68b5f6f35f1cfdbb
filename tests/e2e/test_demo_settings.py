"""The demo's passkey settings in headless Chromium: provider names and icons, rename, delete, and the
Signal API calls that keep the authenticator in step (seen in the virtual authenticator's store)."""

from __future__ import annotations

import uuid

import pytest

from tests.support.authenticator import SoftAuthenticator
from tests.support.browser import console_log, screenshot
from tests.support.demo_site import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

APPLE_PASSWORDS = uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")


@pytest.fixture
def two_passkeys(demo, virtual_authenticator, ada, live_server):
    """Ada signed in, with a passkey in this browser and one from Apple Passwords on another device."""
    demo.site.sign_in_with_password("ada", PASSWORD)
    demo.site.create_passkey_on_settings()
    [here] = demo.credentials(ada)
    apple = SoftAuthenticator(aaguid=APPLE_PASSWORDS.bytes)
    options = demo.api.registration_options(str(ada.user_id), username="ada")
    response = demo.api.post("/v1/registrations/finish", {"credential": apple.create(options, origin=live_server.url)})
    assert response.status_code == 201, response.content
    demo.site.open("/demo/settings/")
    return here, response.json()["credential"]


def test_settings_list_passkeys_with_provider_name_and_icon(demo, two_passkeys, browser):
    here, apple = two_passkeys
    items = demo.site.passkey_items()
    assert [item.get_attribute("data-credential-id") for item in items] == [here["id"], apple["id"]]
    assert "Unknown provider" in items[0].text
    assert "Apple Passwords" in items[1].text and apple["provider_name"] == "Apple Passwords"
    icon = demo.site.passkey_item(apple["id"]).find_element("css selector", ".provider-icon img")
    assert icon.get_attribute("src") == apple["provider_icon_light"]
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", icon)
    dark = demo.site.passkey_item(apple["id"]).find_element("css selector", ".provider-icon source")
    assert dark.get_attribute("srcset") == apple["provider_icon_dark"]
    screenshot(browser, "demo-settings")
    assert not [e for e in console_log(browser) if e["level"] == "SEVERE"]


def test_rename_changes_the_name_at_the_service(demo, two_passkeys, virtual_authenticator, ada):
    here, _ = two_passkeys
    demo.site.rename_passkey(here["id"], "Work laptop")
    assert demo.site.passkey_item(here["id"]).find_element("css selector", ".passkey-name").text == "Work laptop"
    assert [c["name"] for c in demo.credentials(ada)][0] == "Work laptop"
    assert len(virtual_authenticator.credentials()) == 1  # still accepted: signalAllAcceptedCredentials kept it


def test_display_name_change_reaches_the_authenticator(demo, two_passkeys, virtual_authenticator, ada):
    demo.site.change_display_name("Countess of Lovelace")
    ada.refresh_from_db()
    assert ada.display_name == "Countess of Lovelace"
    [stored] = virtual_authenticator.credentials()  # signalCurrentUserDetails updated the account picker
    assert (stored.user_name, stored.user_display_name) == ("ada", "Countess of Lovelace")


def test_delete_removes_the_passkey_at_the_service_and_on_the_authenticator(
    demo, two_passkeys, virtual_authenticator, ada
):
    here, apple = two_passkeys
    demo.site.delete_passkey(apple["id"])
    assert [c["id"] for c in demo.credentials(ada)] == [here["id"]]
    assert [item.get_attribute("data-credential-id") for item in demo.site.passkey_items()] == [here["id"]]
    assert [c.id for c in virtual_authenticator.credentials()] == [here["id"]]  # the other device's: not here

    # Deleting this browser's passkey: signalAllAcceptedCredentials([]) makes the authenticator drop it,
    # so it is no longer offered for a sign-in that would fail.
    demo.site.delete_passkey(here["id"])
    assert demo.credentials(ada) == []
    assert demo.site.text("#no-passkeys").startswith("You have no passkeys yet.")
    assert virtual_authenticator.credentials() == []
