"""POST /v1/sign-ins: a sign-in by another method, answered at once with whether to prompt."""

from __future__ import annotations

import uuid

import pytest

from analytics.models import Event, EventType, Nudge
from analytics.services.nudges import nudge_policy_for
from passkeys.services.credentials import credential_import
from tenants import caching
from tests.support.api import assert_problem

GOOGLE = uuid.UUID("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4")  # "Google Password Manager": syncs to Android
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
METHODS = ["password", "otp", "magic_link", "social", "sso", "other"]
READY = {"user_id": "alice", "method": "password", "user_agent": ANDROID, "platform_authenticator_available": True}


def sign_in(api, **body):
    return api.post("/v1/sign-ins", {**READY, **body})


def test_sign_in_that_prompts_answers_the_nudge_and_its_reason(api):
    response = sign_in(api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"nudge", "reason"}
    assert set(body["nudge"]) == {"id", "reason"}
    assert body["reason"] == body["nudge"]["reason"] == "no_passkey_on_platform"
    nudge = Nudge.objects.get(pk=uuid.UUID(body["nudge"]["id"]))
    assert (nudge.tenant, nudge.user_id, nudge.os_family) == (api.tenant, "alice", "Android")


def test_sign_in_that_does_not_prompt_answers_null_and_why(api):
    response = sign_in(api, platform_authenticator_available=False)
    assert response.status_code == 201
    assert response.json() == {"nudge": None, "reason": "platform_authenticator_unavailable"}


def test_platform_signal_may_be_left_out_or_null(api):
    assert sign_in(api, platform_authenticator_available=None).json()["nudge"] is None
    body = {key: value for key, value in READY.items() if key != "platform_authenticator_available"}
    assert api.post("/v1/sign-ins", body).json() == {"nudge": None, "reason": "platform_authenticator_unavailable"}


def test_disabled_policy_answers_null(api):
    policy = nudge_policy_for(api.tenant)
    policy.enabled = False
    policy.save()
    assert sign_in(api).json() == {"nudge": None, "reason": "disabled"}


@pytest.mark.parametrize("method", METHODS)
def test_every_documented_method_is_accepted_and_recorded(api, method):
    assert sign_in(api, method=method).status_code == 201
    event = Event.objects.get(tenant=api.tenant, type=EventType.SIGN_IN)
    assert (event.user_id, event.method, event.os_family, event.browser_family) == (
        "alice",
        method,
        "Android",
        "Chrome Mobile",
    )


def test_a_nudge_decision_is_recorded_with_its_nudge(api):
    nudge_id = sign_in(api).json()["nudge"]["id"]
    decided = Event.objects.get(tenant=api.tenant, type=EventType.NUDGE_DECIDED)
    assert (str(decided.nudge_id), decided.user_id) == (nudge_id, "alice")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "passkey"}, "method"),
        ({"method": "PASSWORD"}, "method"),
        ({"method": None}, "method"),
        ({"user_id": None}, "user_id"),
        ({"user_id": ""}, "user_id"),
        ({"user_id": "x" * 256}, "user_id"),
        ({"platform_authenticator_available": "maybe"}, "platform_authenticator_available"),
        ({"user_agent": ["not", "a", "string"]}, "user_agent"),
    ],
)
def test_invalid_fields_are_validation_errors(api, body, field):
    body = assert_problem(sign_in(api, **body), 400, "validation_error")
    assert field in body["errors"]
    assert not Event.objects.exists()


@pytest.mark.parametrize("missing", ["user_id", "method"])
def test_missing_required_field_is_a_validation_error(api, missing):
    body = {key: value for key, value in READY.items() if key != missing}
    assert missing in assert_problem(api.post("/v1/sign-ins", body), 400, "validation_error")["errors"]


def test_malformed_json_is_a_validation_error(api):
    response = api.client.post("/v1/sign-ins", b"{not json", content_type="application/json", **api._auth())
    assert_problem(response, 400, "validation_error")


def test_key_without_ceremonies_scope_is_refused(make_api, tenant):
    response = sign_in(make_api(tenant, scopes=["metrics:read", "credentials:read"]))
    assert_problem(response, 403, "insufficient_scope")
    assert not Event.objects.exists()
    assert not Nudge.objects.exists()


def test_ceremonies_scope_is_enough(make_api, tenant):
    assert sign_in(make_api(tenant, scopes=["ceremonies"])).status_code == 201


def test_request_without_key_is_refused(api):
    response = api.client.post("/v1/sign-ins", READY, format="json")
    assert_problem(response, 401, "invalid_api_key")


# --- cost -------------------------------------------------------------------------------------------
# Statements one sign-in costs, counted inside the test's transaction, so the request's own transaction
# shows as SAVEPOINT … RELEASE (2 of them), and creating a user's schedule as SAVEPOINT, INSERT, RELEASE.
# The API key comes from the Redis cache (its once-a-minute last-use touch is switched off here).
SIGN_IN_QUERIES = {
    # event, policy, schedule (found), the user's passkeys (none), nudge, schedule update, decision event
    "prompted_again": 2 + 7,
    # the same, the schedule created first
    "prompted_first_time": 2 + 7 + 3,
    # event, policy, schedule, the user's passkeys with where they were registered, schedule update
    "has_passkey": 2 + 5,
    # event, policy
    "disabled": 2 + 2,
}


@pytest.fixture
def warm(api, monkeypatch):
    """A first request has cached the API key, and no last-use UPDATE lands inside a counted request."""
    monkeypatch.setattr(caching, "api_key_touch_due", lambda prefix: False)
    assert sign_in(api, user_id="warm-up").status_code == 201
    return api


def test_a_first_prompting_sign_in_costs_a_known_number_of_queries(warm, django_assert_num_queries):
    with django_assert_num_queries(SIGN_IN_QUERIES["prompted_first_time"]):
        assert sign_in(warm).json()["reason"] == "no_passkey_on_platform"


def test_a_returning_prompted_sign_in_costs_a_known_number_of_queries(warm, django_assert_num_queries):
    sign_in(warm)
    with django_assert_num_queries(SIGN_IN_QUERIES["prompted_again"]):
        assert sign_in(warm).json()["reason"] == "no_passkey_on_platform"


def test_a_sign_in_of_a_user_with_a_usable_passkey_costs_a_known_number_of_queries(warm, django_assert_num_queries):
    credential_import(tenant=warm.tenant, user_id="alice", credential_id=b"\x01" * 16, public_key=b"unused",
                      algorithm=-7, aaguid=GOOGLE, backup_eligible=True, backed_up=True)  # fmt: skip
    sign_in(warm)
    with django_assert_num_queries(SIGN_IN_QUERIES["has_passkey"]):
        assert sign_in(warm).json()["reason"] == "has_passkey"


def test_a_sign_in_with_the_policy_off_costs_a_known_number_of_queries(warm, django_assert_num_queries):
    policy = nudge_policy_for(warm.tenant)
    policy.enabled = False
    policy.save()
    with django_assert_num_queries(SIGN_IN_QUERIES["disabled"]):
        assert sign_in(warm).json()["reason"] == "disabled"
