"""POST /v1/login-decisions: DESIGN.md's table row by row (each test fails when its rule is removed), the start that
comes with a passkey decision, how client-side failures steer the next decision, bad input, and the cost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import Event, EventType
from core.encoding import b64url_encode
from tests.support.api import ORIGIN, PasskeyApi, assert_problem
from tests.support.authenticator import SoftAuthenticator

DECISIONS = "/v1/login-decisions"
MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
ABLE = {"conditionalGet": True, "hybridTransport": True, "passkeyPlatformAuthenticator": True}


def decide(api: PasskeyApi, **body) -> dict:
    body.setdefault("user_agent", MAC)
    body.setdefault("capabilities", ABLE)
    body.setdefault("platform_authenticator_available", True)
    response = api.post(DECISIONS, body)
    assert response.status_code == 200, response.content
    return response.json()


def register_on(api: PasskeyApi, user_agent: str, user_id: str = "alice") -> tuple[SoftAuthenticator, str]:
    """A passkey registered from a browser on `user_agent`'s OS, known to no provider: usable there only."""
    authenticator = SoftAuthenticator()
    response = api.register(authenticator, user_id, finish={"user_agent": user_agent})
    assert response.status_code == 201, response.content
    return authenticator, response.json()["credential"]["id"]


def password(reason: str) -> dict:
    return {"decision": "password", "reason": reason, "public_key": None, "client_token": None}


def allowed(answer: dict) -> list[str]:
    return [item["id"] for item in answer["public_key"].get("allowCredentials", [])]


def fail_in_browser(api: PasskeyApi, user_agent: str = MAC, outcome: str = "cancelled", user_id: str = "alice"):
    """A login started for the user that the browser on `user_agent` reports as failed."""
    token = api.post("/v1/authentications/start", {"user_id": user_id}).json()["client_token"]
    response = APIClient().post(
        "/v1/client-events",
        {"outcome": outcome},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_USER_AGENT=user_agent,
        HTTP_ORIGIN=ORIGIN,
    )
    assert response.status_code == 202, response.content


# --- The table, first rule that holds.


@pytest.mark.parametrize(
    "capabilities, platform",
    [({}, False), ({"conditionalGet": False, "hybridTransport": False}, None), ({}, None)],
)
def test_webauthn_unavailable_leads_with_the_password_even_for_a_passkey_user(api, capabilities, platform):
    register_on(api, MAC)
    answer = decide(api, user_id="alice", capabilities=capabilities, platform_authenticator_available=platform)
    assert answer == password("webauthn_unavailable")


def test_one_capability_or_a_platform_authenticator_is_enough_to_look_available(api):
    register_on(api, MAC)
    assert decide(api, user_id="alice", capabilities={"hybridTransport": True}, platform_authenticator_available=False)[
        "reason"
    ] == "usable_on_platform"
    assert decide(api, user_id="alice", capabilities={}, platform_authenticator_available=True)["reason"] == (
        "usable_on_platform"
    )


def test_three_recent_failures_on_this_platform_lead_with_the_password(api):
    register_on(api, MAC)
    for _ in range(2):
        fail_in_browser(api)
    assert decide(api, user_id="alice")["decision"] == "passkey"
    fail_in_browser(api, outcome="timed_out")
    answer = decide(api, user_id="alice")
    assert (answer["decision"], answer["reason"], answer["public_key"]) == ("password", "recent_failures", None)


def test_recent_failures_come_before_a_remembered_passkey(api):
    _, credential_id = register_on(api, MAC)
    for outcome in ("cancelled", "no_credential", "error"):
        fail_in_browser(api, outcome=outcome)
    assert decide(api, user_id="alice", device_credential_ids=[credential_id])["reason"] == "recent_failures"


def test_failures_on_another_platform_or_of_another_user_do_not_count(api):
    register_on(api, MAC)
    register_on(api, MAC, user_id="bob")
    for _ in range(3):
        fail_in_browser(api, user_agent=WINDOWS)
        fail_in_browser(api, user_id="bob")
    assert decide(api, user_id="alice")["reason"] == "usable_on_platform"
    assert decide(api, user_id="bob")["reason"] == "recent_failures"


def test_only_dismissals_timeouts_missing_credentials_and_errors_count(api):
    register_on(api, MAC)
    for outcome in ("aborted", "security_error", "succeeded", "unsupported", "excluded_credential"):
        fail_in_browser(api, outcome=outcome)
    assert decide(api, user_id="alice")["reason"] == "usable_on_platform"


def test_failures_of_ceremonies_not_started_for_the_user_do_not_count(api):
    register_on(api, MAC)
    for _ in range(3):
        token = decide(api)["client_token"]  # autofill: nobody identified
        response = APIClient().post(
            "/v1/client-events", {"outcome": "cancelled"}, format="json",
            HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_USER_AGENT=MAC, HTTP_ORIGIN=ORIGIN,
        )  # fmt: skip
        assert response.status_code == 202
    assert decide(api, user_id="alice")["reason"] == "usable_on_platform"


def test_failures_older_than_a_day_do_not_count(api):
    register_on(api, MAC)
    for _ in range(3):
        fail_in_browser(api)
    Event.objects.filter(type=EventType.AUTHENTICATION_CLIENT_OUTCOME).update(
        occurred_at=timezone.now() - timedelta(hours=24, minutes=1)
    )
    assert decide(api, user_id="alice")["reason"] == "usable_on_platform"


def test_failures_older_than_a_day_do_not_count_after_an_older_sign_in_either(api):
    authenticator, _ = register_on(api, MAC)
    options = api.authentication_options("alice")
    assertion = authenticator.get(options, origin=ORIGIN)
    assert api.post("/v1/authentications/finish", {"credential": assertion, "user_agent": MAC}).status_code == 200
    Event.objects.filter(type=EventType.AUTHENTICATION_SUCCEEDED).update(occurred_at=timezone.now() - timedelta(days=3))
    for _ in range(3):
        fail_in_browser(api)
    Event.objects.filter(type=EventType.AUTHENTICATION_CLIENT_OUTCOME).update(
        occurred_at=timezone.now() - timedelta(hours=25)
    )
    assert decide(api, user_id="alice")["reason"] == "usable_on_platform"


def test_a_passkey_sign_in_on_the_platform_clears_the_failures(api):
    authenticator, _ = register_on(api, MAC)
    for _ in range(3):
        fail_in_browser(api)
    answer = decide(api, user_id="alice", capabilities={"hybridTransport": True})
    assert answer["reason"] == "recent_failures"
    options = api.authentication_options("alice")
    finished = api.post(
        "/v1/authentications/finish",
        {"credential": authenticator.get(options, origin=ORIGIN), "user_agent": WINDOWS},
    )
    assert finished.status_code == 200
    assert decide(api, user_id="alice")["reason"] == "recent_failures"  # signed in on Windows: Mac's count stands
    finished = api.post(
        "/v1/authentications/finish",
        {"credential": authenticator.get(api.authentication_options("alice"), origin=ORIGIN), "user_agent": MAC},
    )
    assert finished.status_code == 200
    assert decide(api, user_id="alice")["reason"] == "usable_on_platform"
    fail_in_browser(api)
    assert decide(api, user_id="alice")["reason"] == "usable_on_platform"  # one failure since is not three


def test_a_remembered_passkey_leads_even_where_the_platform_rule_says_no(api):
    register_on(api, MAC)
    _, windows_id = register_on(api, WINDOWS)
    assert decide(api, user_id="alice", user_agent=WINDOWS)["reason"] == "usable_on_platform"
    # On a Linux machine neither is usable by the rule, but the page remembers using the Windows one here.
    linux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    assert decide(api, user_id="alice", user_agent=linux)["reason"] == "no_passkey_for_platform"
    answer = decide(api, user_id="alice", user_agent=linux, device_credential_ids=[windows_id])
    assert (answer["decision"], answer["reason"]) == ("passkey", "remembered_on_device")
    assert allowed(answer) == [windows_id]


def test_remembered_passkeys_come_first_then_the_usable_ones_and_nothing_else(api):
    _, mac_first = register_on(api, MAC)
    _, mac_second = register_on(api, MAC)
    _, windows_id = register_on(api, WINDOWS)
    answer = decide(api, user_id="alice", device_credential_ids=[mac_second])
    assert answer["reason"] == "remembered_on_device"
    assert allowed(answer) == [mac_second, mac_first]
    answer = decide(api, user_id="alice")
    assert answer["reason"] == "usable_on_platform"
    assert sorted(allowed(answer)) == sorted([mac_first, mac_second])
    assert windows_id not in allowed(answer)


def test_a_remembered_id_that_is_someone_elses_or_gone_is_not_remembered(api, make_tenant, make_api):
    register_on(api, WINDOWS)
    _, bobs = register_on(api, MAC, user_id="bob")
    other = make_api(make_tenant(name="Other", rp_id="example.com"))
    _, other_tenants = register_on(other, MAC)
    _, deleted = register_on(api, MAC)
    assert api.delete(f"/v1/credentials/{deleted}").status_code == 204
    strangers = [bobs, other_tenants, deleted, b64url_encode(b"x" * 16)]
    answer = decide(api, user_id="alice", device_credential_ids=strangers)
    assert answer["reason"] == "no_passkey_for_platform"


def test_a_usable_passkey_leads_with_a_start_bound_to_the_user_that_finishes(api):
    authenticator, credential_id = register_on(api, MAC)
    answer = decide(api, user_id="alice")
    assert (answer["decision"], answer["reason"]) == ("passkey", "usable_on_platform")
    assert allowed(answer) == [credential_id]
    assert answer["client_token"].startswith("pct_")
    assertion = authenticator.get(answer["public_key"], origin=ORIGIN)
    finished = api.post("/v1/authentications/finish", {"credential": assertion, "user_agent": MAC})
    assert finished.status_code == 200
    assert finished.json()["user_id"] == "alice"


def test_passkeys_none_usable_here_lead_with_the_password(api):
    register_on(api, WINDOWS)
    answer = decide(api, user_id="alice")
    assert answer == password("no_passkey_for_platform")


def test_a_user_without_passkeys_and_an_unknown_user_get_the_same_answer(api):
    api.post("/v1/registrations/start", {"user_id": "carol", "username": "carol"})  # known, no passkey
    assert decide(api, user_id="carol") == decide(api, user_id="nobody-at-all") == {
        "decision": "password",
        "reason": "no_passkey",
        "public_key": None,
        "client_token": None,
    }


def test_an_unidentified_user_with_conditional_ui_gets_an_autofill_start(api):
    authenticator, credential_id = register_on(api, MAC)
    answer = decide(api)
    assert (answer["decision"], answer["reason"]) == ("passkey_autofill", "conditional_ui_available")
    assert "allowCredentials" not in answer["public_key"] or answer["public_key"]["allowCredentials"] == []
    assertion = authenticator.get(answer["public_key"], origin=ORIGIN)
    finished = api.post("/v1/authentications/finish", {"credential": assertion})
    assert finished.status_code == 200
    started = Event.objects.filter(type=EventType.AUTHENTICATION_STARTED).latest("pk")
    assert started.mediation == "conditional"


def test_an_unidentified_user_without_conditional_ui_gets_the_password(api):
    answer = decide(api, capabilities={"conditionalGet": False, "hybridTransport": True})
    assert answer == {
        "decision": "password",
        "reason": "conditional_ui_unavailable",
        "public_key": None,
        "client_token": None,
    }


def test_each_decision_is_recorded_for_the_metrics(api):
    register_on(api, MAC)
    decide(api, user_id="alice")
    decide(api, user_id="nobody")
    decide(api)
    recorded = Event.objects.filter(type=EventType.LOGIN_DECIDED).order_by("pk")
    recorded = recorded.values_list("user_id", "method", "code")
    assert list(recorded) == [
        ("alice", "passkey", "usable_on_platform"),
        ("nobody", "password", "no_passkey"),
        ("", "passkey_autofill", "conditional_ui_available"),
    ]


def test_decisions_are_per_tenant(api, make_tenant, make_api):
    register_on(api, MAC)
    other = make_api(make_tenant(name="Other", rp_id="example.com"))
    assert decide(other, user_id="alice")["reason"] == "no_passkey"


# --- Bad input.


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": 12},
        {"user_id": ""},
        {"user_agent": 5},
        {"capabilities": {"teleport": True}},
        {"capabilities": {"conditionalGet": "true"}},
        {"capabilities": ["conditionalGet"]},
        {"platform_authenticator_available": "yes"},
        {"device_credential_ids": "abc"},
        {"device_credential_ids": ["AAAA"] * 21},
        {"device_credential_ids": ["not base64url!"]},
        {"device_credential_ids": ["AAAA="]},
        {"device_credential_ids": [""]},
        {"device_credential_ids": [12]},
        {"device_credential_ids": ["A" * 1368]},
    ],
)
def test_bad_input_is_400_validation_error(api, body):
    assert_problem(api.post(DECISIONS, body), 400, "validation_error")
    assert not Event.objects.filter(type=EventType.LOGIN_DECIDED).exists()


def test_twenty_remembered_ids_are_accepted(api):
    assert decide(api, user_id="alice", device_credential_ids=[b64url_encode(bytes([n]) * 16) for n in range(20)])


def test_a_key_without_the_ceremonies_scope_is_refused(make_api, tenant):
    reader = make_api(tenant, scopes=["metrics:read"])
    assert_problem(reader.post(DECISIONS, {}), 403, "insufficient_scope")


# --- Cheap: a decision is on every sign-in page view.


def test_a_password_answer_costs_three_sql_statements_and_one_redis_round_trip(api, redis_round_trips):
    register_on(api, WINDOWS)
    decide(api, user_id="alice")  # warms the key cache and the process
    redis_round_trips.clear()
    with CaptureQueriesContext(connection) as queries:
        assert decide(api, user_id="alice")["reason"] == "no_passkey_for_platform"
    statements = [query["sql"].split()[0] for query in queries.captured_queries]
    assert statements == ["SELECT", "SELECT", "INSERT"], statements
    # The decision itself uses no Redis: the one round trip reads the API key's cache and counts both rate limits.
    assert len(redis_round_trips) == 1, redis_round_trips


def test_a_passkey_answer_adds_only_the_starts_own_work(api, redis_round_trips):
    register_on(api, MAC)
    decide(api, user_id="alice")
    redis_round_trips.clear()
    with CaptureQueriesContext(connection) as queries:
        assert decide(api, user_id="alice")["decision"] == "passkey"
    statements = [query["sql"].split()[0] for query in queries.captured_queries]
    assert statements == ["SELECT", "SELECT", "INSERT", "INSERT"], statements  # + the start's event
    assert len(redis_round_trips) == 2, redis_round_trips  # + the challenge
