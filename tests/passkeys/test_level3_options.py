"""WebAuthn Level 3 options through the API: hints on both starts, credProps, immediate mediation."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from passkeys.models import Challenge, Credential, PasskeyUser
from tests.support.api import assert_problem
from tests.support.authenticator import SoftAuthenticator, b64url_decode

REGISTRATION = "/v1/registrations/start"
AUTHENTICATION = "/v1/authentications/start"
BAD_HINTS = [
    "security-key",
    ["passkey"],
    ["hybrid", "hybrid"],
    ["Hybrid"],
    [""],
    [1],
    [None],
    None,
    {"security-key": True},
]


def _pending_challenges() -> int:
    """Challenges held wherever the service keeps them (Redis when configured, else the database)."""
    if settings.REDIS_URL:
        return len(redis.Redis.from_url(settings.REDIS_URL).keys("challenge:*"))
    return Challenge.objects.count()


def _register(api, authenticator: SoftAuthenticator, user_id: str) -> Credential:
    response = api.register(authenticator, user_id)
    assert response.status_code == 201, response.content
    return Credential.objects.get(credential_id=b64url_decode(response.json()["credential"]["id"]))


@pytest.mark.parametrize("hints", [["security-key"], ["client-device", "hybrid"], ["hybrid", "security-key"]])
def test_registration_start_copies_hints_in_order(api, hints):
    assert api.registration_options("alice", hints=hints)["hints"] == hints


@pytest.mark.parametrize("hints", [["security-key"], ["hybrid", "client-device", "security-key"]])
def test_authentication_start_copies_hints_in_order(api, hints):
    assert api.authentication_options(hints=hints)["hints"] == hints


def test_hints_are_absent_from_options_unless_asked_for(api):
    assert "hints" not in api.registration_options("alice")
    assert "hints" not in api.authentication_options()
    assert "hints" not in api.authentication_options("alice")


@pytest.mark.parametrize("path", [REGISTRATION, AUTHENTICATION])
@pytest.mark.parametrize("hints", BAD_HINTS)
def test_bad_hints_are_a_validation_error_and_store_nothing(api, path, hints):
    response = api.post(path, {"user_id": "alice", "username": "alice", "hints": hints})

    assert_problem(response, 400, "validation_error")
    assert _pending_challenges() == 0
    assert not PasskeyUser.objects.exists()


def test_a_good_start_stores_its_challenge(api):
    """The counterpart of the test above: _pending_challenges sees a stored challenge."""
    api.registration_options("alice", hints=["hybrid"])
    api.authentication_options(hints=["hybrid"])
    assert _pending_challenges() == 2


def test_registration_always_requests_cred_props(api):
    assert api.registration_options("alice")["extensions"]["credProps"] is True
    assert api.registration_options("bob", hints=["client-device"])["extensions"]["credProps"] is True


@pytest.mark.parametrize("mediation", ["immediate", "conditional"])
def test_discoverable_mediation_ignores_user_id_and_allows_no_credentials(api, authenticator, mediation):
    _register(api, authenticator, "alice")

    response = api.post(AUTHENTICATION, {"user_id": "alice", "mediation": mediation})

    assert response.status_code == 200, response.content
    assert response.json()["mediation"] == mediation
    assert not response.json()["public_key"].get("allowCredentials")


def test_immediate_login_is_not_bound_to_the_user_id_sent_at_start(api, authenticator):
    """The ceremony is discoverable: a user_id given with immediate mediation binds nothing."""
    _register(api, authenticator, "alice")
    bob = SoftAuthenticator()
    _register(api, bob, "bob")

    response = api.login(bob, "alice", start={"mediation": "immediate"})

    assert response.status_code == 200, response.content
    assert response.json()["user_id"] == "bob"


def test_optional_mediation_with_a_user_id_still_allows_only_that_users_credentials(api, authenticator):
    credential = _register(api, authenticator, "alice")

    options = api.authentication_options("alice", mediation="optional")

    assert [b64url_decode(entry["id"]) for entry in options["allowCredentials"]] == [bytes(credential.credential_id)]


@pytest.mark.parametrize("mediation", ["Immediate", "automatic", "", 1, None, ["immediate"]])
def test_unknown_mediation_is_a_validation_error_and_stores_nothing(api, mediation):
    response = api.post(AUTHENTICATION, {"mediation": mediation})

    assert_problem(response, 400, "validation_error")
    assert _pending_challenges() == 0


def _resolved(schema: dict, node: dict) -> dict:
    return schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node


def _request_schema(schema: dict, path: str) -> dict:
    return _resolved(schema, schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"])


@pytest.mark.parametrize("path", [REGISTRATION, AUTHENTICATION])
def test_openapi_describes_hints_as_an_optional_list_of_distinct_known_hints(client, db, path):
    schema = client.get("/v1/openapi.json", HTTP_ACCEPT="application/json").json()
    body = _request_schema(schema, path)

    hints = body["properties"]["hints"]
    assert hints["type"] == "array" and hints["uniqueItems"] is True
    items = _resolved(schema, hints["items"])
    assert items["type"] == "string" and items["enum"] == ["security-key", "client-device", "hybrid"]
    assert "hints" not in body.get("required", [])


def test_openapi_lists_immediate_among_the_authentication_mediations(client, db):
    schema = client.get("/v1/openapi.json", HTTP_ACCEPT="application/json").json()
    mediation = _request_schema(schema, AUTHENTICATION)["properties"]["mediation"]
    enum = _resolved(schema, mediation)["enum"]
    assert "immediate" in enum and "conditional" in enum
