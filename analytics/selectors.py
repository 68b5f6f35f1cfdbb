"""Reads of the analytics domain: the adoption report the API and the dashboard both show."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from django.utils import timezone

from tenants.errors import DomainError
from tenants.models import Tenant

from .services.metrics import BREAKDOWNS, COUNTED, adoption_metrics_stored, day_figures

# A report's bounds: each past day of it is computed once (six queries) and then read from its row,
# so the first request for the longest range costs at most MAX_REPORT_DAYS computed days.
MAX_REPORT_DAYS = 400
EARLIEST_DAY = date(2000, 1, 1)  # no passkey existed before; keeps date arithmetic far from date.min
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


def report_range(*, first: date | None, last: date | None, today: date, default_days: int = 7) -> tuple[date, date]:
    """The days a report covers: `last` defaults to today (UTC), `first` to `default_days` days up to
    `last`; no day before EARLIEST_DAY or after today, and at most MAX_REPORT_DAYS days."""
    limits = (
        f"a report covers at most {MAX_REPORT_DAYS} days between {EARLIEST_DAY.isoformat()} and today "
        f"({today.isoformat()}, UTC)"
    )
    last = last or today
    if not EARLIEST_DAY <= last <= today or (first is not None and first < EARLIEST_DAY):
        raise DomainError(f"The dates are out of range: {limits}.", code="validation_error")
    first = first or max(EARLIEST_DAY, last - timedelta(days=default_days - 1))
    if first > last:
        raise DomainError("'from' must be on or before 'to'.", code="validation_error")
    if (last - first).days >= MAX_REPORT_DAYS:
        raise DomainError(f"The range is {(last - first).days + 1} days long: {limits}.", code="validation_error")
    return first, last


def adoption_report(*, tenant: Tenant, first: date, last: date) -> dict:
    """The daily series and breakdowns for [first, last]: past days from their stored rows (computed
    and stored the first time they are asked for), today computed live from the same SQL."""
    today = timezone.now().date()
    stored = {
        day: {name: getattr(metric, name) for name in STORED}
        for day, metric in adoption_metrics_stored(tenant=tenant, first=first, last=last).items()
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
