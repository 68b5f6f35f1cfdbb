"""DRF throttles over core's rate limiter: which bucket and which limit each API request counts against.

Ceremony requests count per API key and per (tenant, user) with the tenant's limits; adoption
reports per API key and the public JWKS per client IP with limits from settings. The limiter
itself (Redis or database windows) and the login-form middleware live in core.ratelimit.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.ratelimit import RateDecision, rate_limit_address, rate_limit_hit


def _user_digest(user_id: str) -> str:
    # Bounded key length whatever the body holds; validation of the value is the view's job.
    return hashlib.sha256(user_id.encode()).hexdigest()[:32]


class _DecisionThrottle(BaseThrottle):
    decision: RateDecision | None = None

    def wait(self) -> float | None:
        return self.decision.retry_after if self.decision else None


class KeyOwnerThrottle(_DecisionThrottle):
    """A limit on requests made with an API key, in a bucket named by the key id and the tenant: known before
    the key is checked once the process has seen the key, so ApiKeyAuthentication counts it in the round trip
    that reads the key (RateCounts); otherwise it is counted here."""

    def bucket(self, request: Request, *, key_id: int, tenant_id: str) -> str | None:
        """The bucket this request counts in; None if it does not count."""
        raise NotImplementedError

    def limit(self, principal) -> int:
        raise NotImplementedError

    def allow_request(self, request: Request, view) -> bool:
        principal = request.auth
        if principal is None:
            return True  # the permission check has already answered 401
        bucket = self.bucket(request, key_id=principal.key_id, tenant_id=str(principal.tenant.pk))
        if bucket is None:
            return True
        limit = self.limit(principal)
        counts = getattr(request, "rate_counts", None)
        self.decision = (counts and counts.decision(bucket=bucket, limit=limit)) or rate_limit_hit(
            bucket=bucket, limit=limit
        )
        return self.decision.allowed


class ApiKeyRateThrottle(KeyOwnerThrottle):
    """Ceremony requests per minute per API key: Tenant.rate_limit_per_key."""

    def bucket(self, request: Request, *, key_id: int, tenant_id: str) -> str | None:
        return f"key:{key_id}"

    def limit(self, principal) -> int:
        return principal.tenant.rate_limit_per_key


class TenantUserRateThrottle(KeyOwnerThrottle):
    """Ceremony requests per minute per (tenant, user_id in the body): Tenant.rate_limit_per_user.

    Only requests that name the user count: starts and sign-ins. A finish names no user before
    it is verified (and a claimed user handle is the caller's to forge), but it needs a
    challenge that only a start hands out, so limiting starts per user bounds finishes too.
    """

    def bucket(self, request: Request, *, key_id: int, tenant_id: str) -> str | None:
        data = request.data
        user_id = data.get("user_id") if isinstance(data, dict) else None
        if not isinstance(user_id, str) or not user_id:
            return None
        return f"user:{tenant_id}:{_user_digest(user_id)}"

    def limit(self, principal) -> int:
        return principal.tenant.rate_limit_per_user


CEREMONY_THROTTLES = [ApiKeyRateThrottle, TenantUserRateThrottle]


class MetricsKeyRateThrottle(KeyOwnerThrottle):
    """Adoption-report requests per minute per API key: RATE_LIMIT_METRICS_PER_KEY (a report may
    compute up to 400 days on first ask, so it is bounded apart from the ceremonies' budget)."""

    def bucket(self, request: Request, *, key_id: int, tenant_id: str) -> str | None:
        return f"metrics:{key_id}"

    def limit(self, principal) -> int:
        return settings.RATE_LIMIT_METRICS_PER_KEY


class JwksIpRateThrottle(_DecisionThrottle):
    """Requests per minute per client IP to the public JWKS: RATE_LIMIT_JWKS_PER_IP."""

    def allow_request(self, request: Request, view) -> bool:
        bucket = f"jwks:{rate_limit_address(request)}"
        self.decision = rate_limit_hit(bucket=bucket, limit=settings.RATE_LIMIT_JWKS_PER_IP)
        return self.decision.allowed


class ClientEventsIpRateThrottle(_DecisionThrottle):
    """Browsers' outcome reports per minute per client IP: RATE_LIMIT_CLIENT_EVENTS_PER_IP (a preflight is free)."""

    def allow_request(self, request: Request, view) -> bool:
        if request.method != "POST":
            return True
        bucket = f"client-events:{rate_limit_address(request)}"
        self.decision = rate_limit_hit(bucket=bucket, limit=settings.RATE_LIMIT_CLIENT_EVENTS_PER_IP)
        return self.decision.allowed
