"""Webhook settings, each with a default; the project's settings module may override any of them."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def timeout_seconds() -> float:
    """How long one delivery waits for the endpoint to connect and answer."""
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 5.0))


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
