"""POST /v1/client-events: a browser's report of how its ceremony ended, authenticated by the client token its
start handed out (never an API key), CORS for the tenant's web origins, one event per report."""

from __future__ import annotations

import base64
import time

import pytest
from rest_framework.test import APIClient

from analytics.models import Event, EventType
from passkeys import client_tokens
from passkeys.models import Credential
from tests.support.api import ORIGIN, PasskeyApi, assert_problem

REPORTS = "/v1/client-events"
CHROME_ON_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def start(api: PasskeyApi, user_id: str | None = "alice", **body) -> dict:
    if user_id is not None:
        body["user_id"] = user_id
    response = api.post("/v1/authentications/start", body)
    assert response.status_code == 200, response.content
    return response.json()


def report(token: str, body: dict | None = None, *, origin: str | None = ORIGIN, **headers):
    if origin is not None:
        headers["HTTP_ORIGIN"] = origin
    return APIClient().post(
        REPORTS,
        body if body is not None else {"outcome": "cancelled"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_USER_AGENT=CHROME_ON_MAC,
        **headers,
    )


def outcomes(tenant) -> list[Event]:
    return list(Event.objects.filter(tenant=tenant, outcome__gt="").order_by("pk"))


@pytest.fixture
def registered(api, authenticator) -> PasskeyApi:
    assert api.register(authenticator, "alice").status_code == 201
    return api


# --- The token.


def test_both_starts_and_the_automatic_upgrade_offer_hand_out_a_client_token(api, authenticator):
    registration = api.post("/v1/registrations/start", {"user_id": "bob", "username": "bob"}).json()
    authentication = start(api, None, mediation="conditional")
    sign_in = api.post(
        "/v1/sign-ins",
        {"user_id": "carol", "method": "password", "conditional_create_available": True, "username": "carol"},
    ).json()
    upgrade = sign_in["automatic_upgrade"]
    tokens = [registration["client_token"], authentication["client_token"], upgrade["client_token"]]
    assert all(token.startswith("pct_") for token in tokens)
    assert len(set(tokens)) == 3
    assert all(report(token).status_code == 202 for token in tokens)
    assert [event.type for event in outcomes(api.tenant)] == [
        EventType.REGISTRATION_CLIENT_OUTCOME,
        EventType.AUTHENTICATION_CLIENT_OUTCOME,
        EventType.REGISTRATION_CLIENT_OUTCOME,
    ]


def test_a_report_is_one_event_linked_to_its_ceremony_with_the_user_the_start_was_bound_to(registered):
    answer = start(registered, "alice")
    body = {
        "outcome": "succeeded",
        "duration_ms": 2345,
        "capabilities": {"conditionalGet": True, "hybridTransport": False, "extension:prf": True},
    }
    response = report(answer["client_token"], body)
    assert response.status_code == 202
    assert response.json() == {}
    [event] = outcomes(registered.tenant)
    started = Event.objects.get(tenant=registered.tenant, type=EventType.AUTHENTICATION_STARTED)
    assert event.type == EventType.AUTHENTICATION_CLIENT_OUTCOME
    assert event.ceremony_ref == started.ceremony_ref != ""
    assert (event.user_id, event.outcome, event.duration_ms, event.error_name) == ("alice", "succeeded", 2345, "")
    assert event.capabilities == body["capabilities"]
    assert (event.os_family, event.browser_family) == ("Mac OS X", "Chrome")


def test_the_succeeded_event_of_the_finish_carries_the_same_ceremony_ref(registered, authenticator):
    answer = start(registered, "alice")
    assertion = authenticator.get(answer["public_key"], origin=ORIGIN)
    assert registered.post("/v1/authentications/finish", {"credential": assertion}).status_code == 200
    assert report(answer["client_token"], {"outcome": "succeeded"}).status_code == 202
    refs = Event.objects.filter(tenant=registered.tenant).exclude(type=EventType.REGISTRATION_STARTED)
    refs = set(refs.exclude(type=EventType.REGISTRATION_SUCCEEDED).values_list("type", "ceremony_ref"))
    assert {kind for kind, _ in refs} == {
        EventType.AUTHENTICATION_STARTED,
        EventType.AUTHENTICATION_SUCCEEDED,
        EventType.AUTHENTICATION_CLIENT_OUTCOME,
    }
    assert len({ref for _, ref in refs}) == 1


def test_a_leaked_token_shows_no_tenant_user_or_challenge(registered):
    answer = start(registered, "alice")
    token = answer["client_token"]
    raw = base64.urlsafe_b64decode(token[4:] + "=" * (-len(token[4:]) % 4))
    challenge = answer["public_key"]["challenge"]
    for secret in (str(registered.tenant.pk).encode(), b"alice", challenge.encode(), registered.tenant.pk.bytes):
        assert secret not in raw and secret.decode("latin-1") not in token


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer pct_",
        "Bearer pct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer not-a-token",
        "Basic cGN0XzphYmM=",
        "Bearer pct_" + "A" * 2000,
    ],
)
def test_a_missing_or_malformed_token_is_401_invalid_client_token(tenant, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = APIClient().post(REPORTS, {"outcome": "cancelled"}, format="json", **headers)
    assert_problem(response, 401, "invalid_client_token")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Event.objects.exists()


def test_a_tampered_token_is_refused(registered):
    token = start(registered)["client_token"]
    flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    assert_problem(report(flipped), 401, "invalid_client_token")
    assert outcomes(registered.tenant) == []


def test_an_api_key_is_not_a_client_token_and_a_client_token_is_not_an_api_key(registered):
    assert_problem(report(registered.key), 401, "invalid_client_token")
    token = start(registered)["client_token"]
    as_key = APIClient().post(
        "/v1/authentications/start", {}, format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert_problem(as_key, 401, "invalid_api_key")
    assert outcomes(registered.tenant) == []


def test_a_token_works_until_its_challenge_expires_plus_ten_minutes(registered, monkeypatch):
    token = start(registered)["client_token"]
    issued = time.time()
    lifetime = registered.tenant.challenge_timeout + 600
    monkeypatch.setattr(client_tokens.time, "time", lambda: issued + lifetime - 5)
    assert report(token).status_code == 202
    monkeypatch.setattr(client_tokens.time, "time", lambda: issued + lifetime + 5)
    assert_problem(report(token), 401, "invalid_client_token")
    assert len(outcomes(registered.tenant)) == 1


def test_a_token_is_good_for_ten_reports(registered):
    token = start(registered)["client_token"]
    assert [report(token).status_code for _ in range(10)] == [202] * 10
    assert_problem(report(token), 401, "invalid_client_token")
    assert len(outcomes(registered.tenant)) == 10
    assert report(start(registered)["client_token"]).status_code == 202  # another ceremony's token is its own


def test_a_token_of_a_deleted_tenant_is_refused(registered):
    token = start(registered)["client_token"]
    registered.tenant.delete()
    assert_problem(report(token), 401, "invalid_client_token")
    assert not Event.objects.exists()


# --- The body.


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"outcome": "won"},
        {"outcome": None},
        {"outcome": "cancelled", "error_name": "x" * 65},
        {"outcome": "cancelled", "error_name": 12},
        {"outcome": "cancelled", "duration_ms": -1},
        {"outcome": "cancelled", "duration_ms": 600_001},
        {"outcome": "cancelled", "duration_ms": "12"},
        {"outcome": "cancelled", "duration_ms": True},
        {"outcome": "cancelled", "duration_ms": 1.5},
        {"outcome": "cancelled", "capabilities": {"conditionalGet": "yes"}},
        {"outcome": "cancelled", "capabilities": {"teleport": True}},
        {"outcome": "cancelled", "capabilities": {"conditionalGet": {"nested": True}}},
        {"outcome": "cancelled", "capabilities": ["conditionalGet"]},
        {"outcome": "cancelled", "user_id": "mallory"},
        ["cancelled"],
    ],
)
def test_a_malformed_report_is_400_and_spends_nothing(registered, body):
    token = start(registered)["client_token"]
    assert_problem(report(token, body), 400, "validation_error")
    assert outcomes(registered.tenant) == []
    assert [report(token).status_code for _ in range(10)] == [202] * 10


def test_the_boundaries_of_a_report_are_accepted(registered):
    token = start(registered)["client_token"]
    for body in (
        {"outcome": "error", "error_name": "x" * 64, "duration_ms": 0},
        {"outcome": "timed_out", "duration_ms": 600_000, "capabilities": {}},
        {"outcome": "aborted", "duration_ms": 12.0},
    ):
        assert report(token, body).status_code == 202, body
    assert [event.duration_ms for event in outcomes(registered.tenant)] == [0, 600_000, 12]


def test_a_report_never_changes_the_ceremony_or_the_credential(registered, authenticator):
    answer = start(registered, "alice")
    before = list(Credential.objects.values())
    for outcome in ("succeeded", "cancelled", "error"):
        assert report(answer["client_token"], {"outcome": outcome}).status_code == 202
    assert list(Credential.objects.values()) == before
    assertion = authenticator.get(answer["public_key"], origin=ORIGIN)
    finished = registered.post("/v1/authentications/finish", {"credential": assertion})
    assert finished.status_code == 200  # the challenge was not consumed by the reports


def test_a_report_is_one_insert(registered, django_assert_num_queries):
    token = start(registered)["client_token"]
    assert report(token).status_code == 202  # loads the process's map of web origins once
    with django_assert_num_queries(1) as queries:
        assert report(token).status_code == 202
    assert queries.captured_queries[0]["sql"].startswith("INSERT")


# --- CORS and origins.


def preflight(origin: str):
    return APIClient().options(
        REPORTS,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


def test_a_preflight_from_a_tenants_web_origin_is_allowed(registered):
    response = preflight(ORIGIN)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert {"authorization", "content-type"} <= set(response["Access-Control-Allow-Headers"].split(", "))
    assert "Origin" in response["Vary"]


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "https://example.com.evil.example"])
def test_a_preflight_from_any_other_origin_gets_no_allow_header(registered, origin):
    response = preflight(origin)
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Headers" not in response


def test_a_tenants_new_origin_is_allowed_at_once(registered, make_tenant):
    assert "Access-Control-Allow-Origin" not in preflight("https://shop.example")
    make_tenant(name="Shop", rp_id="shop.example", origins=["https://shop.example"])
    assert preflight("https://shop.example")["Access-Control-Allow-Origin"] == "https://shop.example"


def test_an_android_origin_is_not_a_web_origin(make_tenant):
    apk = "android:apk-key-hash:" + "A" * 43
    make_tenant(origins=[ORIGIN, apk])
    assert "Access-Control-Allow-Origin" not in preflight(apk)


def test_a_report_from_the_tenants_origin_is_readable_there(registered):
    response = report(start(registered)["client_token"])
    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_a_report_from_another_tenants_origin_is_refused_and_not_recorded(registered, make_tenant):
    make_tenant(name="Other", rp_id="other.example", origins=["https://other.example"])
    token = start(registered)["client_token"]
    response = report(token, origin="https://other.example")
    assert_problem(response, 401, "invalid_client_token")
    assert "Access-Control-Allow-Origin" not in response
    assert outcomes(registered.tenant) == []


def test_a_report_with_no_origin_header_is_judged_by_its_token_alone(registered):
    response = report(start(registered)["client_token"], origin=None)
    assert response.status_code == 202
    assert "Access-Control-Allow-Origin" not in response


# --- Abuse.


def test_reports_are_limited_per_client_ip(registered, settings):
    settings.RATE_LIMIT_CLIENT_EVENTS_PER_IP = 3
    tokens = [start(registered)["client_token"] for _ in range(4)]
    assert [report(token).status_code for token in tokens[:3]] == [202] * 3
    limited = report(tokens[3])
    assert_problem(limited, 429, "rate_limited")
    assert int(limited["Retry-After"]) >= 1
    assert len(outcomes(registered.tenant)) == 3
    assert preflight(ORIGIN).status_code == 204  # a preflight is not a report
