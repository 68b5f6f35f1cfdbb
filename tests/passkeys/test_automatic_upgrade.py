"""Conditional registration (automatic upgrades): a ceremony started with mediation "conditional" may finish
without user presence or verification (WebAuthn L3 §7.1 step 14); every other check still runs, and no other
ceremony gets the relaxation, whatever its request says."""

from __future__ import annotations

import pytest

from analytics.models import Event, EventType
from passkeys.models import Credential, PasskeyUser
from tenants.services import tenant_update
from tests.support.api import assert_problem
from tests.support.authenticator import SoftAuthenticator

ORIGIN = "https://example.com"
CONDITIONAL = {"mediation": "conditional"}


def _finish(api, credential, **body):
    return api.post("/v1/registrations/finish", {"credential": credential, **body})


def test_a_conditional_registration_is_accepted_without_presence_or_verification(api, authenticator):
    options = api.registration_options("alice", **CONDITIONAL)

    response = _finish(api, authenticator.create(options, origin=ORIGIN, up=False, uv=False))

    assert response.status_code == 201, response.content
    credential = response.json()["credential"]
    assert credential["created_via"] == "automatic_upgrade"
    assert credential["user_verified"] is False
    stored = Credential.objects.get()
    assert (stored.created_via, stored.user_verified) == ("automatic_upgrade", False)


def test_the_start_answer_echoes_the_mediation_for_the_browser(api):
    response = api.post("/v1/registrations/start", {"user_id": "alice", "username": "alice", **CONDITIONAL})

    assert response.status_code == 200, response.content
    assert response.json()["mediation"] == "conditional"
    assert response.json()["public_key"]["extensions"]["credProps"] is True


def test_a_conditional_registration_with_presence_is_an_automatic_upgrade_too(api, authenticator):
    response = api.register(authenticator, "alice", start=CONDITIONAL)

    assert response.status_code == 201, response.content
    assert response.json()["credential"]["created_via"] == "automatic_upgrade"


def test_an_ordinary_registration_without_presence_is_refused(api, authenticator):
    options = api.registration_options("alice")

    response = _finish(api, authenticator.create(options, origin=ORIGIN, up=False))

    assert_problem(response, 400, "user_presence_required")
    assert not Credential.objects.exists()


def test_the_relaxation_comes_from_the_challenge_never_from_the_request(api, authenticator):
    options = api.registration_options("alice")
    credential = authenticator.create(options, origin=ORIGIN, up=False, uv=False)

    response = _finish(api, credential, mediation="conditional", created_via="automatic_upgrade")

    assert_problem(response, 400, "user_presence_required")
    assert not Credential.objects.exists()


def test_an_ordinary_registration_is_created_via_a_ceremony(api, authenticator):
    response = api.register(authenticator, "alice")

    assert response.status_code == 201, response.content
    assert response.json()["credential"]["created_via"] == "ceremony"


def test_a_conditional_registration_skips_required_verification_too(make_tenant, make_api, authenticator):
    api = make_api(make_tenant(user_verification="required"))
    options = api.registration_options("alice", **CONDITIONAL)

    response = _finish(api, authenticator.create(options, origin=ORIGIN, up=False, uv=False))

    assert response.status_code == 201, response.content


def test_an_ordinary_registration_without_required_verification_is_refused(make_tenant, make_api, authenticator):
    api = make_api(make_tenant(user_verification="required"))
    options = api.registration_options("alice")

    response = _finish(api, authenticator.create(options, origin=ORIGIN, uv=False))

    assert_problem(response, 400, "user_verification_required")


@pytest.mark.parametrize(
    "change, code",
    [
        ({"origin": "https://evil.example"}, "origin_not_allowed"),
        ({"rp_id": "evil.example"}, "rp_id_mismatch"),
        ({"client_data_type": "webauthn.get"}, "type_mismatch"),
        ({"challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "challenge_not_found"),
        ({"bad_attestation_signature": True}, "attestation_invalid"),
        ({"alg": -36}, "unsupported_algorithm"),
        ({"bs": True, "be": False}, "invalid_backup_flags"),
    ],
)
def test_a_conditional_registration_still_runs_every_other_check(api, change, code):
    authenticator = SoftAuthenticator(attestation="packed-self")
    options = api.registration_options("alice", **CONDITIONAL)
    origin = change.pop("origin", ORIGIN)

    response = _finish(api, authenticator.create(options, origin=origin, up=False, uv=False, **change))

    assert_problem(response, 400, code)
    assert not Credential.objects.exists()


def test_a_conditional_challenge_is_single_use(api, authenticator):
    options = api.registration_options("alice", **CONDITIONAL)
    credential = authenticator.create(options, origin=ORIGIN, up=False, uv=False)
    assert _finish(api, credential).status_code == 201

    assert_problem(_finish(api, credential), 400, "challenge_not_found")


def test_a_conditional_login_still_requires_presence(api, authenticator):
    assert api.register(authenticator, "alice").status_code == 201
    options = api.authentication_options(mediation="conditional")

    response = api.post("/v1/authentications/finish", {"credential": authenticator.get(options, ORIGIN, up=False)})

    assert_problem(response, 400, "user_presence_required")


def test_a_tenant_without_automatic_upgrades_refuses_conditional_starts(make_tenant, make_api):
    api = make_api(make_tenant(automatic_upgrades=False))

    response = api.post("/v1/registrations/start", {"user_id": "alice", "username": "alice", **CONDITIONAL})

    assert_problem(response, 400, "validation_error")
    assert not PasskeyUser.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize("mediation", ["silent", "immediate", "bogus", "", None, True, ["conditional"]])
def test_unknown_registration_mediations_are_refused_and_nothing_is_stored(api, mediation):
    response = api.post("/v1/registrations/start", {"user_id": "alice", "username": "alice", "mediation": mediation})

    assert_problem(response, 400, "validation_error")
    assert not PasskeyUser.objects.exists()
    assert not Event.objects.exists()


def test_the_conditional_start_and_its_success_are_recorded_as_an_automatic_upgrade(api, authenticator):
    options = api.registration_options("alice", **CONDITIONAL)
    assert _finish(api, authenticator.create(options, origin=ORIGIN, up=False, uv=False)).status_code == 201
    assert api.register(SoftAuthenticator(), "bob").status_code == 201

    events = Event.objects.filter(user_id="alice").values_list("type", "mediation")
    assert set(events) == {
        (EventType.REGISTRATION_STARTED, "conditional"),
        (EventType.REGISTRATION_SUCCEEDED, "conditional"),
    }
    assert set(Event.objects.filter(user_id="bob").values_list("mediation", flat=True)) == {""}


def test_a_conditional_challenge_loses_its_relaxation_when_the_tenant_turns_upgrades_off(api, authenticator):
    options = api.registration_options("alice", **CONDITIONAL)
    tenant_update(tenant=api.tenant, automatic_upgrades=False)

    response = _finish(api, authenticator.create(options, origin=ORIGIN, up=False, uv=False))

    assert_problem(response, 400, "user_presence_required")
    assert not Credential.objects.exists()
