"""Single-use ceremony challenges, kept where every service process sees them.

Redis when REDIS_URL is set (SET with expiry, GETDEL to consume), the database otherwise
(INSERT, DELETE … RETURNING). Either way a consume is one atomic round trip, so of many
concurrent finishes with one challenge exactly one gets the state. Whether the ceremony is still
within its timeout is the adapter's check (passkeys.webauthn.checks), with the other ceremony rules.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from django_redis import get_redis_connection

from core.encoding import b64url_encode
from core.errors import ErrorCode

from .errors import PasskeyError
from .models import Challenge

# Entries outlive their timeout by this much so a late finish hears "expired", not "unknown".
EXPIRED_GRACE_SECONDS = 600

REGISTRATION = "registration"
AUTHENTICATION = "authentication"


@dataclass(frozen=True)
class PendingCeremony:
    """What start decided and finish must hold the response to."""

    tenant_id: str
    ceremony: str
    challenge: str  # base64url, as it appears in clientDataJSON
    user_verification: str
    expires_at: float
    user_pk: int | None = None
    user_id: str | None = None
    user_handle: str | None = None  # hex; registration shows it with the new credential
    algorithms: list[int] = field(default_factory=list)
    mediation: str | None = None  # "conditional" or "immediate" as start was asked; None for a modal ceremony

    @property
    def key(self) -> str:
        return challenge_key(self.tenant_id, self.ceremony, self.challenge)

    @property
    def ref(self) -> str:
        return ceremony_ref(self.challenge)


def ceremony_ref(challenge: str) -> str:
    """A ceremony's name in its events (started, succeeded, the browser's reports): 128 bits of its challenge's
    digest, so the link outlives the challenge without storing a value that once answered for it."""
    return b64url_encode(hashlib.sha256(challenge.encode()).digest()[:16])


def challenge_key(tenant_id: str, ceremony: str, challenge: str) -> str:
    return f"challenge:{tenant_id}:{ceremony}:{challenge}"


def _redis():
    """The cache's own Redis client and pool, used raw for GETDEL."""
    return get_redis_connection("default")


def challenge_save(pending: PendingCeremony) -> None:
    value = json.dumps(asdict(pending))
    keep_until = pending.expires_at + EXPIRED_GRACE_SECONDS
    if settings.REDIS_URL:
        _redis().set(pending.key, value, ex=int(keep_until - time.time()) + 1)
    else:
        Challenge.objects.create(key=pending.key, state=value, expires_at=datetime.fromtimestamp(keep_until, tz=UTC))


def challenge_consume(*, tenant_id: str, ceremony: str, challenge: str) -> PendingCeremony:
    """Take the pending ceremony for this challenge, expired or not; a second consume finds nothing."""
    key = challenge_key(tenant_id, ceremony, challenge)
    if settings.REDIS_URL:
        value = _redis().getdel(key)
    else:
        # Raw SQL because the ORM cannot DELETE … RETURNING (PostgreSQL, SQLite >= 3.35);
        # only the value is a parameter, the names are our own.
        table, column = connection.ops.quote_name(Challenge._meta.db_table), connection.ops.quote_name("key")
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE {column} = %s RETURNING state", [key])  # noqa: S608
            row = cursor.fetchone()
        value = row[0] if row else None
    if value is None:
        raise PasskeyError("No pending ceremony has this challenge.", code=ErrorCode.CHALLENGE_NOT_FOUND)
    return PendingCeremony(**json.loads(value))


def challenges_purge_expired() -> int:
    """Delete database-held challenges past their grace period (Redis expires its own)."""
    deleted, _ = Challenge.objects.filter(expires_at__lt=datetime.now(tz=UTC)).delete()
    return deleted


def redis_ping() -> None:
    _redis().ping()
