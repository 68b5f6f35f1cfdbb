"""L3 options and what a credential says of itself: PRF at registration and its salts at login, credProps.rk as
`discoverable`, the authenticator attachment, and immediate mediation recorded as its own mode."""

from __future__ import annotations

import pytest

from analytics.models import Event, EventType
from passkeys.models import Credential
from tests.support.api import assert_problem
from tests.support.authenticator import SoftAuthenticator, b64url_encode

ORIGIN = "https://example.com"
SALT = b64url_encode(b"salt for the vault key")
SALT_2 = b64url_encode(b"next salt")


def _registered(api, authenticator, user_id="alice", **start):
    response = api.register(authenticator, user_id, start=start)
    assert response.status_code == 201, response.content
    return response.json()["credential"]


# --- registration ---------------------------------------------------------------------------------


def test_prf_true_asks_the_authenticator_to_enable_it_and_stores_what_the_client_said(api, authenticator):
    options = api.registration_options("alice", prf=True)
    assert options["extensions"] == {"credProps": True, "prf": {}}

    response = api.post("/v1/registrations/finish", {"credential": authenticator.create(options, ORIGIN)})

    assert response.json()["credential"]["prf_enabled"] is True
    assert Credential.objects.get().prf_enabled is True


def test_an_authenticator_without_prf_is_stored_without_it(api):
    credential = _registered(api, SoftAuthenticator(prf=False), prf=True)

    assert credential["prf_enabled"] is False


def test_without_prf_the_options_do_not_ask_and_a_claim_is_not_believed_unasked(api, authenticator):
    options = api.registration_options("alice")
    assert options["extensions"] == {"credProps": True}
    response = authenticator.create(options, ORIGIN)
    response["clientExtensionResults"]["prf"] = {"enabled": "yes"}  # not a boolean: ignored

    assert api.post("/v1/registrations/finish", {"credential": response}).json()["credential"]["prf_enabled"] is False


@pytest.mark.parametrize("value", ["true", 1, None, {}])
def test_prf_must_be_a_boolean(api, value):
    response = api.post("/v1/registrations/start", {"user_id": "alice", "username": "alice", "prf": value})

    assert_problem(response, 400, "validation_error")
    assert not Event.objects.exists()


@pytest.mark.parametrize("rk, stored", [(True, True), (False, False), ("yes", None), (None, None)])
def test_cred_props_rk_is_stored_as_discoverable(api, authenticator, rk, stored):
    options = api.registration_options("alice")
    response = authenticator.create(options, ORIGIN)
    if rk is None:
        del response["clientExtensionResults"]["credProps"]
    else:
        response["clientExtensionResults"]["credProps"]["rk"] = rk

    credential = api.post("/v1/registrations/finish", {"credential": response}).json()["credential"]

    assert credential["discoverable"] is stored
    assert Credential.objects.get().discoverable is stored


@pytest.mark.parametrize("attachment, stored", [("platform", "platform"), ("cross-platform", "cross-platform"),
                                                (None, None), ("usb", None)])  # fmt: skip
def test_the_authenticator_attachment_is_stored_and_answered(api, attachment, stored):
    credential = _registered(api, SoftAuthenticator(attachment=attachment))

    assert credential["authenticator_attachment"] == stored
    [listed] = api.get("/v1/users/alice/credentials").json()["credentials"]
    assert listed["authenticator_attachment"] == stored


# --- authentication -------------------------------------------------------------------------------


def test_eval_salts_are_passed_to_the_browser_as_they_came(api, authenticator):
    _registered(api, authenticator, prf=True)
    prf = {"eval": {"first": SALT, "second": SALT_2}}

    options = api.authentication_options("alice", prf=prf)

    assert options["extensions"] == {"prf": prf}


def test_eval_by_credential_names_the_users_credentials(api, authenticator):
    credential = _registered(api, authenticator, prf=True)
    prf = {"evalByCredential": {credential["id"]: {"first": SALT}}}

    options = api.authentication_options("alice", prf=prf)

    assert options["extensions"] == {"prf": prf}
    assertion = authenticator.get(options, ORIGIN)
    assert assertion["clientExtensionResults"]["prf"]["results"]["first"]
    assert api.post("/v1/authentications/finish", {"credential": assertion}).status_code == 200


def test_eval_by_credential_of_another_users_credential_is_refused(api, authenticator):
    _registered(api, authenticator, "alice", prf=True)
    bobs = _registered(api, SoftAuthenticator(), "bob", prf=True)

    response = api.post(
        "/v1/authentications/start", {"user_id": "alice", "prf": {"evalByCredential": {bobs["id"]: {"first": SALT}}}}
    )

    assert_problem(response, 400, "validation_error")
    assert not Event.objects.filter(type=EventType.AUTHENTICATION_STARTED).exists()


@pytest.mark.parametrize("mediation", [None, "conditional", "immediate"])
def test_eval_by_credential_without_an_allow_list_is_refused(api, authenticator, mediation):
    credential = _registered(api, authenticator)
    body = {"prf": {"evalByCredential": {credential["id"]: {"first": SALT}}}}
    if mediation:
        body.update(user_id="alice", mediation=mediation)

    assert_problem(api.post("/v1/authentications/start", body), 400, "validation_error")


@pytest.mark.parametrize(
    "prf",
    [
        {},
        {"eval": {}},
        {"eval": {"second": SALT}},
        {"eval": {"first": SALT, "third": SALT}},
        {"eval": {"first": ""}},
        {"eval": {"first": "not base64url!"}},
        {"eval": {"first": SALT + "="}},
        {"eval": {"first": "A"}},
        {"eval": {"first": b64url_encode(bytes(257))}},
        {"eval": {"first": 5}},
        {"eval": "salt"},
        {"evalByCredential": {}},
        {"evalByCredential": {"not base64url!": {"first": SALT}}},
        {"evalByCredential": {"AAAA": {"first": "%%"}}},
        {"evalByCredential": []},
        {"eval": {"first": SALT}, "other": {}},
        ["eval"],
        "prf",
        True,
    ],
)
def test_prf_inputs_that_are_not_salts_are_refused_and_nothing_is_stored(api, prf):
    response = api.post("/v1/authentications/start", {"prf": prf})

    assert_problem(response, 400, "validation_error")
    assert not Event.objects.exists()


@pytest.mark.parametrize("size", [1, 32, 256])
def test_salts_of_1_to_256_bytes_are_accepted(api, size):
    prf = {"eval": {"first": b64url_encode(bytes(size))}}

    assert api.authentication_options(prf=prf)["extensions"] == {"prf": prf}


# --- modes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mediation, recorded", [("immediate", "immediate"), ("conditional", "conditional"),
                                                 ("optional", ""), (None, "")])  # fmt: skip
def test_each_mediation_is_recorded_as_its_own_mode(api, authenticator, mediation, recorded):
    _registered(api, authenticator)
    body = {"mediation": mediation} if mediation else {}

    response = api.post("/v1/authentications/start", body)

    assert response.status_code == 200, response.content
    started = Event.objects.get(type=EventType.AUTHENTICATION_STARTED)
    assert started.mediation == recorded


def test_an_immediate_login_is_discoverable_and_completes(api, authenticator):
    _registered(api, authenticator)
    options = api.authentication_options("alice", mediation="immediate")
    assert not options.get("allowCredentials")

    response = api.post("/v1/authentications/finish", {"credential": authenticator.get(options, ORIGIN)})

    assert response.status_code == 200, response.content
    assert Event.objects.get(type=EventType.AUTHENTICATION_SUCCEEDED).mediation == "immediate"
