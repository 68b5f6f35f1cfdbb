"""Reads of the analytics domain, tenant first: a day's figures, the report's bounds and rows, what the
nudge rules look at, and the few facts about passkeys analytics needs (read here and nowhere else in it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Count, DateTimeField, Exists, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, TruncDate

from core.errors import DomainError, ErrorCode
from passkeys.selectors import (
    credentials_by_authenticator,
    passkey_owners_between,
    passkey_owners_first_day,
    passkeys_of_user,
)
from passkeys.webauthn import CONDITIONAL
from tenants.models import Tenant

from .models import (
    CLIENT_CANCELLATIONS,
    CLIENT_CAPABILITIES,
    CLIENT_ERRORS,
    LOGIN_FAILURES,
    ClientOutcome,
    DailyMetric,
    Event,
    EventType,
    KnownUser,
    LoginDecision,
    LoginDecisionReason,
    Nudge,
    NudgeOutcome,
    NudgeSchedule,
    ScheduleStatus,
)
from .platforms import passkey_usable_on

# --- A day's figures.

_CLIENT_OUTCOMES = Q(type__in=[EventType.REGISTRATION_CLIENT_OUTCOME, EventType.AUTHENTICATION_CLIENT_OUTCOME])
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
    # A conditional registration start is an automatic upgrade offered; its success, one completed.
    "automatic_upgrades_offered": Q(type=EventType.REGISTRATION_STARTED, mediation="conditional"),
    "automatic_upgrades_completed": Q(type=EventType.REGISTRATION_SUCCEEDED, mediation="conditional"),
    "cross_device_sign_ins": Q(type=EventType.AUTHENTICATION_SUCCEEDED, attachment="cross-platform"),
    # What browsers reported of either ceremony (POST /v1/client-events): each report counts once.
    "client_cancellations": _CLIENT_OUTCOMES & Q(outcome__in=CLIENT_CANCELLATIONS),
    "client_errors": _CLIENT_OUTCOMES & Q(outcome__in=CLIENT_ERRORS),
    # Which sign-in each login decision led with (POST /v1/login-decisions): one event each, the decision its method.
    "login_decisions_passkey": Q(type=EventType.LOGIN_DECIDED, method=LoginDecision.PASSKEY),
    "login_decisions_autofill": Q(type=EventType.LOGIN_DECIDED, method=LoginDecision.PASSKEY_AUTOFILL),
    "login_decisions_password": Q(type=EventType.LOGIN_DECIDED, method=LoginDecision.PASSWORD),
}
# Where each new passkey came from: a silent automatic upgrade, a nudge it accepted, or anything else.
_AUTOMATIC = Q(mediation="conditional")
CREATION_PATHS = {
    "automatic_upgrade": _AUTOMATIC,
    "nudge": ~_AUTOMATIC & Q(nudge_id__isnull=False),
    "other": ~_AUTOMATIC & Q(nudge_id__isnull=True),
}
# Sign-in reports (the browser's word on an authentication ceremony): counted by outcome, by the capabilities they
# carried, and their successes timed, from the options to the passkey's answer as the browser measured it.
_SIGN_IN_REPORTS = Q(type=EventType.AUTHENTICATION_CLIENT_OUTCOME)
_CARRIED_CAPABILITIES = _SIGN_IN_REPORTS & Q(capabilities__isnull=False)
CAPABILITIES_REPORTED = "reported"  # the capabilities breakdown's count of reports that carried a map at all
PERCENTILES = {"authentication_ms_p50": 50, "authentication_ms_p95": 95}
# Breakdowns counted inside the day's one aggregate, {key: condition} for each column; zero counts are left out.
COUNTED_BREAKDOWNS = {
    "creation_path_breakdown": {
        path: Q(type=EventType.REGISTRATION_SUCCEEDED) & condition for path, condition in CREATION_PATHS.items()
    },
    "client_outcome_breakdown": {outcome.value: _SIGN_IN_REPORTS & Q(outcome=outcome) for outcome in ClientOutcome},
    # A share is `name` / `reported`; a name counts only where the browser said exactly true.
    "capability_breakdown": {
        CAPABILITIES_REPORTED: _CARRIED_CAPABILITIES,
        **{name: _CARRIED_CAPABILITIES & Q(**{f"capabilities__{name}": True}) for name in sorted(CLIENT_CAPABILITIES)},
    },
    # Why each login decision led as it did: the decision event's code.
    "login_decision_reason_breakdown": {
        reason.value: Q(type=EventType.LOGIN_DECIDED, code=reason) for reason in LoginDecisionReason
    },
}
# Breakdowns count passkey sign-ins by the family of what they came from.
BREAKDOWNS = {"os_breakdown": "os_family", "browser_breakdown": "browser_family", "provider_breakdown": "provider"}
REPORT_BREAKDOWNS = {
    "os": "os_breakdown",
    "browser": "browser_breakdown",
    "provider": "provider_breakdown",
    "creation_path": "creation_path_breakdown",
    "client_outcomes": "client_outcome_breakdown",
    "capabilities": "capability_breakdown",
    "login_decision_reasons": "login_decision_reason_breakdown",
}
STORED = [*COUNTED, *PERCENTILES, "users", "passkey_users", *REPORT_BREAKDOWNS.values()]
# Events that show a user exists.
SEEN = [EventType.SIGN_IN, EventType.AUTHENTICATION_SUCCEEDED, EventType.REGISTRATION_SUCCEEDED]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def users_seen_first_day(*, tenant: Tenant, until: datetime, since: datetime | None = None) -> QuerySet:
    """(tenant_id, user id, first UTC day) of each user seen in [since, until) (before `until` without `since`), from
    events and passkeys, as a subquery.

    Only the events are bounded below: they are the history that grows, and they are written at the time they
    occur. Passkeys are read whole (one row per passkey, not per event): an import may date one back to any day.
    """
    events = Event.objects.filter(tenant=tenant, occurred_at__lt=until, type__in=SEEN)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    seen = (
        events.exclude(user_id="")
        .values("tenant_id", "user_id")
        .annotate(first=Min(TruncDate("occurred_at", tzinfo=UTC)))
    )
    return seen.union(passkey_owners_first_day(tenant=tenant, until=until), all=True)


def nearest_rank(ordered: Sequence[int], percent: int) -> int | None:
    """The `percent`th percentile of ascending values by the nearest-rank method (always one of the values, so
    every database agrees); None when there are none."""
    if not ordered:
        return None
    return ordered[max(-(-percent * len(ordered) // 100), 1) - 1]  # rank = ceil(percent / 100 * n)


def day_figures(*, tenant: Tenant, day: date, using: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """Every stored figure of one UTC day, without writing anything, read from the database `using`.

    Only the day's events are read (through the (tenant, occurred_at) index); the users before it come from
    KnownUser and the passkeys, never from older events, so a day costs the same however long the history.
    """
    start, end = day_bounds(day)
    events = Event.objects.using(using).filter(tenant=tenant, occurred_at__gte=start, occurred_at__lt=end)
    figures = events.aggregate(
        **{name: Count("pk", filter=condition) for name, condition in COUNTED.items()},
        **{
            f"{column}:{key}": Count("pk", filter=condition)
            for column, conditions in COUNTED_BREAKDOWNS.items()
            for key, condition in conditions.items()
        },
    )
    for column, conditions in COUNTED_BREAKDOWNS.items():
        counts = {key: figures.pop(f"{column}:{key}") for key in conditions}
        figures[column] = {key: count for key, count in counts.items() if count}
    # The percentiles in Python over the day's durations, sorted by the database: one query, one answer everywhere.
    # Autofill (conditional) sign-ins are left out: their clock runs while the user is still reading the page.
    durations = list(
        events.filter(_SIGN_IN_REPORTS, outcome=ClientOutcome.SUCCEEDED, duration_ms__isnull=False)
        .exclude(mediation="conditional")
        .order_by("duration_ms")
        .values_list("duration_ms", flat=True)
    )
    figures.update({name: nearest_rank(durations, percent) for name, percent in PERCENTILES.items()})
    passkey_sign_ins = events.filter(type=EventType.AUTHENTICATION_SUCCEEDED)
    for name, column in BREAKDOWNS.items():
        rows = passkey_sign_ins.exclude(**{column: ""}).values_list(column).annotate(n=Count("pk"))
        figures[name] = dict(rows)
    # Known users folded so far, plus this day's own (a live day may not be folded yet).
    known = KnownUser.objects.using(using).filter(tenant=tenant, first_seen_on__lte=day).values_list("user_id")
    seen = events.filter(type__in=SEEN)
    figures["users"] = known.union(
        seen.exclude(user_id="").values_list("user_id"), passkey_owners_between(tenant=tenant, start=start, end=end)
    ).count()
    # One group per passkey user with a passkey made before the day's end.
    figures["passkey_users"] = passkey_owners_first_day(tenant=tenant, until=end).using(using).count()
    return figures


def daily_metrics_stored(
    *, tenant: Tenant, first: date, last: date, using: str = DEFAULT_DB_ALIAS
) -> dict[date, DailyMetric]:
    rows = DailyMetric.objects.using(using).filter(tenant=tenant, date__gte=first, date__lte=last)
    return {row.date: row for row in rows}


# --- The adoption report (GET /v1/metrics/adoption and the dashboard).

# A report's bounds: each past day of it is computed once (seven queries) and then read from its row,
# so the first request for the longest range costs at most MAX_REPORT_DAYS computed days.
MAX_REPORT_DAYS = 400
EARLIEST_DAY = date(2000, 1, 1)  # no passkey existed before; keeps date arithmetic far from date.min


def rate(numerator: int, denominator: int) -> float:
    """The report's rates: a fraction rounded to 4 places, 0 when there is nothing to divide by."""
    return round(numerator / denominator, 4) if denominator else 0.0


def _day_row(day: date, figures: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "date": day.isoformat(),
        "users": figures["users"],
        "passkey_users": figures["passkey_users"],
        "adoption_rate": rate(figures["passkey_users"], figures["users"]),
        "sign_ins": figures["sign_ins"],
        "passkey_sign_ins": figures["passkey_sign_ins"],
        "passkey_sign_in_rate": rate(figures["passkey_sign_ins"], figures["sign_ins"]),
        "registrations_started": figures["registrations_started"],
        "registrations_completed": figures["registrations_completed"],
        "registration_completion_rate": rate(figures["registrations_completed"], figures["registrations_started"]),
        "authentications_started": figures["authentications_started"],
        "authentications_completed": figures["authentications_completed"],
        "authentication_failures": figures["authentication_failures"],
        "authentication_success_rate": rate(figures["authentications_completed"], figures["authentications_started"]),
        "nudges_shown": figures["nudges_shown"],
        "nudges_accepted": figures["nudges_accepted"],
        "nudges_dismissed": figures["nudges_dismissed"],
        "nudge_conversion_rate": rate(figures["nudges_accepted"], figures["nudges_shown"]),
        "automatic_upgrades_offered": figures["automatic_upgrades_offered"],
        "automatic_upgrades_completed": figures["automatic_upgrades_completed"],
        "cross_device_sign_ins": figures["cross_device_sign_ins"],
        "client_cancellations": figures["client_cancellations"],
        "client_errors": figures["client_errors"],
        "authentication_ms_p50": figures["authentication_ms_p50"],
        "authentication_ms_p95": figures["authentication_ms_p95"],
        "login_decisions_passkey": figures["login_decisions_passkey"],
        "login_decisions_autofill": figures["login_decisions_autofill"],
        "login_decisions_password": figures["login_decisions_password"],
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
        raise DomainError(f"The dates are out of range: {limits}.", code=ErrorCode.VALIDATION_ERROR)
    first = first or max(EARLIEST_DAY, last - timedelta(days=default_days - 1))
    if first > last:
        raise DomainError("'from' must be on or before 'to'.", code=ErrorCode.VALIDATION_ERROR)
    if (last - first).days >= MAX_REPORT_DAYS:
        raise DomainError(
            f"The range is {(last - first).days + 1} days long: {limits}.", code=ErrorCode.VALIDATION_ERROR
        )
    return first, last


def adoption_report_compose(
    *,
    tenant: Tenant,
    first: date,
    last: date,
    stored: Mapping[date, DailyMetric],
    today: date,
    using: str = DEFAULT_DB_ALIAS,
) -> dict[str, Any]:
    """The daily series and breakdowns for [first, last]: past days from their `stored` rows, the
    others (today, or a past day without a row) computed live from the same SQL on the database `using`."""
    days, breakdowns = [], {key: Counter() for key in REPORT_BREAKDOWNS}
    day = first
    while day <= last:
        if day in stored and day < today:
            figures = {name: getattr(stored[day], name) for name in STORED}
        else:
            figures = day_figures(tenant=tenant, day=day, using=using)
        days.append(_day_row(day, figures))
        for key, name in REPORT_BREAKDOWNS.items():
            breakdowns[key].update(figures[name])
        day += timedelta(days=1)
    return {
        "tenant_id": str(tenant.pk),
        "from": first.isoformat(),
        "to": last.isoformat(),
        "days": days,
        "breakdowns": {key: dict(counter.most_common()) for key, counter in breakdowns.items()},
    }


# --- The tenant's passkeys now (the dashboard's Authenticators card): passkeys' own aggregate, read through here.

authenticators_now = credentials_by_authenticator


# --- What the nudge rules look at.


@dataclass(frozen=True)
class UserPasskey:
    credential_id: bytes
    transports: list[str]
    usable: bool  # signs in on the browser's platform by itself


def passkeys_usable_on(*, tenant: Tenant, user_id: str, os_family: str) -> list[UserPasskey]:
    """Each of the user's passkeys and whether it signs in on `os_family` by itself (analytics.platforms' rule, the
    one nudges and login decisions share), in one query: where each was made is its registration event's OS."""
    registered_os = Event.objects.filter(
        tenant=tenant, user_id=user_id, type=EventType.REGISTRATION_SUCCEEDED, credential_id=OuterRef("credential_id")
    ).values("os_family")[:1]
    rows = (
        passkeys_of_user(tenant=tenant, user_id=user_id)
        .annotate(registered_os=Subquery(registered_os))
        .order_by("created_at")
        .values_list(
            "credential_id", "transports", "backed_up", "provider_name", "authenticator_attachment", "registered_os"
        )
    )
    return [
        UserPasskey(
            credential_id=bytes(credential_id),
            transports=transports,
            usable=passkey_usable_on(
                os_family=os_family,
                registered_os=registered or "",
                backed_up=backed_up,
                provider=provider,
                attachment=attachment,
            ),
        )
        for credential_id, transports, backed_up, provider, attachment, registered in rows
    ]


def has_usable_passkey(*, tenant: Tenant, user_id: str, os_family: str) -> bool:
    """Whether one of the user's passkeys signs in on `os_family` by itself."""
    return any(passkey.usable for passkey in passkeys_usable_on(tenant=tenant, user_id=user_id, os_family=os_family))


OPEN_OUTCOMES = ["", NudgeOutcome.SHOWN]  # not answered yet


def nudges_open(*, tenant: Tenant, user_id: str, now: datetime) -> QuerySet[Nudge]:
    """The user's unanswered nudges whose acceptance window contains `now`."""
    return Nudge.objects.filter(
        tenant=tenant, user_id=user_id, outcome__in=OPEN_OUTCOMES, created_at__lte=now, accept_until__gte=now
    )


def nudge_accepted_unnamed(*, tenant: Tenant, user_id: str, now: datetime) -> Nudge | None:
    """The user's latest nudge inside its window that the frontend already reported accepted and no registration
    names yet: the nudge a registration finishing now answers, when the outcome was reported first."""
    named = Event.objects.filter(
        tenant=tenant, user_id=user_id, type=EventType.REGISTRATION_SUCCEEDED, nudge_id__isnull=False
    ).values("nudge_id")
    return (
        Nudge.objects.filter(
            tenant=tenant, user_id=user_id, outcome=NudgeOutcome.ACCEPTED, created_at__lte=now, accept_until__gte=now
        )
        .exclude(pk__in=named)
        .order_by("-created_at")
        .first()
    )


def nudges_answered_by_registration(*, now: datetime) -> QuerySet[Nudge]:
    """Unanswered nudges of the last 31 days (every tenant) whose user registered a passkey inside their window,
    other than by an automatic upgrade (made without a prompt, it answers no nudge)."""
    registered = Event.objects.filter(
        tenant=OuterRef("tenant"),
        user_id=OuterRef("user_id"),
        type=EventType.REGISTRATION_SUCCEEDED,
        occurred_at__gte=OuterRef("created_at"),
        occurred_at__lte=OuterRef("accept_until"),
    ).exclude(mediation=CONDITIONAL)
    pending = Nudge.objects.filter(outcome__in=OPEN_OUTCOMES, created_at__gte=now - timedelta(days=31))
    return pending.filter(Exists(registered))


def nudge_schedules_due(*, now: datetime) -> QuerySet[NudgeSchedule]:
    """Schedules (every tenant) whose cooldown, rest or retry time has passed."""
    return NudgeSchedule.objects.filter(status=ScheduleStatus.WAITING, next_eligible_at__lte=now)


# --- Login decisions: which sign-in a page leads with (DESIGN.md "Login decisions").

FAILURES_TO_STEER = 3
FAILURE_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class LoginDecided:
    decision: str
    reason: str
    allow: list[tuple[bytes, list[str]]] | None = None  # a passkey decision's allowCredentials, remembered first


def login_failures_recent(*, tenant: Tenant, user_id: str, os_family: str, now: datetime) -> int:
    """The user's client-side login failures on `os_family` in the last 24 h and after their last passkey sign-in
    there, counted up to FAILURES_TO_STEER. Reports name the user only for ceremonies started for them."""
    since = now - FAILURE_WINDOW
    last_sign_in = (
        Event.objects.filter(
            tenant=tenant, user_id=user_id, os_family=os_family, type=EventType.AUTHENTICATION_SUCCEEDED
        )
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    failures = Event.objects.filter(
        tenant=tenant,
        user_id=user_id,
        os_family=os_family,
        type=EventType.AUTHENTICATION_CLIENT_OUTCOME,
        outcome__in=LOGIN_FAILURES,
        occurred_at__gte=since,
        occurred_at__gt=Coalesce(Subquery(last_sign_in), Value(since, output_field=DateTimeField())),
    )
    return len(failures.values_list("pk", flat=True)[:FAILURES_TO_STEER])


def login_decision_for(
    *,
    tenant: Tenant,
    user_id: str | None,
    os_family: str,
    capabilities: Mapping[str, bool],
    platform_authenticator_available: bool | None,
    device_credential_ids: Sequence[bytes],
    now: datetime | None = None,
) -> LoginDecided:
    """The contract's table: the first rule that holds. At most two queries, both for an identified user."""
    if not any(capabilities.values()) and platform_authenticator_available is not True:
        return LoginDecided(LoginDecision.PASSWORD, LoginDecisionReason.WEBAUTHN_UNAVAILABLE)
    if not user_id:
        if capabilities.get("conditionalGet") is True:
            return LoginDecided(LoginDecision.PASSKEY_AUTOFILL, LoginDecisionReason.CONDITIONAL_UI_AVAILABLE)
        return LoginDecided(LoginDecision.PASSWORD, LoginDecisionReason.CONDITIONAL_UI_UNAVAILABLE)
    now = now or datetime.now(tz=UTC)
    if login_failures_recent(tenant=tenant, user_id=user_id, os_family=os_family, now=now) >= FAILURES_TO_STEER:
        return LoginDecided(LoginDecision.PASSWORD, LoginDecisionReason.RECENT_FAILURES)
    passkeys = passkeys_usable_on(tenant=tenant, user_id=user_id, os_family=os_family)
    order = {credential_id: rank for rank, credential_id in enumerate(device_credential_ids)}
    remembered = sorted((p for p in passkeys if p.credential_id in order), key=lambda p: order[p.credential_id])
    usable = [p for p in passkeys if p.usable and p.credential_id not in order]
    offered = [(p.credential_id, p.transports) for p in remembered + usable]
    if remembered:
        return LoginDecided(LoginDecision.PASSKEY, LoginDecisionReason.REMEMBERED_ON_DEVICE, offered)
    if usable:
        return LoginDecided(LoginDecision.PASSKEY, LoginDecisionReason.USABLE_ON_PLATFORM, offered)
    if passkeys:
        return LoginDecided(LoginDecision.PASSWORD, LoginDecisionReason.NO_PASSKEY_FOR_PLATFORM)
    return LoginDecided(LoginDecision.PASSWORD, LoginDecisionReason.NO_PASSKEY)
