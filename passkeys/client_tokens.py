"""Client tokens: what lets the relying party's page report how a ceremony ended in the browser.

Each start answer carries one. It is AES-GCM under a key derived from the service's secret, so it is
opaque (it shows no tenant, user or challenge) and unforgeable, and reading it needs no storage. It
names the tenant, the ceremony (by `ceremony_ref`, never the challenge), the user a start was bound to,
and when it stops working: the challenge's expiry plus 10 minutes. Spending it (at most 10 reports) is
one counter in the rate limiter's store, named by the token's digest. It is not an API key, and an API
key is not one: they are told apart by their form before anything is looked up.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from core.crypto import decrypt, encrypt
from core.encoding import b64url_decode, b64url_encode
from core.errors import DomainError, ErrorCode
from core.ratelimit import rate_limit_hit

from .challenges import EXPIRED_GRACE_SECONDS, PendingCeremony

PREFIX = "pct_"
PURPOSE = b"client-token v1"
MAX_REPORTS = 10
# Sealed JSON is short; anything much longer than the longest possible token is not one.
MAX_TOKEN_LENGTH = 1024
VALID_AFTER_EXPIRY_SECONDS = EXPIRED_GRACE_SECONDS  # 10 minutes, as the contract says


@dataclass(frozen=True)
class ClientTokenClaims:
    tenant_id: str
    ceremony: str  # "registration" or "authentication"
    ceremony_ref: str
    user_id: str | None  # the user a start was bound to
    mediation: str | None
    valid_until: float
    digest: str  # names the token's report counter

    @property
    def remaining_seconds(self) -> int:
        return max(1, int(self.valid_until - time.time()) + 1)


def _invalid(detail: str = "The client token is missing, malformed, expired or used up.") -> DomainError:
    return DomainError(detail, code=ErrorCode.INVALID_CLIENT_TOKEN)


def client_token_issue(pending: PendingCeremony) -> str:
    """The token for `pending`'s ceremony, valid until its challenge's expiry plus 10 minutes."""
    valid_until = int(pending.expires_at + VALID_AFTER_EXPIRY_SECONDS)
    claims = [pending.tenant_id, pending.ceremony, pending.ref, pending.user_id, pending.mediation, valid_until]
    sealed = encrypt(json.dumps(claims, separators=(",", ":")).encode(), purpose=PURPOSE, associated_data=b"")
    return PREFIX + b64url_encode(sealed)


def client_token_read(token: str) -> ClientTokenClaims:
    """The claims of a token this service issued and that has not expired; any other string is refused alike."""
    if not token.startswith(PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        raise _invalid()
    try:
        sealed = b64url_decode(token[len(PREFIX) :])
        tenant_id, ceremony, ref, user_id, mediation, valid_until = json.loads(
            decrypt(sealed, purpose=PURPOSE, associated_data=b"")
        )
    except (DomainError, InvalidTag, ValueError, TypeError):
        raise _invalid() from None
    if valid_until <= time.time():
        raise _invalid("The client token has expired.")
    return ClientTokenClaims(
        tenant_id=tenant_id,
        ceremony=ceremony,
        ceremony_ref=ref,
        user_id=user_id,
        mediation=mediation,
        valid_until=valid_until,
        digest=hashlib.sha256(token.encode()).hexdigest()[:32],
    )


def client_token_spend(claims: ClientTokenClaims) -> None:
    """Count one report against the token; the 11th is refused. The counter lives as long as the token."""
    spent = rate_limit_hit(bucket=f"client-token:{claims.digest}", limit=MAX_REPORTS, window=claims.remaining_seconds)
    if not spent.allowed:
        raise _invalid(f"The client token has made its {MAX_REPORTS} reports.")
