"""The analysts' dashboard: which tenants a person may see, and one tenant's adoption report.

Every ranged figure comes from `adoption_report`, the function behind GET /v1/metrics/adoption, so the
page and the API cannot disagree; the views only pick the tenant and the dates. The Authenticators card is the
current state of the tenant's passkeys, from `authenticators_now`, whatever the range. The panels drawn on the
server (SVG bars and lines) are built in `panels`.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.errors import DomainError
from tenants.models import Tenant
from tenants.selectors import tenants_visible_to

from .panels import (
    authenticator_card,
    client_outcome_panels,
    login_decision_panels,
    percent,
    report_panels,
    report_totals,
)
from .selectors import authenticators_now, rate, report_range
from .services.metrics import adoption_report

DEFAULT_DAYS = 30
PRESETS = (7, 30, 90, 365)
BREAKDOWN_TITLES = {"os": "operating system", "browser": "browser", "provider": "passkey provider"}


class DateRangeForm(forms.Form):
    """?from=YYYY-MM-DD&to=YYYY-MM-DD, both optional: the metrics API's bounds (`report_range`)."""

    to = forms.DateField(required=False, input_formats=["%Y-%m-%d"])

    def __init__(self, *args, today: date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["from"] = forms.DateField(required=False, input_formats=["%Y-%m-%d"])  # a Python keyword

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            first, last = report_range(
                first=cleaned.get("from"), last=cleaned.get("to"), today=self.today, default_days=DEFAULT_DAYS
            )
        except DomainError as error:
            raise forms.ValidationError(error.detail) from None
        return {"first": first, "last": last}


def date_range(params, *, today: date) -> tuple[date, date, str]:
    """The requested range, or the default (last 30 days) with a message saying why it was not used."""
    form = DateRangeForm(params, today=today)
    if form.is_valid():
        return form.cleaned_data["first"], form.cleaned_data["last"], ""
    reason = " ".join(str(error) for errors in form.errors.values() for error in errors)
    if form.errors.keys() - {"__all__"}:
        reason = "Dates must be written as YYYY-MM-DD."
    return today - timedelta(days=DEFAULT_DAYS - 1), today, f"{reason} Showing the last {DEFAULT_DAYS} days."


def report_headlines(report: dict) -> list[dict]:
    """The cards above the charts: the last day's standing and the range's totals, from the report only."""
    latest = report["days"][-1]
    total = report_totals(report)
    sign_in_rate = rate(total["passkey_sign_ins"], total["sign_ins"])
    cards = [
        ("users", "Users", latest["users"], f"known on {latest['date']}"),
        ("passkey_users", "Passkey users", latest["passkey_users"], f"with a passkey on {latest['date']}"),
        ("adoption_rate", "Adoption rate", latest["adoption_rate"], f"passkey users / users on {latest['date']}"),
        ("passkey_sign_in_rate", "Passkey sign-in rate", sign_in_rate, "passkey sign-ins / sign-ins, whole range"),
        ("sign_ins", "Sign-ins", total["sign_ins"], f"{total['passkey_sign_ins']:,} with a passkey"),
        (
            "registrations_completed",
            "Passkeys registered",
            total["registrations_completed"],
            f"of {total['registrations_started']:,} started",
        ),
        (
            "authentication_failures",
            "Passkey sign-in failures",
            total["authentication_failures"],
            f"of {total['authentications_started']:,} started",
        ),
        ("nudges_accepted", "Nudges accepted", total["nudges_accepted"], f"of {total['nudges_shown']:,} shown"),
    ]
    return [
        {
            "key": key,
            "label": label,
            "value": value,
            "display": percent(value) if key.endswith("rate") else f"{value:,}",
            "note": note,
        }
        for key, label, value, note in cards
    ]


def report_funnels(report: dict) -> dict[str, str]:
    """Conversion over the whole range for each funnel's panel header."""
    total = report_totals(report)
    return {
        "registration": percent(rate(total["registrations_completed"], total["registrations_started"])),
        "authentication": percent(rate(total["authentications_completed"], total["authentications_started"])),
        "nudge": percent(rate(total["nudges_accepted"], total["nudges_shown"])),
    }


def _visible_tenant(tenant_id: uuid.UUID, visible: list[Tenant]) -> Tenant | None:
    return next((tenant for tenant in visible if tenant.pk == tenant_id), None)


@require_GET
@login_required
def dashboard_index(request: HttpRequest) -> HttpResponse:
    """One visible tenant: straight to it. Several: a chooser. None: an empty state."""
    tenants = tenants_visible_to(user=request.user)
    if len(tenants) == 1:
        return redirect("analytics:tenant", tenant_id=tenants[0].pk)
    return render(request, "analytics/chooser.html", {"tenants": tenants})


@require_GET
@login_required
def dashboard_tenant(request: HttpRequest, tenant_id: uuid.UUID) -> HttpResponse:
    visible = tenants_visible_to(user=request.user)
    tenant = _visible_tenant(tenant_id, visible)
    if tenant is None:
        # The same answer for another tenant's id and for an id that does not exist: nothing to learn.
        return render(request, "analytics/not_found.html", status=404)
    today = timezone.now().date()
    first, last, message = date_range(request.GET, today=today)
    report = adoption_report(tenant=tenant, first=first, last=last)
    presets = [
        {"days": n, "from": (today - timedelta(days=n - 1)).isoformat(), "to": today.isoformat()} for n in PRESETS
    ]
    context = {
        "tenant": tenant,
        "tenants": visible,
        "report": report,
        "headlines": report_headlines(report),
        "funnels": report_funnels(report),
        "panels": report_panels(report) + client_outcome_panels(report) + login_decision_panels(report),
        "authenticators": authenticator_card(tenant=tenant, figures=authenticators_now(tenant=tenant)),
        "breakdowns": [
            {"key": key, "title": title, "empty": not report["breakdowns"][key]}
            for key, title in BREAKDOWN_TITLES.items()
        ],
        "first": first,
        "last": last,
        "message": message,
        "presets": presets,
    }
    return render(request, "analytics/tenant.html", context)
