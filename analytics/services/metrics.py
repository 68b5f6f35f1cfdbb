"""Daily adoption metrics per tenant, aggregated in SQL from events and credentials."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Count, Q
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


def _known_users_add(*, tenant: Tenant, day: date) -> None:
    """Remember users first seen on this day, from its events and its new passkeys (INSERT … SELECT)."""
    start, end = day_bounds(day)
    quote = connection.ops.quote_name
    events, known = quote(Event._meta.db_table), quote(KnownUser._meta.db_table)
    credentials, users = quote(Credential._meta.db_table), quote(PasskeyUser._meta.db_table)
    seen_types = [EventType.SIGN_IN, EventType.AUTHENTICATION_SUCCEEDED, EventType.REGISTRATION_SUCCEEDED]
    # Raw SQL gets values the way the ORM would send them (SQLite keeps UUIDs as hex text).
    tenant_db = Tenant._meta.pk.get_db_prep_value(tenant.pk, connection)
    day_db = connection.ops.adapt_datefield_value(day)
    start_db, end_db = connection.ops.adapt_datetimefield_value(start), connection.ops.adapt_datetimefield_value(end)
    with connection.cursor() as cursor:
        # Table names are ours; every value is a parameter.
        cursor.execute(
            f"INSERT INTO {known} (tenant_id, user_id, first_seen_on) "  # noqa: S608
            f"SELECT DISTINCT tenant_id, user_id, %s FROM {events} "
            f"WHERE tenant_id = %s AND occurred_at >= %s AND occurred_at < %s AND user_id <> '' "
            f"AND type IN (%s, %s, %s) "
            f"UNION SELECT DISTINCT c.tenant_id, u.user_id, %s FROM {credentials} c JOIN {users} u ON u.id = c.user_id "
            f"WHERE c.tenant_id = %s AND c.created_at >= %s AND c.created_at < %s "
            # Days may be computed in any order: keep the earliest day a user was seen.
            f"ON CONFLICT (tenant_id, user_id) DO UPDATE SET first_seen_on = CASE "
            f"WHEN excluded.first_seen_on < {known}.first_seen_on THEN excluded.first_seen_on "
            f"ELSE {known}.first_seen_on END",
            [day_db, tenant_db, start_db, end_db, *seen_types, day_db, tenant_db, start_db, end_db],
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
    figures["users"] = KnownUser.objects.filter(tenant=tenant, first_seen_on__lte=day).count()
    figures["passkey_users"] = (
        Credential.objects.filter(tenant=tenant, created_at__lt=end).values("user_id").distinct().count()
    )
    return figures


@transaction.atomic
def adoption_metrics_compute(*, tenant: Tenant, day: date) -> DailyMetric:
    """Compute and store one day; running it again replaces the row with the same figures."""
    _known_users_add(tenant=tenant, day=day)
    metric, _ = DailyMetric.objects.update_or_create(
        tenant=tenant,
        date=day,
        defaults={**day_figures(tenant=tenant, day=day), "computed_at": django_timezone.now()},
    )
    return metric


def adoption_metrics_compute_range(*, first: date, last: date, tenants=None) -> list[DailyMetric]:
    tenants = Tenant.objects.order_by("created_at") if tenants is None else tenants
    computed = []
    for tenant in tenants:
        day = first
        while day <= last:
            computed.append(adoption_metrics_compute(tenant=tenant, day=day))
            day += timedelta(days=1)
    return computed
