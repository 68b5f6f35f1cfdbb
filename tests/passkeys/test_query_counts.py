"""The ceremony hot paths do a known, small number of queries (STYLE: write that number down).

Measured warm: the API key and tenant come from the Redis cache, the token-signing key from the
process, challenges live in Redis. Each count below is the whole request, including the one INSERT
with which analytics records the ceremony's event.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.authenticator import SoftAuthenticator


@pytest.fixture
def registered(api, authenticator):
    assert api.register(authenticator).status_code == 201
    assert api.login(authenticator, "alice").status_code == 200  # warms key cache and signing key
    return authenticator


def _queries(call) -> tuple[object, list[str]]:
    """Statements a request sends. Savepoints are left out: the test runs inside a transaction, so
    a service's atomic block shows up as SAVEPOINT/RELEASE here and as BEGIN/COMMIT in production."""
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return result, [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_authentication_finish_costs_one_lookup_one_update_and_its_event(api, registered):
    options = api.authentication_options("alice")
    assertion = registered.get(options, origin="https://example.com")
    response, queries = _queries(lambda: api.post("/v1/authentications/finish", {"credential": assertion}))
    assert response.status_code == 200
    assert [q.split()[0] for q in queries] == ["SELECT", "UPDATE", "INSERT"], queries
    assert "analytics_event" in queries[2]


def test_discoverable_authentication_start_costs_only_its_event(api, registered):
    response, queries = _queries(lambda: api.post("/v1/authentications/start", {}))
    assert response.status_code == 200
    assert len(queries) == 1 and queries[0].startswith('INSERT INTO "analytics_event"'), queries


def test_user_bound_authentication_start_costs_one_query_and_its_event(api, registered):
    response, queries = _queries(lambda: api.post("/v1/authentications/start", {"user_id": "alice"}))
    assert response.status_code == 200
    assert [q.split()[0] for q in queries] == ["SELECT", "INSERT"], queries


def test_registration_start_for_known_user_costs_two_queries_and_its_event(api, registered):
    body = {"user_id": "alice", "username": "alice"}
    response, queries = _queries(lambda: api.post("/v1/registrations/start", body))
    assert response.status_code == 200
    # the user's handle, their credentials for excludeCredentials, the event
    assert [q.split()[0] for q in queries] == ["SELECT", "SELECT", "INSERT"], queries


def test_registration_finish_costs_one_insert_its_event_and_the_open_nudges(api, registered):
    second = type(registered)()
    options = api.registration_options("alice")
    credential = second.create(options, origin="https://example.com")
    response, queries = _queries(lambda: api.post("/v1/registrations/finish", {"credential": credential}))
    assert response.status_code == 201
    assert [q.split()[0] for q in queries] == ["INSERT", "SELECT", "SELECT", "INSERT"], queries
    assert "analytics_nudge" in queries[1] and "FOR UPDATE" in queries[1]  # the nudges this passkey answers
    assert "analytics_nudge" in queries[2]  # none open: one the frontend already reported accepted
    assert "analytics_event" in queries[3]  # its event, naming the nudge it accepted


def test_credential_list_costs_the_user_and_their_credentials(api, registered):
    for _ in range(2):
        assert api.register(SoftAuthenticator()).status_code == 201
    response, queries = _queries(lambda: api.get("/v1/users/alice/credentials"))
    assert response.status_code == 200 and len(response.json()["credentials"]) == 3
    assert [q.split()[0] for q in queries] == ["SELECT", "SELECT"], queries  # not one more per credential


def test_login_costs_two_redis_round_trips_each_for_start_and_finish(api, registered, redis_round_trips):
    """The key's cache entry with the rate-limit counts, then the challenge (stored by the start, taken by the
    finish); the tenant's webhook subscriptions come from the process."""
    response = api.post("/v1/authentications/start", {})
    assert response.status_code == 200
    assert len(redis_round_trips) == 2, redis_round_trips
    assertion = registered.get(response.json()["public_key"], origin="https://example.com")
    redis_round_trips.clear()
    assert api.post("/v1/authentications/finish", {"credential": assertion}).status_code == 200
    assert len(redis_round_trips) == 2, redis_round_trips
    assert b"GETDEL" in redis_round_trips[1]
