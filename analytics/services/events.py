"""Recording events: one INSERT each, so that a ceremony is not slowed by its bookkeeping."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.utils import timezone

from core import statements
from tenants.models import Tenant

from ..models import Event, KnownUser, Nudge, NudgeSchedule
from ..useragents import client_of


def event_record(
    *,
    tenant: Tenant,
    type: str,
    user_id: str | None = None,
    user_agent: str = "",
    code: str = "",
    method: str = "",
    provider: str = "",
    credential_id: bytes | None = None,
    nudge_id: uuid.UUID | None = None,
    mediation: str | None = None,
    attachment: str | None = None,
    ceremony_ref: str = "",
    occurred_at: datetime | None = None,
) -> Event:
    client = client_of(user_agent or "")
    event = Event(
        tenant=tenant,
        type=type,
        occurred_at=occurred_at or timezone.now(),
        user_id=user_id or "",
        code=code,
        method=method,
        os_family=client.os_family,
        browser_family=client.browser_family,
        provider=provider,
        credential_id=credential_id,
        nudge_id=nudge_id,
        mediation=mediation or "",
        attachment=attachment or "",
        ceremony_ref=ceremony_ref,
    )
    return statements.row_insert(event)  # on every ceremony: a statement written once, not compiled per call


def user_analytics_erase(*, tenant: Tenant, user_id: str) -> None:
    """Erase what analytics holds about a user whose passkey data was erased."""
    Event.objects.filter(tenant=tenant, user_id=user_id).delete()
    KnownUser.objects.filter(tenant=tenant, user_id=user_id).delete()
    Nudge.objects.filter(tenant=tenant, user_id=user_id).delete()
    NudgeSchedule.objects.filter(tenant=tenant, user_id=user_id).delete()
