"""The challenge store: where challenges live, how long, and how they are cleaned up."""

from __future__ import annotations

import time

import pytest

from analytics.tasks import purge_expired
from passkeys import challenges
from passkeys.challenges import AUTHENTICATION, EXPIRED_GRACE_SECONDS, PendingCeremony
from passkeys.models import Challenge


def _pending(tenant, challenge: str, expires_in: float) -> PendingCeremony:
    return PendingCeremony(
        tenant_id=str(tenant.pk),
        ceremony=AUTHENTICATION,
        challenge=challenge,
        user_verification="preferred",
        expires_at=time.time() + expires_in,
    )


def test_redis_entries_expire_after_timeout_plus_grace(tenant):
    pending = _pending(tenant, "abc", tenant.challenge_timeout)
    challenges.challenge_save(pending)
    ttl = challenges._redis().ttl(pending.key)
    assert tenant.challenge_timeout < ttl <= tenant.challenge_timeout + EXPIRED_GRACE_SECONDS + 1


@pytest.fixture
def database_store(settings):
    settings.REDIS_URL = ""


def test_database_store_consumes_once(tenant, database_store):
    challenges.challenge_save(_pending(tenant, "once", 60))
    assert challenges.challenge_consume(tenant_id=str(tenant.pk), ceremony=AUTHENTICATION, challenge="once")
    with pytest.raises(challenges.PasskeyError) as error:
        challenges.challenge_consume(tenant_id=str(tenant.pk), ceremony=AUTHENTICATION, challenge="once")
    assert error.value.code == "challenge_not_found"
    assert not Challenge.objects.exists()


def test_purge_task_deletes_only_challenges_past_their_grace(tenant, database_store):
    challenges.challenge_save(_pending(tenant, "stale", -EXPIRED_GRACE_SECONDS - 5))
    challenges.challenge_save(_pending(tenant, "recently-expired", -5))
    challenges.challenge_save(_pending(tenant, "live", 60))
    assert purge_expired.apply().get() == {"challenges": 1, "events": 0}
    assert set(Challenge.objects.values_list("key", flat=True)) == {
        challenges.challenge_key(str(tenant.pk), AUTHENTICATION, "recently-expired"),
        challenges.challenge_key(str(tenant.pk), AUTHENTICATION, "live"),
    }
