"""Reads of the analytics domain: the adoption report the API and the dashboard both show."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from django.utils import timezone

from tenants.models import Tenant

from .models import DailyMetric
from .services.metrics import BREAKDOWNS, COUNTED, day_figures

MAX_REPORT_DAYS = 366
STORED = [*COUNTED, "users", "passkey_users", *BREAKDOWNS]


def _rate(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


def _day_row(day: date, figures: dict) -> dict:
    return {
        "date": day.isoformat(),
        "users": figures["users"],
        "passkey_users": figures["passkey_users"],
        "adoption_rate": _rate(figures["passkey_users"], figures["users"]),
        "sign_ins": figures["sign_ins"],
        "passkey_sign_ins": figures["passkey_sign_ins"],
        "passkey_sign_in_rate": _rate(figures["passkey_sign_ins"], figures["sign_ins"]),
        "registrations_started": figures["registrations_started"],
        "registrations_completed": figures["registrations_completed"],
        "registration_completion_rate": _rate(figures["registrations_completed"], figures["registrations_started"]),
        "authentications_started": figures["authentications_started"],
        "authentications_completed": figures["authentications_completed"],
        "authentication_failures": figures["authentication_failures"],
        "authentication_success_rate": _rate(figures["authentications_completed"], figures["authentications_started"]),
        "nudges_shown": figures["nudges_shown"],
        "nudges_accepted": figures["nudges_accepted"],
        "nudges_dismissed": figures["nudges_dismissed"],
        "nudge_conversion_rate": _rate(figures["nudges_accepted"], figures["nudges_shown"]),
    }


def adoption_report(*, tenant: Tenant, first: date, last: date) -> dict:
    """The daily series and breakdowns for [first, last]: stored days as computed by the job, today and
    days the job has not reached yet computed live from the same SQL (not stored: a read writes nothing)."""
    today = timezone.now().date()
    stored = {
        metric.date: {name: getattr(metric, name) for name in STORED}
        for metric in DailyMetric.objects.filter(tenant=tenant, date__gte=first, date__lte=last)
    }
    days, breakdowns = [], {"os": Counter(), "browser": Counter(), "provider": Counter()}
    day = first
    while day <= last:
        figures = stored[day] if day in stored and day < today else day_figures(tenant=tenant, day=day)
        days.append(_day_row(day, figures))
        for key, name in (("os", "os_breakdown"), ("browser", "browser_breakdown"), ("provider", "provider_breakdown")):
            breakdowns[key].update(figures[name])
        day += timedelta(days=1)
    return {
        "tenant_id": str(tenant.pk),
        "from": first.isoformat(),
        "to": last.isoformat(),
        "days": days,
        "breakdowns": {key: dict(counter.most_common()) for key, counter in breakdowns.items()},
    }
