"""A passkey login from another device (authenticatorAttachment "cross-platform": a phone over hybrid, a
security key) by a user with no passkey usable on this platform answers a nudge with reason
after_cross_device, under the sign-in nudge's policy, cooldown and outcomes."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from analytics.models import Event, EventType, Nudge, NudgePolicy
from analytics.services.metrics import adoption_report
from passkeys.models import Credential
from tests.support.authenticator import SoftAuthenticator

WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
APPLE_PASSWORDS = bytes(uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd").bytes)  # synced to iOS and macOS only
ORIGIN = "https://example.com"


@pytest.fixture
def phone() -> SoftAuthenticator:
    """An iPhone's passkey, registered and used from a Windows desktop over hybrid."""
    return SoftAuthenticator(aaguid=APPLE_PASSWORDS, attachment="cross-platform", transports=["hybrid", "internal"])


def _register(api, authenticator, user_agent=WINDOWS):
    response = api.register(authenticator, "alice", finish={"user_agent": user_agent})
    assert response.status_code == 201, response.content
    return response.json()["credential"]


def _login(api, authenticator, **body):
    options = api.authentication_options("alice")
    response = api.post(
        "/v1/authentications/finish",
        {
            "credential": authenticator.get(options, ORIGIN),
            "user_agent": WINDOWS,
            "platform_authenticator_available": True,
            **body,
        },
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_cross_device_login_without_a_local_passkey_answers_a_nudge(api, phone):
    registered = _register(api, phone)
    assert registered["authenticator_attachment"] == "cross-platform"

    body = _login(api, phone)

    assert body["authenticator_attachment"] == "cross-platform"
    assert body["nudge"]["reason"] == "after_cross_device"
    nudge = Nudge.objects.get(pk=body["nudge"]["id"])
    assert (nudge.user_id, nudge.reason, nudge.os_family) == ("alice", "after_cross_device", "Windows")
    assert Event.objects.filter(type=EventType.NUDGE_DECIDED, nudge_id=nudge.pk).exists()


def test_a_same_device_login_answers_no_nudge(api, authenticator):
    _register(api, authenticator)

    body = _login(api, authenticator)

    assert body["authenticator_attachment"] == "platform"
    assert "nudge" not in body
    assert not Nudge.objects.exists()


def test_a_login_that_does_not_say_its_attachment_answers_null_and_no_nudge(api):
    silent = SoftAuthenticator(attachment=None)
    _register(api, silent)

    body = _login(api, silent)

    assert body["authenticator_attachment"] is None
    assert "nudge" not in body


def test_a_cross_device_login_of_a_user_with_a_passkey_usable_here_answers_no_nudge(api, phone):
    _register(api, phone)
    _register(api, SoftAuthenticator(aaguid=bytes(16), backed_up=False, backup_eligible=False))  # Windows Hello-ish

    assert "nudge" not in _login(api, phone)


def test_a_passkey_registered_from_a_phone_is_not_counted_as_usable_on_the_desktop(api, phone):
    """The registration came from a Windows browser, but the passkey lives on the phone."""
    _register(api, phone)
    Credential.objects.update(backed_up=False, backup_eligible=False)  # even device-bound, it is on the phone
    phone.backup_eligible = phone.backed_up = False
    for credential in phone.credentials.values():
        credential.backup_eligible = credential.backed_up = False

    assert _login(api, phone)["nudge"]["reason"] == "after_cross_device"


@pytest.mark.parametrize("platform_ready", [False, None])
def test_without_a_platform_authenticator_the_default_policy_does_not_nudge(api, phone, platform_ready):
    _register(api, phone)

    body = _login(api, phone, platform_authenticator_available=platform_ready)

    assert "nudge" not in body


def test_a_tenant_that_does_not_require_the_signal_nudges_without_it(api, phone):
    NudgePolicy.objects.update_or_create(tenant=api.tenant, defaults={"require_platform_authenticator": False})
    _register(api, phone)

    assert _login(api, phone, platform_authenticator_available=None)["nudge"]["reason"] == "after_cross_device"


def test_a_dismissed_nudge_rests_for_the_cooldown(api, phone):
    _register(api, phone)
    nudge = _login(api, phone)["nudge"]
    assert api.post(f"/v1/nudges/{nudge['id']}/outcome", {"outcome": "dismissed"}).status_code == 200

    assert "nudge" not in _login(api, phone)


def test_an_accepted_nudge_counts_in_the_nudge_funnel(api, phone, authenticator):
    _register(api, phone)
    nudge = _login(api, phone)["nudge"]
    assert api.post(f"/v1/nudges/{nudge['id']}/outcome", {"outcome": "shown"}).status_code == 200

    _register(api, authenticator)  # the user creates a passkey on the desktop: it accepts the nudge

    assert Nudge.objects.get(pk=nudge["id"]).outcome == "accepted"
    today = timezone.now().date()
    [day] = adoption_report(tenant=api.tenant, first=today, last=today)["days"]
    assert (day["nudges_shown"], day["nudges_accepted"]) == (1, 1)
    assert adoption_report(tenant=api.tenant, first=today, last=today)["breakdowns"]["creation_path"] == {
        "other": 1,
        "nudge": 1,
    }


def test_the_nudge_policy_off_means_no_nudge(api, phone):
    NudgePolicy.objects.update_or_create(tenant=api.tenant, defaults={"enabled": False})
    _register(api, phone)

    assert "nudge" not in _login(api, phone)


def test_cross_device_sign_ins_are_counted_per_day(api, phone, authenticator):
    _register(api, phone)
    _login(api, phone)
    _login(api, phone)
    _register(api, authenticator)
    options = api.authentication_options("alice")
    same_device = authenticator.get(options, ORIGIN, credential_id=next(reversed(authenticator.credentials)))
    assert api.post("/v1/authentications/finish", {"credential": same_device}).status_code == 200

    today = timezone.now().date()
    [day] = adoption_report(tenant=api.tenant, first=today, last=today)["days"]
    assert (day["passkey_sign_ins"], day["cross_device_sign_ins"]) == (3, 2)


def test_platform_authenticator_available_must_be_a_boolean(api, phone):
    _register(api, phone)
    options = api.authentication_options("alice")
    body = {"credential": phone.get(options, ORIGIN), "platform_authenticator_available": "yes"}

    response = api.post("/v1/authentications/finish", body)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert Credential.objects.get().sign_count == 0  # nothing changed: the challenge was not even consumed
