"""The OpenAPI schema is exact: schemathesis generates requests from /v1/openapi.json, valid and invalid,
sends them to a live server over HTTP and runs every check on each answer (no 5xx, documented status
codes, content types, headers and bodies; schema-valid requests accepted, schema-invalid ones refused,
405 with Allow for undeclared methods). Fixed seed, derandomized: the same cases on every run.

The exceptions the schema cannot express are in schemathesis.toml and schemathesis_hooks.py beside this
file, each with its reason. A longer run by hand: see schemathesis.toml.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events

from analytics.selectors import EARLIEST_DAY, MAX_REPORT_DAYS
from passkeys import client_tokens
from passkeys.services import authentication_start
from tests.api import schemathesis_hooks  # registers the hooks

CONFIG = Path(__file__).with_name("schemathesis.toml")
# About a minute: every operation through the examples, coverage and fuzzing phases, then stateful.
RUN = {
    "seed": 20261202,
    "generation": {"deterministic": True, "max-examples": 30, "database": "none"},  # no example cache in the tree
    "workers": 1,
    "max-time": 60,
}


def contract_run(url: str, key: str, client_token: str) -> tuple[int, list[str]]:
    """schemathesis's own engine (what its CLI runs) with every check: (cases sent, failures and errors).
    The browsers' reports authenticate with `client_token` instead of the key."""
    settings = tomllib.loads(CONFIG.read_text())
    reports = {"include-path": "/v1/client-events", "headers": {"Authorization": f"Bearer {client_token}"}}
    settings["operations"] = [*settings.get("operations", []), reports]
    config = SchemathesisConfig.from_dict({**settings, **RUN})
    schema = schemathesis.openapi.from_url(f"{url}/v1/openapi.json", config=config)
    schema.config.update(headers={"Authorization": f"Bearer {key}"}, base_url=url)
    cases, problems = 0, []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            for checks in event.recorder.checks.values():
                problems += [
                    f"{event.recorder.label}: {check.name}: {check.failure_info.failure.title}"
                    for check in checks
                    if check.failure_info is not None
                ]
            if event.status == Status.ERROR:
                problems.append(f"{event.recorder.label}: error")
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            problems.append(f"{getattr(event, 'label', 'run')}: {event.info.format()}")
    return cases, sorted(set(problems))


def test_the_api_answers_exactly_as_its_schema_says(live_server, settings, make_tenant, make_api, monkeypatch):
    settings.RATE_LIMIT_METRICS_PER_KEY = settings.RATE_LIMIT_JWKS_PER_IP = settings.RATE_LIMIT_CLIENT_EVENTS_PER_IP = 0
    monkeypatch.setattr(client_tokens, "MAX_REPORTS", 1_000_000)  # one token for every generated report
    api = make_api(make_tenant(rate_limit_per_key=0, rate_limit_per_user=0))  # a key with every scope
    client_token = authentication_start(tenant=api.tenant).client_token

    cases, problems = contract_run(live_server.url, api.key, client_token)

    print(f"schemathesis: {cases} cases, {len(problems)} problems")  # shown with -s: the figure for the notes
    assert problems == []
    assert cases > 500  # the run did reach every operation


def test_the_hooks_use_the_reports_own_bounds():
    assert (schemathesis_hooks.EARLIEST_DAY, schemathesis_hooks.MAX_REPORT_DAYS) == (EARLIEST_DAY, MAX_REPORT_DAYS)
    moved = schemathesis_hooks.within_report_bounds({"from": "0001-01-01", "to": "9999-12-31"})
    first, last = date.fromisoformat(moved["from"]), date.fromisoformat(moved["to"])
    assert EARLIEST_DAY <= first <= last and (last - first).days < MAX_REPORT_DAYS
