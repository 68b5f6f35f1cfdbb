"""Daily adoption metrics per tenant, aggregated in SQL from events and credentials."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Count, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone as django_timezone

from passkeys.models import Credential, PasskeyUser
from tenants.models import Tenant

from ..models import DailyMetric, Event, EventType, KnownUser

COUNTED = {
    "sign_ins": Q(type__in=[EventType.SIGN_IN, EventType.AUTHENTICATION_SUCCEEDED]),
    "passkey_sign_ins": Q(type=EventType.AUTHENTICATION_SUCCEEDED),
    "registrations_started": Q(type=EventType.REGISTRATION_STARTED),
    "registrations_completed": Q(type=EventType.REGISTRATION_SUCCEEDED),
    "authentications_started": Q(type=EventType.AUTHENTICATION_STARTED),
    "authentications_completed": Q(type=EventType.AUTHENTICATION_SUCCEEDED),
    "authentication_failures": Q(type=EventType.AUTHENTICATION_FAILED),
    "nudges_shown": Q(type=EventType.NUDGE_SHOWN),
    "nudges_accepted": Q(type=EventType.NUDGE_ACCEPTED),
    "nudges_dismissed": Q(type=EventType.NUDGE_DISMISSED),
}
# Breakdowns count passkey sign-ins by the family of what they came from.
BREAKDOWNS = {"os_breakdown": "os_family", "browser_breakdown": "browser_family", "provider_breakdown": "provider"}


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


SEEN = [EventType.SIGN_IN, EventType.AUTHENTICATION_SUCCEEDED, EventType.REGISTRATION_SUCCEEDED]


def known_users_fold(*, tenant: Tenant, until: datetime) -> None:
    """Remember every user seen before `until` with the first day they were seen, in one INSERT … SELECT.

    The table outlives event retention, and keeping the earliest day makes any order of runs agree.
    """
    seen = (
        Event.objects.filter(tenant=tenant, occurred_at__lt=until, type__in=SEEN)
        .exclude(user_id="")
        .values("tenant_id", "user_id")
        .annotate(first=Min(TruncDate("occurred_at", tzinfo=UTC)))
    )
    owners = (
        Credential.objects.filter(tenant=tenant, created_at__lt=until)
        .values("tenant_id", "user__user_id")
        .annotate(first=Min(TruncDate("created_at", tzinfo=UTC)))
    )
    select, params = seen.union(owners, all=True).query.sql_with_params()
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


def day_figures(*, tenant: Tenant, day: date) -> dict:
    """Every stored figure of one UTC day, without writing anything."""
    start, end = day_bounds(day)
    events = Event.objects.filter(tenant=tenant, occurred_at__gte=start, occurred_at__lt=end)
    figures = events.aggregate(**{name: Count("pk", filter=condition) for name, condition in COUNTED.items()})
    passkey_sign_ins = events.filter(type=EventType.AUTHENTICATION_SUCCEEDED)
    for name, column in BREAKDOWNS.items():
        rows = passkey_sign_ins.exclude(**{column: ""}).values_list(column).annotate(n=Count("pk"))
        figures[name] = dict(rows)
    # Known users folded so far, plus this day's own (a live day may not be folded yet).
    known = KnownUser.objects.filter(tenant=tenant, first_seen_on__lte=day).values_list("user_id")
    seen = Event.objects.filter(tenant=tenant, occurred_at__gte=start, occurred_at__lt=end, type__in=SEEN)
    owners = PasskeyUser.objects.filter(
        tenant=tenant, credentials__created_at__gte=start, credentials__created_at__lt=end
    )
    figures["users"] = known.union(
        seen.exclude(user_id="").values_list("user_id"), owners.values_list("user_id")
    ).count()
    figures["passkey_users"] = (
        Credential.objects.filter(tenant=tenant, created_at__lt=end).values("user_id").distinct().count()
    )
    return figures


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
    rows = {row.date: row for row in DailyMetric.objects.filter(tenant=tenant, date__gte=first, date__lte=last)}
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
