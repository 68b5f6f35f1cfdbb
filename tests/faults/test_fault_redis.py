"""A Redis crash under live logins: 503 problems while it is down, logins again within seconds after."""

from __future__ import annotations

import pytest

from tests.support.live_ceremonies import RECOVERY_SECONDS, Timeline, assert_credentials_intact, ride_out_fault

pytestmark = pytest.mark.faults


def test_redis_crash_answers_only_503_recovers_within_5_s_and_keeps_every_credential(
    private_redis, shared_server_database, start_stack, record_timeline
):
    stack = start_stack(shared_server_database, private_redis.url)
    before = stack.credentials()
    timeline = Timeline("Redis: redis-server killed (SIGKILL) for 3 s, started again on the same port")

    run = ride_out_fault(
        stack.client, stack.users, timeline, server="redis-server",
        break_it=private_redis.kill, repair_it=private_redis.start,
        lost_challenges_allowed=True,  # no persistence: challenges issued before the crash are gone
    )  # fmt: skip
    record_timeline(timeline)

    assert run.violations() == []
    assert run.unavailable(), "the outage was never felt: no 503 answered while Redis was down"
    first_success = run.first_success_after_repair()
    assert first_success is not None and first_success - run.back_at <= RECOVERY_SECONDS
    assert_credentials_intact(stack.client, stack.users, before, run.attempts)

