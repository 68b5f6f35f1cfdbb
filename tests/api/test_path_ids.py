"""Every id in a path or a body is input: control characters are a 400 validation_error (never a
database error), and every user id registrations/start takes reaches every user route, percent-encoded,
over Django's test client and over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from passkeys.models import PasskeyUser
from tests.support.api import assert_problem

# C0 (NUL, SOH, LF, CR, US), DEL, and C1 (U+0080, U+009F) in UTF-8, percent-encoded.
CONTROL_CHARACTERS = {
    "nul": "%00", "soh": "%01", "lf": "%0A", "cr": "%0D", "us": "%1F", "del": "%7F",
    "c1-first": "%C2%80", "c1-last": "%C2%9F",
}  # fmt: skip
# Printable ids with what a path would otherwise split or decode: "/", "?", "#", "%", spaces, unicode.
PRINTABLE_IDS = [
    "team/alice",
    "x/credentials",
    "credentials",
    "/",
    "a//b/",
    "what?x=1#frag",
    "100%25 sure",
    "  spaced  ",
    "ünïcødé ✓ 名前",
    "a" * 255,
]


def user_path(user_id: str) -> str:
    return "/v1/users/" + quote(user_id, safe="")


@pytest.mark.parametrize("encoded", CONTROL_CHARACTERS.values(), ids=CONTROL_CHARACTERS.keys())
def test_control_character_in_a_listed_user_id_is_a_validation_error(api, encoded):
    assert_problem(api.get(f"/v1/users/a{encoded}b/credentials"), 400, "validation_error")


@pytest.mark.parametrize("encoded", CONTROL_CHARACTERS.values(), ids=CONTROL_CHARACTERS.keys())
def test_control_character_in_an_erased_user_id_is_a_validation_error(api, encoded):
    assert_problem(api.delete(f"/v1/users/a{encoded}b"), 400, "validation_error")


def test_nul_alone_as_a_user_id_is_a_validation_error(api):
    assert_problem(api.get("/v1/users/%00/credentials"), 400, "validation_error")
    assert_problem(api.delete("/v1/users/%00"), 400, "validation_error")


@pytest.mark.parametrize("encoded", CONTROL_CHARACTERS.values(), ids=CONTROL_CHARACTERS.keys())
def test_control_character_in_a_jwks_tenant_id_is_a_validation_error(client, db, encoded):
    assert_problem(client.get(f"/v1/tenants/a{encoded}b/jwks.json"), 400, "validation_error")


def test_an_empty_or_overlong_path_user_id_is_a_validation_error(api):
    assert_problem(api.get("/v1/users//credentials"), 400, "validation_error")
    assert_problem(api.delete(user_path("a" * 256)), 400, "validation_error")


@pytest.mark.parametrize("character", ["\x00", "\x1f", "\x7f", "\x80", "\x9f"])
@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/registrations/start", {"username": "x"}),
        ("/v1/authentications/start", {}),
        ("/v1/sign-ins", {"method": "password"}),
    ],
    ids=["registrations", "authentications", "sign-ins"],
)
def test_control_character_in_a_body_user_id_is_a_validation_error(api, path, body, character):
    response = api.client.post(
        path,
        json.dumps({**body, "user_id": f"a{character}b"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.key}",
    )
    assert "user_id" in assert_problem(response, 400, "validation_error")["errors"]
    assert not PasskeyUser.objects.exists()


@pytest.mark.parametrize("path", ["/v1/registrations/start", "/v1/authentications/start", "/v1/sign-ins"])
def test_lone_surrogate_in_a_body_is_a_validation_error(api, path):
    # The per-user rate limit hashes user_id before validation: not Unicode text must never get that far.
    body = '{"user_id": "a\\ud800b", "username": "x", "method": "password"}'
    response = api.client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api.key}")
    assert_problem(response, 400, "validation_error")
    assert not PasskeyUser.objects.exists()


@pytest.mark.parametrize("user_id", PRINTABLE_IDS)
def test_every_registrable_user_id_can_be_listed_and_erased(api, authenticator, user_id):
    assert api.register(authenticator, user_id, start={"username": "someone"}).status_code == 201

    listed = api.get(user_path(user_id) + "/credentials")
    assert listed.status_code == 200, listed.content
    assert [credential["user_id"] for credential in listed.json()["credentials"]] == [user_id]

    assert api.delete(user_path(user_id)).status_code == 204
    assert not PasskeyUser.objects.filter(user_id=user_id).exists()
    assert api.get(user_path(user_id) + "/credentials").json()["credentials"] == []


def test_erasing_x_slash_credentials_leaves_user_x_alone(api, authenticator):
    assert api.register(authenticator, "x").status_code == 201
    assert api.register(authenticator, "x/credentials").status_code == 201

    assert api.delete(user_path("x/credentials")).status_code == 204

    assert list(PasskeyUser.objects.values_list("user_id", flat=True)) == ["x"]


@pytest.mark.parametrize(
    "method, path, allow",
    [
        ("post", "/v1/users/alice/credentials", "GET, HEAD, DELETE, OPTIONS"),
        ("put", "/v1/users/alice/credentials", "GET, HEAD, DELETE, OPTIONS"),
        ("get", "/v1/users/alice", "DELETE, OPTIONS"),
        ("patch", "/v1/users/alice", "DELETE, OPTIONS"),
        ("post", "/v1/users/team%2Falice", "DELETE, OPTIONS"),
    ],
)
def test_wrong_methods_on_user_routes_are_method_not_allowed(api, method, path, allow):
    response = getattr(api.client, method)(path, HTTP_AUTHORIZATION=f"Bearer {api.key}")
    assert_problem(response, 405, "method_not_allowed")
    assert response["Allow"] == allow


def test_user_routes_still_need_their_scopes(make_api, tenant):
    reader = make_api(tenant, scopes=["credentials:read"])
    assert_problem(reader.delete(user_path("team/alice")), 403, "insufficient_scope")
    eraser = make_api(tenant, scopes=["users:delete"])
    assert_problem(eraser.get(user_path("team/alice") + "/credentials"), 403, "insufficient_scope")


# --- over real HTTP: the server decodes the path before Django routes it --------------------------


def _http(live_server, method: str, path: str, key: str) -> tuple[int, str, bytes]:
    url = live_server.url + path  # the live server's own http URL
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {key}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


@pytest.mark.parametrize("user_id", ["team/alice", "x/credentials", "what?x=1#frag", "100% ünïcødé"])
def test_percent_encoded_user_ids_work_over_real_http(live_server, api, authenticator, user_id):
    assert api.register(authenticator, user_id).status_code == 201

    status, _, body = _http(live_server, "GET", user_path(user_id) + "/credentials", api.key)
    assert status == 200, body
    assert [credential["user_id"] for credential in json.loads(body)["credentials"]] == [user_id]

    assert _http(live_server, "DELETE", user_path(user_id), api.key)[0] == 204
    assert not PasskeyUser.objects.filter(user_id=user_id).exists()


@pytest.mark.parametrize("path", ["/v1/users/%00/credentials", "/v1/users/a%00b", "/v1/users/a%C2%85b"])
def test_control_characters_in_paths_are_validation_errors_over_real_http(live_server, api, path):
    method = "GET" if path.endswith("/credentials") else "DELETE"
    status, content_type, body = _http(live_server, method, path, api.key)
    assert (status, content_type, json.loads(body)["code"]) == (400, "application/problem+json", "validation_error")
