"""A PostgreSQL restart or crash under live logins, on a private cluster: 503 problems while it is down, logins again
within seconds after, and every credential as it was."""

from __future__ import annotations

import pytest

from tests.support.live_ceremonies import RECOVERY_SECONDS, Timeline, assert_credentials_intact, ride_out_fault

pytestmark = pytest.mark.faults


# "fast" is an orderly restart (sessions are told to go); "immediate" is a crash, recovered from the WAL.
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_answers_only_503_recovers_within_5_s_and_keeps_every_credential(
    mode, private_postgres, private_redis, start_stack, record_timeline
):
    stack = start_stack(private_postgres.create_database("passkeys"), private_redis.url)
    before = stack.credentials()
    timeline = Timeline(f"PostgreSQL: private cluster stopped (pg_ctl stop -m {mode}) for 3 s, started again")

    run = ride_out_fault(
        stack.client, stack.users, timeline, server="PostgreSQL",
        break_it=lambda: private_postgres.stop(mode), repair_it=private_postgres.start,
    )  # fmt: skip
    record_timeline(timeline)

    assert run.violations() == []
    assert run.unavailable(), "the outage was never felt: no 503 answered while PostgreSQL was down"
    first_success = run.first_success_after_repair()
    assert first_success is not None and first_success - run.back_at <= RECOVERY_SECONDS
    assert_credentials_intact(stack.client, stack.users, before, run.attempts)
