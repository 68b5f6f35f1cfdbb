"""Prometheus metrics at /metrics: requests by route and status, ceremony outcomes, Celery task outcomes,
and access only from allowed addresses or with the token."""

from __future__ import annotations

import http.client
import os
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from analytics.tasks import purge_expired
from passkey_service.celery import app as celery_app
from tests.support.api import assert_problem
from tests.support.servers import free_port, serve_command, stop_server

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = "passkey_http_requests_total"
LATENCY_COUNT = "passkey_http_request_duration_seconds_count"
CEREMONIES = "passkey_ceremony_outcomes_total"
TASKS = "passkey_celery_task_outcomes_total"


def scrape(client: Client | None = None, **headers) -> dict[tuple[str, frozenset], float]:
    """GET /metrics as Prometheus would and parse every sample."""
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return parse(response.content.decode())


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_ENABLED = True
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "::1"]
    settings.METRICS_TOKEN = ""
    return settings


# --- who may scrape ------------------------------------------------------------------------


def test_metrics_are_served_to_loopback_in_prometheus_text_format(metrics_on):
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    for name in (REQUESTS, CEREMONIES, TASKS):
        assert f"# TYPE {name} counter" in response.content.decode()


def test_openmetrics_is_served_when_the_scraper_asks_for_it(metrics_on):
    response = Client().get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.endswith(b"# EOF\n")


def test_metrics_are_404_to_an_address_not_allowed(metrics_on):
    assert_problem(Client().get("/metrics", REMOTE_ADDR="192.0.2.10"), 404, "not_found")


def test_metrics_are_404_when_disabled_even_to_loopback(metrics_on):
    metrics_on.METRICS_ENABLED = False
    assert_problem(Client().get("/metrics"), 404, "not_found")


def test_allowed_addresses_may_be_networks(metrics_on):
    metrics_on.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert Client().get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert Client().get("/metrics").status_code == 404  # loopback is no longer listed


def test_forwarded_header_does_not_grant_access(metrics_on):
    metrics_on.TRUSTED_PROXY_COUNT = 1  # trusted for rate limits, never for metrics access
    response = Client().get("/metrics", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 404


def test_metrics_token_grants_access_from_any_address(metrics_on):
    metrics_on.METRICS_TOKEN = "scrape-secret"
    headers = {"REMOTE_ADDR": "192.0.2.10"}
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret", **headers).status_code == 200
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **headers).status_code == 404
    assert Client().get("/metrics", **headers).status_code == 404


# --- HTTP requests -------------------------------------------------------------------------


def test_requests_are_counted_by_route_not_raw_path(metrics_on, api):
    route = {"route": "/v1/users/<str:user_id>/credentials", "method": "GET", "status": "200"}
    before = scrape()
    assert api.get("/v1/users/alice/credentials").status_code == 200
    assert api.get("/v1/users/bob/credentials").status_code == 200
    after = scrape()
    assert value(after, REQUESTS, **route) - value(before, REQUESTS, **route) == 2
    assert value(after, LATENCY_COUNT, **route) - value(before, LATENCY_COUNT, **route) == 2
    assert not any("alice" in str(labels) for _, labels in after)


def test_requests_are_counted_by_status(metrics_on, api):
    labels = {"route": "/v1/users/<str:user_id>/credentials", "method": "GET", "status": "401"}
    before = value(scrape(), REQUESTS, **labels)
    Client().get("/v1/users/alice/credentials")  # no key
    assert value(scrape(), REQUESTS, **labels) - before == 1


def test_unknown_paths_share_one_series(metrics_on, db):
    labels = {"route": "<unmatched>", "method": "GET", "status": "404"}
    before = value(scrape(), REQUESTS, **labels)
    Client().get("/no/such/path/1")
    Client().get("/no/such/path/2")
    assert value(scrape(), REQUESTS, **labels) - before == 2


def test_answers_given_before_routing_still_name_the_route(metrics_on, api):
    labels = {"route": "/v1/registrations/start", "method": "POST", "status": "413"}
    before = value(scrape(), REQUESTS, **labels)
    api.client.post("/v1/registrations/start", {"x": "a" * 70_000}, format="json")
    assert value(scrape(), REQUESTS, **labels) - before == 1


def test_unusual_methods_share_one_label(metrics_on, db):
    before = scrape()
    Client().generic("BREW", "/healthz")
    after = scrape()
    labels = {"route": "/healthz", "method": "other", "status": "405"}
    assert value(after, REQUESTS, **labels) - value(before, REQUESTS, **labels) == 1


# --- ceremony outcomes ---------------------------------------------------------------------


def test_ceremony_successes_are_counted(metrics_on, api, authenticator):
    before = scrape()
    assert api.register(authenticator).status_code == 201
    assert api.login(authenticator).status_code == 200
    after = scrape()
    for ceremony in ("registration", "authentication"):
        labels = {"ceremony": ceremony, "outcome": "succeeded", "code": "ok"}
        assert value(after, CEREMONIES, **labels) - value(before, CEREMONIES, **labels) == 1


def test_ceremony_failures_are_counted_by_code(metrics_on, api, authenticator):
    assert api.register(authenticator).status_code == 201
    labels = {"ceremony": "authentication", "outcome": "failed", "code": "origin_not_allowed"}
    before = value(scrape(), CEREMONIES, **labels)
    assert api.login(authenticator, origin="https://evil.example").status_code == 400
    assert value(scrape(), CEREMONIES, **labels) - before == 1


# --- Celery task outcomes ------------------------------------------------------------------


@celery_app.task(name="tests.prometheus.fails")
def fails() -> None:
    raise ValueError("boom")


@celery_app.task(name="tests.prometheus.retries", bind=True)
def retries_once(self) -> str:
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return "done"


def test_celery_task_success_is_counted(metrics_on, db):
    labels = {"task": "analytics.tasks.purge_expired", "outcome": "success"}
    before = value(scrape(), TASKS, **labels)
    purge_expired.apply()
    assert value(scrape(), TASKS, **labels) - before == 1


def test_celery_task_failure_is_counted(metrics_on, db):
    labels = {"task": "tests.prometheus.fails", "outcome": "failure"}
    before = value(scrape(), TASKS, **labels)
    assert fails.apply(throw=False).failed()
    assert value(scrape(), TASKS, **labels) - before == 1


def test_celery_task_retry_is_counted(metrics_on, db):
    labels = {"task": "tests.prometheus.retries", "outcome": "retry"}
    before = scrape()
    retries_once.apply(throw=False)  # eagerly: the retry runs (and succeeds) inside the first call
    after = scrape()
    assert value(after, TASKS, **labels) - value(before, TASKS, **labels) == 1
    succeeded = {"task": "tests.prometheus.retries", "outcome": "success"}
    assert value(after, TASKS, **succeeded) - value(before, TASKS, **succeeded) == 1


# --- several processes ---------------------------------------------------------------------


@pytest.fixture
def granian(tmp_path) -> Iterator[int]:
    """Two granian workers sharing a PROMETHEUS_MULTIPROC_DIR, as the image runs its four: scripts/serve's command
    line (tests/test_deployment.py holds it and the Dockerfile's to the same server)."""
    port = free_port()
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "METRICS_ENABLED": "true",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    command = serve_command(port)
    workers = int(command[command.index("--workers") + 1])
    log = tmp_path / "granian.log"
    with log.open("wb") as out:
        # Its own process group, so stop_server reaches workers their master left behind.
        process = subprocess.Popen(  # noqa: S603 - our own granian, scripts/serve's arguments
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        # granian listens before its workers have imported the app: wait until each has started and /healthz answers.
        deadline = time.monotonic() + 60
        while log.read_text().count("Started worker-") < workers or not _healthy(port):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"granian did not serve /healthz with {workers} workers:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield port
    finally:
        stop_server(process)


def _healthy(port: int) -> bool:
    try:
        return _get(port, "/healthz")[0] == 200
    except OSError:
        return False


def _get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_multiprocess_mode_sums_the_counts_of_every_worker(granian, tmp_path):
    labels = {"route": "/healthz", "method": "GET", "status": "200"}
    before = value(parse(_get(granian, "/metrics")[1]), REQUESTS, **labels)
    sent, written_by = 0, set()
    with ThreadPoolExecutor(8) as pool:
        while len(written_by) < 2 and sent < 400:  # until both workers have answered some
            assert set(pool.map(lambda _: _get(granian, "/healthz")[0], range(40))) == {200}
            sent += 40
            written_by = {path.name for path in (tmp_path / "prometheus").glob("counter_*.db")}
    assert len(written_by) == 2, written_by  # each worker writes its own samples
    for _ in range(4):  # whichever worker answers the scrape reports both workers' counts
        assert value(parse(_get(granian, "/metrics")[1]), REQUESTS, **labels) - before == sent
