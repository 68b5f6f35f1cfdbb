"""schemathesis hooks for the contract run (SCHEMATHESIS_HOOKS=tests.api.schemathesis_hooks by hand).

A metrics range relates two parameters and today's date (from <= to <= today, at most 400 days, none
before 2000), which OpenAPI 3.0 cannot say; generated dates that parse are moved into that window so
positive cases stay positive. The 400s outside it are tested in tests/api/test_metrics_bounds.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import schemathesis

METRICS_PATH = "/v1/metrics/adoption"
# analytics.selectors' bounds, repeated so the CLI can load this module without Django (a test checks them).
EARLIEST_DAY, MAX_REPORT_DAYS = date(2000, 1, 1), 400
# The span of the ranges sent here. The first ask of a range computes its missing past days in the request: 400 days
# took 20 s on the 2-core CI machine, past schemathesis's 10 s read timeout and most of the run's minute. The full
# 400 days, and the 400s beyond, are tested in tests/api/test_metrics_bounds.py.
CONTRACT_SPAN_DAYS = 31


def _day(value) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


@schemathesis.hook
def before_call(context, case, kwargs):
    """Every phase's metrics request (coverage cases too, which skip map_* hooks) within the window."""
    if case.operation.path == METRICS_PATH and case.query:
        case.query = within_report_bounds(case.query)


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep every failure but one that is the contract itself: user ids may hold "/" and servers decode
    %2F before routing, so DELETE /v1/users/x/credentials is DELETE /v1/users/x%2Fcredentials, the
    erasure of user "x/credentials" (204, or 400 when that id is too long), not an undeclared method on
    x's credential list."""
    return not (
        failure.code == "ST204"
        and case.method == "DELETE"
        and case.operation.path == "/v1/users/{user_id}/credentials"
        and response.status_code in (204, 400)
    )


def within_report_bounds(query: dict) -> dict:
    """Dates that parse, moved into [2000-01-01, today] and at most CONTRACT_SPAN_DAYS apart; anything else
    untouched."""
    today = datetime.now(UTC).date()
    span = (today - EARLIEST_DAY).days + 1
    days = {name: _day(query.get(name)) for name in ("from", "to")}
    moved = {name: today - timedelta(days=day.toordinal() % span) for name, day in days.items() if day}
    if "from" in moved and "to" in moved:
        first, last = sorted((moved["from"], moved["to"]))
        moved = {"from": max(first, last - timedelta(days=CONTRACT_SPAN_DAYS - 1)), "to": last}
    elif "from" in moved and "to" not in query:
        moved["from"] = today - timedelta(days=days["from"].toordinal() % CONTRACT_SPAN_DAYS)
    return {**query, **{name: day.isoformat() for name, day in moved.items()}}
