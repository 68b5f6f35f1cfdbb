"""What goes wrong, produced by Chromium's virtual authenticator itself and refused by the service:
a signature from the wrong key, UV or UP cleared in the flags, a passkey the site deleted. Each
refusal shows its code on the page, signs nobody in and leaves the stored credential as it was."""

from __future__ import annotations

import pytest

from analytics.models import Event, EventType
from tests.support.demo_site import PASSWORD, WITHOUT_AUTOFILL

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def registered(demo, virtual_authenticator, ada) -> dict:
    """Ada's passkey in this browser, and Ada signed out on the sign-in page (autofill off)."""
    demo.site.sign_in_with_password("ada", PASSWORD)
    demo.site.create_passkey_on_settings()
    demo.site.emulate(WITHOUT_AUTOFILL)
    demo.site.sign_out()
    demo.site.wait_for_path("/demo/")
    [credential] = demo.credentials(ada)
    return credential


def assert_refused(demo, ada, before: dict, code: str) -> None:
    """The page says why, the visitor is still signed out, and the credential did not change."""
    assert f"({code})" in demo.site.wait_for_message(code)
    assert demo.site.path == "/demo/"
    demo.site.open("/demo/account/")
    demo.site.wait_for_path("/demo/")  # no session: the account page sends the visitor back
    [after] = demo.credentials(ada)
    assert after == before
    failure = Event.objects.filter(tenant=demo.tenant, type=EventType.AUTHENTICATION_FAILED).get()
    assert failure.code == code


def test_signature_from_another_key_is_refused(demo, registered, virtual_authenticator, ada):
    virtual_authenticator.swap_key(registered["id"])  # same id, user and counter; a key the service never saw
    demo.site.click_passkey_sign_in("ada")
    assert_refused(demo, ada, registered, "signature_invalid")


def test_assertion_without_user_presence_is_refused(demo, registered, virtual_authenticator, ada):
    virtual_authenticator.answer_with(up_cleared=True)
    demo.site.click_passkey_sign_in("ada")
    assert_refused(demo, ada, registered, "user_presence_required")


def test_assertion_without_user_verification_is_refused_when_the_tenant_requires_it(
    demo, registered, virtual_authenticator, ada
):
    demo.tenant.user_verification = "required"
    demo.tenant.save()
    virtual_authenticator.answer_with(uv_cleared=True)
    demo.site.click_passkey_sign_in("ada")
    assert_refused(demo, ada, registered, "user_verification_required")


def test_registration_without_user_verification_is_refused_when_the_tenant_requires_it(
    demo, virtual_authenticator, ada
):
    demo.tenant.user_verification = "required"
    demo.tenant.save()
    demo.site.sign_in_with_password("ada", PASSWORD)
    virtual_authenticator.answer_with(uv_cleared=True)
    demo.site.open("/demo/settings/")
    demo.site.find("#create-passkey").click()
    assert "(user_verification_required)" in demo.site.wait_for_message("user_verification_required")
    assert demo.credentials(ada) == []
    failure = Event.objects.get(tenant=demo.tenant, type=EventType.REGISTRATION_FAILED)
    assert failure.code == "user_verification_required"


def test_passkey_the_site_deleted_is_refused_and_dropped_from_the_authenticator(
    demo, registered, virtual_authenticator, ada
):
    # Deleted elsewhere (another session, support, an API call): this browser still holds it.
    assert demo.api.delete(f"/v1/credentials/{registered['id']}").status_code == 204
    assert [c.id for c in virtual_authenticator.credentials()] == [registered["id"]]

    demo.site.click_passkey_sign_in()
    assert "(credential_not_found)" in demo.site.wait_for_message("credential_not_found")
    # The page answered with signalUnknownCredential: the authenticator forgets the passkey.
    demo.site.wait_until(lambda d: virtual_authenticator.credentials() == [], "the authenticator to drop it")
    assert demo.credentials(ada) == []
    assert demo.site.path == "/demo/"
