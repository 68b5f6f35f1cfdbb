"""Listens to the passkeys seam and records each ceremony outcome as an event."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from passkeys import signals

from .models import EventType
from .services.events import event_record, user_analytics_erase
from .services.nudges import nudges_accept_on_registration


def _started(sender, *, tenant, ceremony: str, user_id: str | None, **kwargs) -> None:
    event_record(tenant=tenant, type=f"{ceremony}.started", user_id=user_id)


def _succeeded(sender, *, tenant, ceremony: str, user_id: str, credential, user_agent: str = "", **kwargs) -> None:
    if ceremony == "registration":
        _registered(tenant=tenant, user_id=user_id, credential=credential, user_agent=user_agent)
        return
    event_record(
        tenant=tenant,
        type=f"{ceremony}.succeeded",
        user_id=user_id,
        user_agent=user_agent,
        provider=credential.provider_name,
        credential_id=bytes(credential.credential_id),
    )


@transaction.atomic  # joins the ceremony's transaction when it has one: a rolled-back registration accepts nothing
def _registered(*, tenant, user_id: str, credential, user_agent: str) -> None:
    """The registration's event and, at the same instant, the acceptance of the nudges it answers."""
    now = timezone.now()
    event_record(
        tenant=tenant,
        type=EventType.REGISTRATION_SUCCEEDED,
        user_id=user_id,
        user_agent=user_agent,
        provider=credential.provider_name,
        credential_id=bytes(credential.credential_id),
        occurred_at=now,
    )
    nudges_accept_on_registration(tenant=tenant, user_id=user_id, now=now)


def _failed(sender, *, tenant, ceremony: str, code: str, user_id=None, credential=None, user_agent="", **kwargs):
    event_record(
        tenant=tenant,
        type=f"{ceremony}.failed",
        user_id=user_id,
        user_agent=user_agent,
        code=code,
        provider=credential.provider_name if credential is not None else "",
        credential_id=bytes(credential.credential_id) if credential is not None else None,
    )


def _user_erased(sender, *, tenant, user_id: str, **kwargs) -> None:
    user_analytics_erase(tenant=tenant, user_id=user_id)


def connect() -> None:
    signals.ceremony_started.connect(_started, dispatch_uid="analytics-started")
    signals.ceremony_succeeded.connect(_succeeded, dispatch_uid="analytics-succeeded")
    signals.ceremony_failed.connect(_failed, dispatch_uid="analytics-failed")
    signals.user_erased.connect(_user_erased, dispatch_uid="analytics-user-erased")
