"""Webhook settings, each with a default; the project's settings module may override any of them."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def timeout_seconds() -> float:
    """How long one delivery waits for the endpoint to connect and answer."""
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 5.0))


def deadline_seconds() -> float:
    """The most one delivery may take in all (connect, TLS, send, read): a trickling receiver is cut off."""
    return float(getattr(settings, "WEBHOOK_DEADLINE_SECONDS", 10.0))


def max_in_flight_per_endpoint() -> int:
    """How many attempts to one endpoint may run at once, so one slow endpoint cannot hold every worker."""
    return max(1, int(getattr(settings, "WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT", 4)))


def sweep_concurrency() -> int:
    """How many deliveries a sweep run without workers (embedded mode, the command) sends at once."""
    return max(1, int(getattr(settings, "WEBHOOK_SWEEP_CONCURRENCY", 8)))


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Networks the operator opens to webhooks on purpose (default none: the public internet only)."""
    value = getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", [])
    items = value.split(",") if isinstance(value, str) else value
    try:
        return [ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip()]
    except ValueError as error:
        raise ImproperlyConfigured(f"WEBHOOK_ALLOWED_NETWORKS: {error}") from None


def max_attempts() -> int:
    return int(getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 8))


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the `attempts`-th failed attempt: base, 4×base, 16×base, … capped (30 s … 12 h)."""
    base = float(getattr(settings, "WEBHOOK_RETRY_BASE_SECONDS", 30.0))
    cap = float(getattr(settings, "WEBHOOK_RETRY_MAX_SECONDS", 12 * 3600.0))
    return timedelta(seconds=min(base * 4 ** max(attempts - 1, 0), cap))


def secret_overlap() -> timedelta:
    """How long a rotated-out secret keeps signing alongside the new one."""
    return timedelta(seconds=float(getattr(settings, "WEBHOOK_SECRET_OVERLAP_SECONDS", 24 * 3600.0)))
