"""Rate limits shared by every service process: fixed one-minute windows counted in Redis.

Buckets: per API key and per (tenant, user) on the ceremony endpoints (limits from the tenant,
applied by api.throttling), per client IP on the public JWKS, the login forms and the demo's
passkey sign-in (limits from settings). A limit of 0 turns that limit off.

With REDIS_URL each check is one round trip (SET NX EX, INCR, TTL in one MULTI) and no database
query. Without it the counters live in the database (one upsert), because the embedded mode
still runs several gunicorn workers and an in-process cache would multiply every limit by
their number.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django_redis import get_redis_connection

from .errors import ErrorCode
from .http import client_ip
from .models import RateLimitCounter
from .problems import problem_response
from .transient import REDIS_UNREACHABLE

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
        if settings.REDIS_URL:
            pipe = get_redis_connection("default").pipeline(transaction=True)
            _redis_count(pipe, key, window)
            count, ttl = pipe.execute()[-2:]
        else:
            count, ttl = _database_hit(key, window)
    except REDIS_UNREACHABLE:
        # Fail open: an unreachable limiter must not take down what does not need Redis (the
        # JWKS, the admin login); the ceremonies answer 503 on their own challenge store.
        logger.warning("rate limiter unreachable; allowing %s", bucket)
        return RateDecision(allowed=True, count=0, retry_after=0)
    return _decision(count, ttl, limit, window)


def _decision(count: int, ttl: int, limit: int, window: int) -> RateDecision:
    retry_after = int(ttl) if ttl > 0 else window
    return RateDecision(allowed=count <= limit, count=int(count), retry_after=max(1, min(retry_after, window)))


def _redis_count(pipe, key: str, window: int) -> None:
    # The window starts with the bucket's first request and Redis's own clock ends it, so web
    # processes on machines with skewed clocks still agree. Three commands, one round trip.
    pipe.set(key, 0, ex=window, nx=True)
    pipe.incr(key)
    pipe.ttl(key)


# GET a cache entry and, only if it holds a value other than ARGV[2] (a tombstone), count KEYS[2..] as _redis_count
# does: one round trip, and a request whose secret is not a cached key (a forged secret with a real key's prefix, a
# revoked key) counts in no bucket. EVAL, not EVALSHA: a fixed single round trip, also on a Redis that restarted.
_ENTRY_THEN_COUNTS = """
local results = {redis.call('GET', KEYS[1])}
if not results[1] or results[1] == ARGV[2] then return results end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], 0, 'EX', ARGV[1], 'NX')
  results[#results + 1] = redis.call('INCR', KEYS[i])
  results[#results + 1] = redis.call('TTL', KEYS[i])
end
return results
"""


class RateCounts:
    """Counts for a request's buckets, taken in a round trip that another Redis read makes anyway (the API key's
    cache entry), so that a ceremony's rate limits cost no round trip of their own. Counted before the limits are
    known; `decision` compares once they are."""

    def __init__(self, buckets: list[str], window: int = WINDOW_SECONDS) -> None:
        self.buckets, self.window = buckets, window
        self._counted: dict[str, tuple[int, int]] = {}

    def entry_then_count(self, connection, entry: str, *, unless: bytes) -> bytes | None:
        """The raw value of the cache entry `entry`; the buckets are counted in the same round trip only if it holds
        one other than `unless`: the entry proves the request's key, which these buckets were named after."""
        keys = [entry, *(KEY_PREFIX + bucket for bucket in self.buckets)]
        raw, *counted = connection.eval(_ENTRY_THEN_COUNTS, len(keys), *keys, self.window, unless)
        for bucket, count, ttl in zip(self.buckets, counted[0::2], counted[1::2], strict=False):  # none on a miss
            self._counted[bucket] = (int(count), int(ttl))
        return raw

    def decision(self, *, bucket: str, limit: int) -> RateDecision | None:
        """The decision for a bucket counted here; None if it was not (then rate_limit_hit counts it)."""
        if bucket not in self._counted:
            return None
        if limit <= 0:
            return RateDecision(allowed=True, count=0, retry_after=0)
        return _decision(*self._counted[bucket], limit, self.window)


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


def rate_limit_address(request: HttpRequest) -> str:
    """The rate-limit bucket of the caller's address (core.http.client_ip's rule for which address
    is the caller's); IPv6 is counted per /64, what one subscriber usually holds."""
    address = client_ip(request)
    if address is None:
        return (request.META.get("REMOTE_ADDR") or "unknown")[:64]
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def rate_limited_response(retry_after: int) -> HttpResponse:
    response = problem_response(ErrorCode.RATE_LIMITED, f"Too many requests; retry in {retry_after} seconds.")
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
        decision = rate_limit_hit(bucket=f"login:{rate_limit_address(request)}", limit=settings.RATE_LIMIT_LOGIN_PER_IP)
        return None if decision.allowed else rate_limited_response(decision.retry_after)
