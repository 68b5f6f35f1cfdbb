"""Concurrent finishes: a challenge is single-use and a counter value is accepted once, across processes.

Each thread is its own client with its own database connection, like separate service workers.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from passkeys.models import Challenge, Credential
from tests.support.authenticator import b64url_decode

ORIGIN = "https://example.com"
FINISH = "/v1/authentications/finish"
THREADS = 16

pytestmark = pytest.mark.django_db(transaction=True)


def _finish_concurrently(key: str, assertions: list[dict]) -> list[tuple[int, dict]]:
    """POST every assertion to finish at the same moment, each from its own client and connection."""
    barrier = threading.Barrier(len(assertions))

    def finish(assertion: dict) -> tuple[int, dict]:
        client = APIClient()
        try:
            connection.ensure_connection()  # connect first, so that the requests race rather than the connects
            barrier.wait(timeout=30)
            response = client.post(FINISH, {"credential": assertion}, format="json", HTTP_AUTHORIZATION=f"Bearer {key}")
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(assertions)) as pool:
        return list(pool.map(finish, assertions))


@pytest.fixture(params=["redis", "database"])
def challenge_store(request, settings) -> str:
    if request.param == "database":
        settings.REDIS_URL = ""
    elif not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    return request.param


@pytest.fixture
def alice(api, authenticator) -> Credential:
    response = api.register(authenticator, "alice")
    assert response.status_code == 201, response.content
    return Credential.objects.get(credential_id=b64url_decode(response.json()["credential"]["id"]))


def test_concurrent_finishes_of_one_challenge_succeed_exactly_once(challenge_store, api, authenticator, alice):
    options = api.authentication_options("alice")
    if challenge_store == "database":
        assert Challenge.objects.count() == 1  # the pending ceremony really is in the database store
    assertion = authenticator.get(options, origin=ORIGIN, sign_count=alice.sign_count + 1)

    results = _finish_concurrently(api.key, [assertion] * THREADS)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [400] * (THREADS - 1), results
    assert all(body["code"] == "challenge_not_found" for status, body in results if status == 400), results
    alice.refresh_from_db()
    assert alice.sign_count == 1
    assert alice.last_used_at is not None


@pytest.mark.parametrize("sign_count", [7, 8, 9])
def test_concurrent_finishes_with_one_counter_value_succeed_at_most_once(api, authenticator, alice, sign_count):
    # Different challenges, so only the sign counter stands between a cloned key and a second login.
    # The race is timing-dependent; several rounds make a missing guard show up reliably.
    assertions = [
        authenticator.get(api.authentication_options("alice"), origin=ORIGIN, sign_count=sign_count)
        for _ in range(THREADS)
    ]

    results = _finish_concurrently(api.key, assertions)

    successes = [body for status, body in results if status == 200]
    failures = [body for status, body in results if status != 200]
    assert len(successes) <= 1, results
    assert all(body["code"] == "sign_count_regression" for body in failures), results
    alice.refresh_from_db()
    assert alice.sign_count == (sign_count if successes else 0)
