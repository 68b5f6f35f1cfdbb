"""Daily adoption metrics per tenant, aggregated in SQL from events and credentials."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone as django_timezone

from core.db_router import replica_alias
from tenants.models import Tenant

from ..models import DailyMetric, KnownUser, MetricsWatermark
from ..selectors import adoption_report_compose, daily_metrics_stored, day_bounds, day_figures, users_seen_first_day

# How far before the watermark a fold reads again: an event is stamped when it is recorded (never by the caller), so
# the only ones that land behind the watermark are those whose transaction committed after a fold's snapshot.
FOLD_OVERLAP = timedelta(hours=1)


@transaction.atomic
def known_users_fold(*, tenant: Tenant, until: datetime, since: datetime | None = None) -> None:
    """Remember every user seen before `until` with the first day they were seen, in one INSERT … SELECT that reads
    only the events since the tenant's watermark (less FOLD_OVERLAP), or since `since` when that is earlier.

    The rule for history written after the fact (the seed, a backfill of old days): a run that computes days from
    `since` on folds from there, so its days are right; events dated back further than the overlap and before the
    first day asked for are folded only by a run whose range reaches them (or after the tenant's watermark is
    deleted: the next fold reads everything). The table outlives event retention, and keeping the earliest day makes
    any order of runs, and any overlap, agree. The watermark advances to `until` (never past now, as later events
    of a day still running are not folded yet) in the same transaction, locked so two folds of a tenant take turns.
    """
    now = django_timezone.now()
    watermark = MetricsWatermark.objects.select_for_update().filter(tenant=tenant).first()
    start = None  # no watermark yet: the whole history
    if watermark is not None:
        start = (
            watermark.folded_until - FOLD_OVERLAP
            if since is None
            else min(since, watermark.folded_until - FOLD_OVERLAP)
        )
    _fold(tenant=tenant, since=start, until=until)
    reached = min(until, now)
    if watermark is None:
        # Two first folds may race to create it: the first one's stays, and a watermark behind the truth is safe.
        MetricsWatermark.objects.bulk_create(
            [MetricsWatermark(tenant=tenant, folded_until=reached)], ignore_conflicts=True
        )
    elif reached > watermark.folded_until:
        watermark.folded_until = reached
        watermark.save(update_fields=["folded_until", "updated_at"])


def _fold(*, tenant: Tenant, since: datetime | None, until: datetime) -> None:
    select, params = users_seen_first_day(tenant=tenant, since=since, until=until).query.sql_with_params()
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
    """Compute and store [first, last] for one tenant; running it again replaces the rows with the same figures.
    Every read is the primary's: these rows are written back."""
    known_users_fold(tenant=tenant, since=day_bounds(first)[0], until=day_bounds(last)[1])
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    return [_day_store(tenant=tenant, day=day) for day in days]


def adoption_metrics_stored(
    *, tenant: Tenant, first: date, last: date, using: str | None = None
) -> dict[date, DailyMetric]:
    """The stored rows of [first, last] (read from `using`, by default the primary), after computing and storing the
    past days (before today, UTC) that have none: a past day is computed at most once, whoever asks first (the job or
    a report). Today is never stored here; it changes until it is over.

    A missing day is always computed from the primary: a replica lags, and a row stored from it would be stale for
    good. A row the lagging replica does not show yet is computed again, and replaced by the same figures."""
    rows = daily_metrics_stored(tenant=tenant, first=first, last=last, **({"using": using} if using else {}))
    yesterday = django_timezone.now().date() - timedelta(days=1)
    missing = [
        first + timedelta(days=offset)
        for offset in range((min(last, yesterday) - first).days + 1)
        if first + timedelta(days=offset) not in rows
    ]
    if missing:
        with transaction.atomic():
            # The same fold the job does first, so a row stored here equals the job's row for that day.
            known_users_fold(tenant=tenant, since=day_bounds(missing[0])[0], until=day_bounds(missing[-1])[1])
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
    (computed and stored the first time they are asked for), today computed live from the same SQL.

    Its reads go to the read replica when there is one (DATABASE_REPLICA_URL); the missing past days it stores are
    computed on the primary (see `adoption_metrics_stored`)."""
    today = django_timezone.now().date()
    replica = replica_alias()
    stored = adoption_metrics_stored(tenant=tenant, first=first, last=last, using=replica)
    return adoption_report_compose(tenant=tenant, first=first, last=last, stored=stored, today=today, using=replica)
