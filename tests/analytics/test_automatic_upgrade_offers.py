"""POST /v1/sign-ins offers an automatic upgrade (a conditional registration start) to a user whose browser can
create a passkey silently and who has none usable on this platform: at most once a day, outside the nudge's
prompt limits, and only where the tenant allows it. The offer's options complete into an automatic_upgrade
passkey, and the day's metrics count both ends."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import Event, EventType, Nudge, NudgePolicy, NudgeSchedule
from analytics.services.metrics import adoption_report
from analytics.services.nudges import nudges_schedule
from passkeys.models import Credential
from passkeys.services.credentials import credential_import
from tests.support.api import assert_problem

ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
GOOGLE = uuid.UUID("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4")  # "Google Password Manager": usable on Android
CAPABLE = {
    "user_id": "alice",
    "method": "password",
    "user_agent": ANDROID,
    "platform_authenticator_available": True,
    "conditional_create_available": True,
    "username": "alice@example.com",
    "display_name": "Alice",
}
ORIGIN = "https://example.com"


def sign_in(api, **body):
    response = api.post("/v1/sign-ins", {**CAPABLE, **body})
    assert response.status_code == 201, response.content
    return response.json()


def test_a_capable_browser_gets_conditional_creation_options_for_the_user(api):
    body = sign_in(api)

    options = body["automatic_upgrade"]["public_key"]
    assert options["user"]["name"] == "alice@example.com"
    assert options["user"]["displayName"] == "Alice"
    assert options["rp"]["id"] == "example.com"
    assert options["extensions"]["credProps"] is True
    assert body["nudge"] is not None  # decided as before, alongside


def test_the_offer_completes_into_an_automatic_upgrade_passkey_counted_in_the_metrics(api, authenticator):
    options = sign_in(api)["automatic_upgrade"]["public_key"]

    credential = authenticator.create(options, origin=ORIGIN, up=False, uv=False)
    response = api.post("/v1/registrations/finish", {"credential": credential, "user_agent": ANDROID})

    assert response.status_code == 201, response.content
    assert response.json()["credential"]["created_via"] == "automatic_upgrade"
    assert response.json()["credential"]["user_id"] == "alice"
    today = timezone.now().date()
    [day] = adoption_report(tenant=api.tenant, first=today, last=today)["days"]
    assert (day["automatic_upgrades_offered"], day["automatic_upgrades_completed"]) == (1, 1)
    assert day["registrations_completed"] == 1


def test_the_offer_is_made_at_most_once_a_day(api):
    assert "automatic_upgrade" in sign_in(api)

    assert "automatic_upgrade" not in sign_in(api)

    NudgeSchedule.objects.filter(user_id="alice").update(upgrade_offered_on=timezone.now().date() - timedelta(days=1))
    assert "automatic_upgrade" in sign_in(api)
    offered = Event.objects.filter(type=EventType.REGISTRATION_STARTED, mediation="conditional")
    assert offered.count() == 2


def test_the_offer_does_not_count_against_the_nudges_prompt_limits(api):
    sign_in(api, conditional_create_available=False)
    prompts_without = NudgeSchedule.objects.get(user_id="alice").prompts
    NudgeSchedule.objects.all().delete()

    sign_in(api)

    assert NudgeSchedule.objects.get(user_id="alice").prompts == prompts_without == 1


def test_the_offer_is_made_when_the_nudge_is_not(api):
    NudgePolicy.objects.update_or_create(tenant=api.tenant, defaults={"enabled": False})

    body = sign_in(api)

    assert body["nudge"] is None
    assert "automatic_upgrade" in body


@pytest.mark.parametrize(
    "change",
    [
        {"conditional_create_available": False},
        {"conditional_create_available": None},
        {"username": None},
    ],
    ids=["capability false", "capability not said", "no username"],
)
def test_no_offer_without_the_capability_or_a_name(api, change):
    body = {**CAPABLE, **change}
    for name, value in change.items():
        if value is None:
            del body[name]
    response = api.post("/v1/sign-ins", body)

    assert response.status_code == 201, response.content
    assert "automatic_upgrade" not in response.json()
    assert not Event.objects.filter(type=EventType.REGISTRATION_STARTED).exists()


def test_no_offer_where_the_tenant_turned_automatic_upgrades_off(make_tenant, make_api):
    api = make_api(make_tenant(automatic_upgrades=False))

    assert "automatic_upgrade" not in sign_in(api)


def test_no_offer_to_a_user_with_a_passkey_usable_on_this_platform(api):
    credential_import(
        tenant=api.tenant, user_id="alice", credential_id=b"\x01" * 16, public_key=b"\xa0", algorithm=-7, aaguid=GOOGLE,
        backup_eligible=True, backed_up=True,
    )  # fmt: skip

    assert "automatic_upgrade" not in sign_in(api)


def test_a_user_whose_passkey_is_not_usable_here_is_offered_one(api):
    credential_import(
        tenant=api.tenant,
        user_id="alice",
        credential_id=b"\x01" * 16,
        public_key=b"\xa0",
        algorithm=-7,
        aaguid=uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd"),
        backup_eligible=True,
        backed_up=True,
    )  # fmt: skip  (Apple Passwords: not on Android)

    assert "automatic_upgrade" in sign_in(api)


def test_the_offer_excludes_the_users_existing_credentials(api, authenticator):
    assert api.register(authenticator, "alice").status_code == 201
    Credential.objects.update(backed_up=False, backup_eligible=False)  # device-bound, made on no known platform

    options = sign_in(api)["automatic_upgrade"]["public_key"]

    assert len(options["excludeCredentials"]) == 1


@pytest.mark.parametrize("value", ["true", 1, 0, None, [], {}])
def test_a_capability_that_is_not_a_boolean_is_refused_and_nothing_is_stored(api, value):
    response = api.post("/v1/sign-ins", {**CAPABLE, "conditional_create_available": value})

    assert_problem(response, 400, "validation_error")
    assert not Event.objects.exists()
    assert not NudgeSchedule.objects.exists()


@pytest.mark.parametrize("field, value", [("username", 5), ("username", "x" * 256), ("display_name", ["Alice"])])
def test_names_that_are_not_short_strings_are_refused(api, field, value):
    response = api.post("/v1/sign-ins", {**CAPABLE, field: value})

    assert_problem(response, 400, "validation_error")
    assert not Event.objects.exists()


def test_an_automatic_upgrade_answers_no_open_nudge_now_or_in_the_sweep(api, authenticator):
    body = sign_in(api)
    nudge_id = body["nudge"]["id"]
    credential = authenticator.create(body["automatic_upgrade"]["public_key"], origin=ORIGIN, up=False, uv=False)
    assert api.post("/v1/registrations/finish", {"credential": credential}).status_code == 201

    assert nudges_schedule(now=timezone.now() + timedelta(hours=1)).accepted == 0
    assert Nudge.objects.get(pk=nudge_id).outcome == ""
    today = timezone.now().date()
    report = adoption_report(tenant=api.tenant, first=today, last=today)
    assert report["days"][0]["nudges_accepted"] == 0
    assert report["breakdowns"]["creation_path"] == {"automatic_upgrade": 1}
