"""Listens to the passkeys seam and records each ceremony outcome as an event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from passkeys import signals
from passkeys.challenges import AUTHENTICATION, REGISTRATION
from passkeys.webauthn import CONDITIONAL

from .models import EventType
from .services.events import event_record, user_analytics_erase
from .services.nudges import nudges_accept_on_registration

if TYPE_CHECKING:
    from passkeys.models import Credential
    from tenants.models import Tenant

# Each ceremony's events, by the ceremony names passkeys sends.
STARTED = {REGISTRATION: EventType.REGISTRATION_STARTED, AUTHENTICATION: EventType.AUTHENTICATION_STARTED}
SUCCEEDED = {REGISTRATION: EventType.REGISTRATION_SUCCEEDED, AUTHENTICATION: EventType.AUTHENTICATION_SUCCEEDED}
FAILED = {REGISTRATION: EventType.REGISTRATION_FAILED, AUTHENTICATION: EventType.AUTHENTICATION_FAILED}


def _started(
    sender: Any,
    *,
    tenant: Tenant,
    ceremony: str,
    user_id: str | None,
    mediation: str | None = None,
    ceremony_ref: str = "",
    **kwargs: Any,
) -> None:
    event_record(tenant=tenant, type=STARTED[ceremony], user_id=user_id, mediation=mediation, ceremony_ref=ceremony_ref)


def _succeeded(
    sender: Any,
    *,
    tenant: Tenant,
    ceremony: str,
    user_id: str,
    credential: Credential,
    user_agent: str = "",
    mediation: str | None = None,
    attachment: str | None = None,
    ceremony_ref: str = "",
    **kwargs: Any,
) -> None:
    if ceremony == REGISTRATION:
        _registered(
            tenant=tenant,
            user_id=user_id,
            credential=credential,
            user_agent=user_agent,
            mediation=mediation,
            ceremony_ref=ceremony_ref,
        )
        return
    event_record(
        tenant=tenant,
        type=SUCCEEDED[ceremony],
        user_id=user_id,
        user_agent=user_agent,
        provider=credential.provider_name,
        credential_id=bytes(credential.credential_id),
        mediation=mediation,
        attachment=attachment,
        ceremony_ref=ceremony_ref,
    )


@transaction.atomic  # joins the ceremony's transaction when it has one: a rolled-back registration accepts nothing
def _registered(
    *, tenant: Tenant, user_id: str, credential: Credential, user_agent: str, mediation: str | None, ceremony_ref: str
) -> None:
    """The registration's event and, at the same instant, the acceptance of the nudges it answers.

    An automatic upgrade answers no nudge: it happened without the user seeing a prompt, so crediting the nudge
    would inflate its funnel. The event names the nudge a registration accepted: its creation path.
    """
    now = timezone.now()
    accepted = None
    if mediation != CONDITIONAL:
        accepted = nudges_accept_on_registration(tenant=tenant, user_id=user_id, now=now)
    event_record(
        tenant=tenant,
        type=EventType.REGISTRATION_SUCCEEDED,
        user_id=user_id,
        user_agent=user_agent,
        provider=credential.provider_name,
        credential_id=bytes(credential.credential_id),
        nudge_id=accepted,
        mediation=mediation,
        ceremony_ref=ceremony_ref,
        occurred_at=now,
    )


def _failed(
    sender: Any,
    *,
    tenant: Tenant,
    ceremony: str,
    code: str,
    user_id: str | None = None,
    credential: Credential | None = None,
    user_agent: str = "",
    **kwargs: Any,
) -> None:
    event_record(
        tenant=tenant,
        type=FAILED[ceremony],
        user_id=user_id,
        user_agent=user_agent,
        code=code,
        provider=credential.provider_name if credential is not None else "",
        credential_id=bytes(credential.credential_id) if credential is not None else None,
    )


def _user_erased(sender: Any, *, tenant: Tenant, user_id: str, **kwargs: Any) -> None:
    user_analytics_erase(tenant=tenant, user_id=user_id)


def connect() -> None:
    signals.ceremony_started.connect(_started, dispatch_uid="analytics-started")
    signals.ceremony_succeeded.connect(_succeeded, dispatch_uid="analytics-succeeded")
    signals.ceremony_failed.connect(_failed, dispatch_uid="analytics-failed")
    signals.user_erased.connect(_user_erased, dispatch_uid="analytics-user-erased")
