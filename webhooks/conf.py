"""Webhook settings as the app uses them; each is read from the environment in passkey_service/settings.py.

No defaults here: settings.py holds the one default of each, so what the operator sets is what runs.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def timeout_seconds() -> float:
    """How long one delivery waits for the endpoint to connect and answer."""
    return float(settings.WEBHOOK_TIMEOUT_SECONDS)


def deadline_seconds() -> float:
    """The most one delivery may take in all (connect, TLS, send, read): a trickling receiver is cut off."""
    return float(settings.WEBHOOK_DEADLINE_SECONDS)


def max_in_flight_per_endpoint() -> int:
    """How many attempts to one endpoint may run at once, so one slow endpoint cannot hold every worker."""
    return max(1, int(settings.WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT))


def sweep_concurrency() -> int:
    """How many deliveries a sweep run without workers (embedded mode, the command) sends at once."""
    return max(1, int(settings.WEBHOOK_SWEEP_CONCURRENCY))


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Networks the operator opens to webhooks on purpose (none: the public internet only)."""
    value = settings.WEBHOOK_ALLOWED_NETWORKS
    items = value.split(",") if isinstance(value, str) else value
    try:
        return [ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip()]
    except ValueError as error:
        raise ImproperlyConfigured(f"WEBHOOK_ALLOWED_NETWORKS: {error}") from None


def max_attempts() -> int:
    return int(settings.WEBHOOK_MAX_ATTEMPTS)


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the `attempts`-th failed attempt: base, 4×base, 16×base, … capped (30 s … 12 h)."""
    base = float(settings.WEBHOOK_RETRY_BASE_SECONDS)
    cap = float(settings.WEBHOOK_RETRY_MAX_SECONDS)
    return timedelta(seconds=min(base * 4 ** max(attempts - 1, 0), cap))


def secret_overlap() -> timedelta:
    """How long a rotated-out secret keeps signing alongside the new one."""
    return timedelta(seconds=float(settings.WEBHOOK_SECRET_OVERLAP_SECONDS))
