"""Every error leaves as application/problem+json with a stable `code`; malformed input never gets a 5xx."""

from __future__ import annotations

import copy
import json

import pytest
from django.conf import settings

from passkeys.models import Credential, PasskeyUser
from tests.support.api import assert_problem
from tests.support.authenticator import b64url_encode

ORIGIN = "https://example.com"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code"}
START_BODY = {"user_id": "alice", "username": "alice@example.com"}


def raw(api, method: str, path: str, body: bytes | str, content_type: str = "application/json"):
    """Send a body byte for byte, bypassing the client's JSON encoding; a crash comes back as a 500."""
    api.client.raise_request_exception = False
    return api.client.generic(method, path, body, content_type=content_type, **api._auth())


@pytest.fixture
def registration_response(api, authenticator) -> dict:
    """A genuine RegistrationResponseJSON for a pending ceremony, ready to be tampered with."""
    return authenticator.create(api.registration_options("alice"), origin=ORIGIN)


@pytest.fixture
def authentication_response(api, authenticator) -> dict:
    """A genuine AuthenticationResponseJSON for a pending ceremony of a registered user."""
    assert api.register(authenticator).status_code == 201
    return authenticator.get(api.authentication_options("alice"), origin=ORIGIN)


def tampered(response: dict, path: tuple[str, ...], value) -> dict:
    changed = copy.deepcopy(response)
    target = changed
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    return changed


# --- the body as a whole -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["{", '{"user_id": "alice",}', "NaN", '{"user_id": NaN, "username": "x"}', b"\xff\xfe"]
)
def test_malformed_json_is_a_validation_error(api, body):
    assert_problem(raw(api, "POST", "/v1/registrations/start", body), 400, "validation_error")
    assert PasskeyUser.objects.count() == 0


@pytest.mark.parametrize("body", [[START_BODY], "alice", 42, None])
def test_body_that_is_not_an_object_is_a_validation_error(api, body):
    assert_problem(raw(api, "POST", "/v1/registrations/start", json.dumps(body)), 400, "validation_error")
    assert PasskeyUser.objects.count() == 0


def test_deeply_nested_json_is_a_validation_error_not_a_crash(api):
    # Fits in the size limit, but exceeds the JSON decoder's recursion depth.
    body = "[" * 30_000 + "]" * 30_000
    assert_problem(raw(api, "POST", "/v1/registrations/start", body), 400, "validation_error")


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/plain", json.dumps(START_BODY)),
        ("application/x-www-form-urlencoded", "user_id=alice&username=alice"),
        ("application/xml", "<user_id>alice</user_id>"),
    ],
)
def test_non_json_content_type_is_a_validation_error(api, content_type, body):
    response = raw(api, "POST", "/v1/registrations/start", body, content_type=content_type)
    assert 400 <= response.status_code < 500
    assert_problem(response, response.status_code, "validation_error")
    assert PasskeyUser.objects.count() == 0


def test_body_over_64_kib_is_payload_too_large_and_stores_nothing(api):
    body = json.dumps({**START_BODY, "display_name": "x" * settings.MAX_REQUEST_BODY_BYTES})
    assert_problem(raw(api, "POST", "/v1/registrations/start", body), 413, "payload_too_large")
    assert PasskeyUser.objects.count() == 0


def test_body_of_exactly_64_kib_is_accepted(api):
    body = json.dumps(START_BODY).ljust(64 * 1024)  # JSON allows trailing whitespace
    assert raw(api, "POST", "/v1/registrations/start", body).status_code == 200


def test_body_one_byte_over_64_kib_is_payload_too_large(api):
    body = json.dumps(START_BODY).ljust(64 * 1024 + 1)
    assert_problem(raw(api, "POST", "/v1/registrations/start", body), 413, "payload_too_large")
    assert PasskeyUser.objects.count() == 0


# --- fields --------------------------------------------------------------------------------


def test_numeric_user_id_is_a_validation_error(api):
    # The schema says string; DRF's CharField would store 42 as "42", so the API refuses what the schema refuses.
    response = api.post("/v1/registrations/start", {"user_id": 42, "username": "x"})
    assert_problem(response, 400, "validation_error")
    assert not PasskeyUser.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({**START_BODY, "user_id": True}, "user_id"),
        ({**START_BODY, "user_id": ["alice"]}, "user_id"),
        ({**START_BODY, "username": {"name": "alice"}}, "username"),
        ({**START_BODY, "display_name": ["x"]}, "display_name"),
        ({**START_BODY, "user_id": "x" * 256}, "user_id"),
        ({**START_BODY, "user_id": "nul\x00"}, "user_id"),
    ],
)
def test_wrong_field_type_on_registration_start_is_a_validation_error(api, body, field):
    problem = assert_problem(api.post("/v1/registrations/start", body), 400, "validation_error")
    assert field in problem["errors"]
    assert PasskeyUser.objects.count() == 0


@pytest.mark.parametrize("path", ["/v1/registrations/finish", "/v1/authentications/finish"])
@pytest.mark.parametrize("credential", ["eyJpZCI6ICJ4In0", [{"id": "AAAA"}], 1, None])
def test_credential_that_is_not_an_object_is_a_validation_error(api, path, credential):
    problem = assert_problem(api.post(path, {"credential": credential}), 400, "validation_error")
    assert "credential" in problem["errors"]


@pytest.mark.parametrize(
    "path, body, missing",
    [
        ("/v1/registrations/start", {}, {"user_id", "username"}),
        ("/v1/registrations/start", {"username": "alice"}, {"user_id"}),
        ("/v1/registrations/finish", {"name": "Laptop"}, {"credential"}),
        ("/v1/authentications/finish", {"user_agent": "x"}, {"credential"}),
    ],
)
def test_missing_required_fields_are_listed_in_errors(api, path, body, missing):
    problem = assert_problem(api.post(path, body), 400, "validation_error")
    assert set(problem["errors"]) == missing
    for field in missing:
        assert problem["errors"][field] == ["This field is required."]


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/v1/registrations/start", {**START_BODY, "user_verification": "sometimes"}, "user_verification"),
        ("/v1/registrations/start", {**START_BODY, "resident_key": "maybe"}, "resident_key"),
        ("/v1/registrations/start", {**START_BODY, "authenticator_attachment": "usb"}, "authenticator_attachment"),
        ("/v1/authentications/start", {"user_verification": "sometimes"}, "user_verification"),
        ("/v1/authentications/start", {"mediation": "loud"}, "mediation"),
        ("/v1/authentications/finish", {"credential": {}, "ip": "not-an-ip"}, "ip"),
    ],
)
def test_invalid_enum_value_is_a_validation_error(api, path, body, field):
    problem = assert_problem(api.post(path, body), 400, "validation_error")
    assert field in problem["errors"]
    assert PasskeyUser.objects.count() == 0


# --- broken WebAuthn responses -------------------------------------------------------------

BAD_BASE64URL = {
    "dollar": "$AAAAAAAAAAA",
    "plus": "+AAAAAAAAAAA",
    "slash": "/AAAAAAAAAAA",
    "padding": "AAAAAAAAAA==",
    "impossible length": "AAAAA",
    "space": "AAAA AAAA",
}


@pytest.mark.parametrize("value", BAD_BASE64URL.values(), ids=BAD_BASE64URL.keys())
@pytest.mark.parametrize(
    "path",
    [("response", "clientDataJSON"), ("response", "attestationObject")],
    ids=["clientDataJSON", "attestationObject"],
)
def test_registration_finish_rejects_broken_base64url(api, registration_response, path, value):
    credential = tampered(registration_response, path, value)
    assert_problem(api.post("/v1/registrations/finish", {"credential": credential}), 400, "validation_error")
    assert Credential.objects.count() == 0


@pytest.mark.parametrize("value", BAD_BASE64URL.values(), ids=BAD_BASE64URL.keys())
def test_registration_finish_rejects_broken_base64url_credential_id(api, registration_response, value):
    credential = {**registration_response, "id": value, "rawId": value}
    assert_problem(api.post("/v1/registrations/finish", {"credential": credential}), 400, "validation_error")
    assert Credential.objects.count() == 0


@pytest.mark.parametrize("value", BAD_BASE64URL.values(), ids=BAD_BASE64URL.keys())
@pytest.mark.parametrize("field", ["clientDataJSON", "authenticatorData", "signature", "userHandle"])
def test_authentication_finish_rejects_broken_base64url(api, authentication_response, field, value):
    before = Credential.objects.values("sign_count", "last_used_at").get()
    assertion = tampered(authentication_response, ("response", field), value)
    assert_problem(api.post("/v1/authentications/finish", {"credential": assertion}), 400, "validation_error")
    assert Credential.objects.values("sign_count", "last_used_at").get() == before


@pytest.mark.parametrize(
    "cbor",
    [b"\xff\x00", b"", b"\xa0", b"\x9f" * 64, b"\xa1\x63fmt"],
    ids=["break", "empty", "no members", "deep", "cut"],
)
def test_registration_finish_rejects_broken_cbor_attestation_object(api, registration_response, cbor):
    credential = tampered(registration_response, ("response", "attestationObject"), b64url_encode(cbor))
    assert_problem(api.post("/v1/registrations/finish", {"credential": credential}), 400, "validation_error")
    assert Credential.objects.count() == 0


@pytest.mark.parametrize("client_data", [b"not json", b"[]", b"null", b'"webauthn.create"', b"{}", b"\xff\xfe"])
def test_registration_finish_rejects_client_data_json_that_is_not_a_json_object(
    api, registration_response, client_data
):
    credential = tampered(registration_response, ("response", "clientDataJSON"), b64url_encode(client_data))
    assert_problem(api.post("/v1/registrations/finish", {"credential": credential}), 400, "validation_error")
    assert Credential.objects.count() == 0


def test_authentication_finish_rejects_client_data_json_that_is_not_json(api, authentication_response):
    before = Credential.objects.values("sign_count", "last_used_at").get()
    assertion = tampered(authentication_response, ("response", "clientDataJSON"), b64url_encode(b"not json"))
    assert_problem(api.post("/v1/authentications/finish", {"credential": assertion}), 400, "validation_error")
    assert Credential.objects.values("sign_count", "last_used_at").get() == before


def test_registration_finish_rejects_id_differing_from_raw_id(api, registration_response):
    credential = {**registration_response, "rawId": b64url_encode(b"another credential id!")}
    problem = assert_problem(api.post("/v1/registrations/finish", {"credential": credential}), 400, "validation_error")
    assert "rawId" in problem["detail"]
    assert Credential.objects.count() == 0


def test_authentication_finish_rejects_id_differing_from_raw_id(api, authentication_response):
    before = Credential.objects.values("sign_count", "last_used_at").get()
    assertion = {**authentication_response, "rawId": b64url_encode(b"another credential id!")}
    assert_problem(api.post("/v1/authentications/finish", {"credential": assertion}), 400, "validation_error")
    assert Credential.objects.values("sign_count", "last_used_at").get() == before


@pytest.mark.parametrize(
    "change",
    [{"type": "password"}, {"response": "x"}, {"response": None}, {"id": None}, {"rawId": 12}],
    ids=["type", "response string", "response null", "id null", "rawId number"],
)
def test_registration_finish_rejects_credential_of_the_wrong_shape(api, registration_response, change):
    credential = {**registration_response, **change}
    assert_problem(api.post("/v1/registrations/finish", {"credential": credential}), 400, "validation_error")
    assert Credential.objects.count() == 0


# --- paths and methods ---------------------------------------------------------------------


# "/" cannot appear in a path segment: it routes elsewhere (404), so it is left out here.
BAD_PATH_IDS = {name: value for name, value in BAD_BASE64URL.items() if "/" not in value}


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
@pytest.mark.parametrize("credential_id", BAD_PATH_IDS.values(), ids=BAD_PATH_IDS.keys())
def test_credential_path_with_broken_base64url_id_is_a_validation_error(api, authenticator, method, credential_id):
    assert api.register(authenticator).status_code == 201
    response = raw(api, method, f"/v1/credentials/{credential_id}", json.dumps({"name": "renamed"}))
    assert_problem(response, 400, "validation_error")
    assert Credential.objects.values_list("name", flat=True).get() != "renamed"


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1/registrations", "/v1/users", "/v2/x"])
def test_unknown_path_is_a_not_found_problem(api, path):
    assert_problem(api.get(path), 404, "not_found")


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1/registrations/start"),
        ("PUT", "/v1/registrations/finish"),
        ("GET", "/v1/authentications/finish"),
        ("POST", "/v1/users/alice/credentials"),
        ("GET", "/v1/credentials/AAAA"),
        ("POST", "/v1/users/alice"),
    ],
)
def test_wrong_method_is_method_not_allowed(api, method, path):
    assert_problem(raw(api, method, path, "{}"), 405, "method_not_allowed")


# --- never a 5xx ---------------------------------------------------------------------------

HOSTILE_BODIES = [
    b"",
    b"{}",
    b"[]",
    b'"x"',
    b"1e999",
    b"\x00",
    b'{"credential": null}',
    b'{"credential": {"response": {}}}',
    b'{"credential": {"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON": 1}}}',
    b'{"credential": {"id": "AA", "rawId": "AA", "type": "public-key", "response": []}}',
    b'{"user_id": {"$ne": null}, "username": [], "name": {}}',
    json.dumps({"user_id": "\u202e" * 100, "username": "\ud800"}).encode(),
]
ROUTES = [
    ("POST", "/v1/registrations/start"),
    ("POST", "/v1/registrations/finish"),
    ("POST", "/v1/authentications/start"),
    ("POST", "/v1/authentications/finish"),
    ("PATCH", "/v1/credentials/AAAA"),
]


@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_hostile_body_never_gets_a_server_error(api, method, path, body):
    response = raw(api, method, path, body)
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"
        assert PROBLEM_MEMBERS <= set(response.json())
