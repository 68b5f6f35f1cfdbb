"""Which failures mean a backing service is briefly away: the API answers 503, tasks retry later."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# PostgreSQL or Redis unreachable: nothing was changed, the same request may succeed in a moment.
REDIS_UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
BACKEND_UNREACHABLE = (OperationalError, InterfaceError, *REDIS_UNREACHABLE)
# What a Celery task retries: the same, or the broker away.
TRANSIENT = (*BACKEND_UNREACHABLE, BrokerError)
