"""Rate limits shared by every service process: fixed one-minute windows counted in Redis.

Buckets: per API key and per (tenant, user) on the ceremony endpoints (limits from the tenant),
per client IP on the public JWKS and on the login forms (limits from settings). A limit of 0
turns that limit off.

With REDIS_URL each check is one round trip (SET NX EX, INCR, TTL in one MULTI) and no database
query. Without it the counters live in the database (one upsert), because the embedded mode
still runs several gunicorn workers and an in-process cache would multiply every limit by
their number.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import logging
import math
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection
from django_redis import get_redis_connection
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from tenants.audit import client_ip as caller_address

from .errors import problem_response
from .models import RateLimitCounter

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
KEY_PREFIX = "ratelimit:"
# Views whose POST is a password guess; admin and accounts share one bucket per IP.
LOGIN_VIEW_NAMES = frozenset({"admin:login", "login", "demo:signin", "demo:signup"})
# Without Redis nothing expires rows by itself; each process sweeps passed windows now and then.
DATABASE_PURGE_EVERY = 1000
_database_hits = itertools.count()


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window starts over


def rate_limit_hit(*, bucket: str, limit: int, window: int = WINDOW_SECONDS) -> RateDecision:
    """Count one request against `bucket`; allowed while the window's count is at most `limit`.

    Rejected requests count too, so a client that keeps hammering stays limited until the
    window ends, which is exactly what Retry-After tells it.
    """
    if limit <= 0:
        return RateDecision(allowed=True, count=0, retry_after=0)
    key = KEY_PREFIX + bucket
    try:
        count, retry_after = _redis_hit(key, window) if settings.REDIS_URL else _database_hit(key, window)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        # Fail open: an unreachable limiter must not take down what does not need Redis (the
        # JWKS, the admin login); the ceremonies answer 503 on their own challenge store.
        logger.warning("rate limiter unreachable; allowing %s", bucket)
        return RateDecision(allowed=True, count=0, retry_after=0)
    return RateDecision(allowed=count <= limit, count=count, retry_after=max(1, min(retry_after, window)))


def _redis_hit(key: str, window: int) -> tuple[int, int]:
    # The window starts with the bucket's first request and Redis's own clock ends it, so web
    # processes on machines with skewed clocks still agree.
    pipe = get_redis_connection("default").pipeline(transaction=True)
    pipe.set(key, 0, ex=window, nx=True)
    pipe.incr(key)
    pipe.ttl(key)
    _, count, ttl = pipe.execute()
    return int(count), int(ttl) if ttl > 0 else window


def _database_hit(key: str, window: int) -> tuple[int, int]:
    now = time.time()
    table, key_column, count_column, ends = (
        connection.ops.quote_name(name) for name in (RateLimitCounter._meta.db_table, "key", "count", "window_ends_at")
    )
    # One atomic upsert (PostgreSQL, SQLite >= 3.35): a passed window starts over at 1. The
    # names are our own; only values are parameters.
    sql = (
        f"INSERT INTO {table} ({key_column}, {count_column}, {ends}) VALUES (%s, 1, %s) "  # noqa: S608
        f"ON CONFLICT ({key_column}) DO UPDATE SET "
        f"{count_column} = CASE WHEN {table}.{ends} <= %s THEN 1 ELSE {table}.{count_column} + 1 END, "
        f"{ends} = CASE WHEN {table}.{ends} <= %s THEN excluded.{ends} ELSE {table}.{ends} END "
        f"RETURNING {count_column}, {ends}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, now + window, now, now])
        count, ends_at = cursor.fetchone()
    if next(_database_hits) % DATABASE_PURGE_EVERY == 0:
        RateLimitCounter.objects.filter(window_ends_at__lt=now).delete()
    return int(count), math.ceil(ends_at - now)


def client_ip(request) -> str:
    """The rate-limit bucket of the caller's address (the audit log's rule for which address is the
    caller's); IPv6 is counted per /64, what one subscriber usually holds."""
    address = caller_address(request)
    if address is None:
        return (request.META.get("REMOTE_ADDR") or "unknown")[:64]
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _user_digest(user_id: str) -> str:
    # Bounded key length whatever the body holds; validation of the value is the view's job.
    return hashlib.sha256(user_id.encode()).hexdigest()[:32]


class _DecisionThrottle(BaseThrottle):
    decision: RateDecision | None = None

    def wait(self) -> float | None:
        return self.decision.retry_after if self.decision else None


class ApiKeyRateThrottle(_DecisionThrottle):
    """Ceremony requests per minute per API key: Tenant.rate_limit_per_key."""

    def allow_request(self, request: Request, view) -> bool:
        principal = request.auth
        if principal is None:
            return True  # the permission check has already answered 401
        self.decision = rate_limit_hit(bucket=f"key:{principal.key_id}", limit=principal.tenant.rate_limit_per_key)
        return self.decision.allowed


class TenantUserRateThrottle(_DecisionThrottle):
    """Ceremony requests per minute per (tenant, user_id in the body): Tenant.rate_limit_per_user.

    Only requests that name the user count: starts and sign-ins. A finish names no user before
    it is verified (and a claimed user handle is the caller's to forge), but it needs a
    challenge that only a start hands out, so limiting starts per user bounds finishes too.
    """

    def allow_request(self, request: Request, view) -> bool:
        principal = request.auth
        data = request.data
        user_id = data.get("user_id") if principal is not None and isinstance(data, dict) else None
        if not isinstance(user_id, str) or not user_id:
            return True
        bucket = f"user:{principal.tenant.pk}:{_user_digest(user_id)}"
        self.decision = rate_limit_hit(bucket=bucket, limit=principal.tenant.rate_limit_per_user)
        return self.decision.allowed


CEREMONY_THROTTLES = [ApiKeyRateThrottle, TenantUserRateThrottle]


class MetricsKeyRateThrottle(_DecisionThrottle):
    """Adoption-report requests per minute per API key: RATE_LIMIT_METRICS_PER_KEY (a report may
    compute up to 400 days on first ask, so it is bounded apart from the ceremonies' budget)."""

    def allow_request(self, request: Request, view) -> bool:
        principal = request.auth
        if principal is None:
            return True  # the permission check has already answered 401
        bucket, limit = f"metrics:{principal.key_id}", settings.RATE_LIMIT_METRICS_PER_KEY
        self.decision = rate_limit_hit(bucket=bucket, limit=limit)
        return self.decision.allowed


class JwksIpRateThrottle(_DecisionThrottle):
    """Requests per minute per client IP to the public JWKS: RATE_LIMIT_JWKS_PER_IP."""

    def allow_request(self, request: Request, view) -> bool:
        self.decision = rate_limit_hit(bucket=f"jwks:{client_ip(request)}", limit=settings.RATE_LIMIT_JWKS_PER_IP)
        return self.decision.allowed


def rate_limited_response(retry_after: int):
    response = problem_response(429, "rate_limited", f"Too many requests; retry in {retry_after} seconds.")
    response["Retry-After"] = str(retry_after)
    return response


class LoginRateLimitMiddleware:
    """POSTs to the admin, accounts and demo login forms per client IP: RATE_LIMIT_LOGIN_PER_IP.

    Runs before CSRF so that guesses without a token count too.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if request.method != "POST" or match is None or match.view_name not in LOGIN_VIEW_NAMES:
            return None
        decision = rate_limit_hit(bucket=f"login:{client_ip(request)}", limit=settings.RATE_LIMIT_LOGIN_PER_IP)
        return None if decision.allowed else rate_limited_response(decision.retry_after)
