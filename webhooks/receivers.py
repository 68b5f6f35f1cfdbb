"""Turns what passkeys and analytics announce into webhook events; never sends anything itself.

Each receiver runs inside a ceremony, so it only logs deliveries (webhooks.services.events_publish):
nothing at all for a tenant without endpoints, one INSERT for one with subscribers.
"""

from __future__ import annotations

import base64
from typing import Any

from analytics import signals as analytics_signals
from passkeys import signals as passkey_signals

from .models import EventType
from .services import events_publish

REGISTRATION = "registration"
AUTHENTICATION = "authentication"
SIGN_COUNT_REGRESSION = "sign_count_regression"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _credential_data(credential: Any) -> dict[str, Any]:
    """What a relying party may know about a credential: never its public key or user handle."""
    if credential is None:
        return {"credential_id": None, "provider": None}
    return {"credential_id": _b64url(bytes(credential.credential_id)), "provider": credential.provider_name or None}


def _succeeded(sender, *, tenant, ceremony: str, user_id: str, credential, user_agent: str = "", ip=None, **kwargs):
    data: dict[str, Any] = {"tenant_id": str(tenant.pk), "user_id": user_id, **_credential_data(credential)}
    if ceremony == REGISTRATION:
        data.update(
            name=credential.name,
            aaguid=str(credential.aaguid),
            backup_eligible=credential.backup_eligible,
            backed_up=credential.backed_up,
            user_verified=credential.user_verified,
        )
        events_publish(tenant_id=tenant.pk, events=[(EventType.PASSKEY_CREATED, data)])
    elif ceremony == AUTHENTICATION:
        data.update(
            user_verified=credential.user_verified,
            backed_up=credential.backed_up,
            user_agent=user_agent or None,
            ip=ip,
        )
        events_publish(tenant_id=tenant.pk, events=[(EventType.PASSKEY_LOGIN_SUCCEEDED, data)])


def _failed(sender, *, tenant, ceremony: str, code: str, user_id=None, credential=None, user_agent="", ip=None, **kw):
    if ceremony != AUTHENTICATION:
        return
    data = {
        "tenant_id": str(tenant.pk),
        "user_id": user_id,
        **_credential_data(credential),
        "code": code,
        "user_agent": user_agent or None,
        "ip": ip,
    }
    events = [(EventType.PASSKEY_LOGIN_FAILED, data)]
    if code == SIGN_COUNT_REGRESSION:  # a possible cloned authenticator: also its own event
        events.append((EventType.PASSKEY_SIGN_COUNT_REGRESSION, data))
    events_publish(tenant_id=tenant.pk, events=events)


def _credential_deleted(sender, *, tenant, credential, **kwargs) -> None:
    data = {"tenant_id": str(tenant.pk), "user_id": credential.user.user_id, **_credential_data(credential)}
    events_publish(tenant_id=tenant.pk, events=[(EventType.PASSKEY_DELETED, data)])


def _user_erased(sender, *, tenant, user_id: str, **kwargs) -> None:
    events_publish(
        tenant_id=tenant.pk, events=[(EventType.USER_DELETED, {"tenant_id": str(tenant.pk), "user_id": user_id})]
    )


def _nudge_due(sender, *, tenant, user_id: str, **kwargs) -> None:
    events_publish(
        tenant_id=tenant.pk, events=[(EventType.NUDGE_DUE, {"tenant_id": str(tenant.pk), "user_id": user_id})]
    )


def connect() -> None:
    passkey_signals.ceremony_succeeded.connect(_succeeded, dispatch_uid="webhooks-succeeded")
    passkey_signals.ceremony_failed.connect(_failed, dispatch_uid="webhooks-failed")
    passkey_signals.credential_deleted.connect(_credential_deleted, dispatch_uid="webhooks-credential-deleted")
    passkey_signals.user_erased.connect(_user_erased, dispatch_uid="webhooks-user-erased")
    analytics_signals.nudge_due.connect(_nudge_due, dispatch_uid="webhooks-nudge-due")
