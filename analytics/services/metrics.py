"""Daily adoption metrics per tenant, aggregated in SQL from events and credentials."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone as django_timezone

from tenants.models import Tenant

from ..models import DailyMetric, KnownUser
from ..selectors import adoption_report_compose, daily_metrics_stored, day_bounds, day_figures, users_seen_first_day


def known_users_fold(*, tenant: Tenant, until: datetime) -> None:
    """Remember every user seen before `until` with the first day they were seen, in one INSERT … SELECT.

    The table outlives event retention, and keeping the earliest day makes any order of runs agree.
    """
    select, params = users_seen_first_day(tenant=tenant, until=until).query.sql_with_params()
    known = connection.ops.quote_name(KnownUser._meta.db_table)
    with connection.cursor() as cursor:
        # The SELECT is the ORM's, with its parameters; only our own table name is formatted in.
        cursor.execute(
            f"INSERT INTO {known} (tenant_id, user_id, first_seen_on) "  # noqa: S608
            f"SELECT tenant_id, user_id, MIN(first) FROM ({select}) AS seen WHERE true GROUP BY tenant_id, user_id "
            # Only an earlier day rewrites a row, so a run that learns nothing writes nothing.
            f"ON CONFLICT (tenant_id, user_id) DO UPDATE SET first_seen_on = excluded.first_seen_on "
            f"WHERE excluded.first_seen_on < {known}.first_seen_on",
            params,
        )


def _day_store(*, tenant: Tenant, day: date) -> DailyMetric:
    metric, _ = DailyMetric.objects.update_or_create(
        tenant=tenant,
        date=day,
        defaults={**day_figures(tenant=tenant, day=day), "computed_at": django_timezone.now()},
    )
    return metric


def adoption_metrics_compute(*, tenant: Tenant, day: date) -> DailyMetric:
    return adoption_metrics_compute_days(tenant=tenant, first=day, last=day)[0]


@transaction.atomic
def adoption_metrics_compute_days(*, tenant: Tenant, first: date, last: date) -> list[DailyMetric]:
    """Compute and store [first, last] for one tenant; running it again replaces the rows with the same figures."""
    known_users_fold(tenant=tenant, until=day_bounds(last)[1])
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    return [_day_store(tenant=tenant, day=day) for day in days]


def adoption_metrics_stored(*, tenant: Tenant, first: date, last: date) -> dict[date, DailyMetric]:
    """The stored rows of [first, last], after computing and storing the past days (before today, UTC)
    that have none: a past day is computed at most once, whoever asks first (the job or a report).
    Today is never stored here; it changes until it is over."""
    rows = daily_metrics_stored(tenant=tenant, first=first, last=last)
    yesterday = django_timezone.now().date() - timedelta(days=1)
    missing = [
        first + timedelta(days=offset)
        for offset in range((min(last, yesterday) - first).days + 1)
        if first + timedelta(days=offset) not in rows
    ]
    if missing:
        with transaction.atomic():
            # The same fold the job does first, so a row stored here equals the job's row for that day.
            known_users_fold(tenant=tenant, until=day_bounds(missing[-1])[1])
            rows.update({day: _day_store(tenant=tenant, day=day) for day in missing})
    return rows


def adoption_metrics_compute_range(*, first: date, last: date, tenants=None) -> list[DailyMetric]:
    """Every tenant (or the given ones), each in its own transaction."""
    tenants = Tenant.objects.order_by("created_at") if tenants is None else tenants
    return [
        metric for tenant in tenants for metric in adoption_metrics_compute_days(tenant=tenant, first=first, last=last)
    ]


def adoption_report(*, tenant: Tenant, first: date, last: date) -> dict[str, Any]:
    """The report behind GET /v1/metrics/adoption and the dashboard: past days from their stored rows
    (computed and stored the first time they are asked for), today computed live from the same SQL."""
    today = django_timezone.now().date()
    stored = adoption_metrics_stored(tenant=tenant, first=first, last=last)
    return adoption_report_compose(tenant=tenant, first=first, last=last, stored=stored, today=today)
