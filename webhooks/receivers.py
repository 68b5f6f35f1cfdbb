"""Turns what passkeys and analytics announce into webhook events; never sends anything itself.

Each receiver runs inside a ceremony, so it only logs deliveries (webhooks.services.events_publish):
nothing at all for a tenant without endpoints, one INSERT for one with subscribers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analytics import signals as analytics_signals
from core.encoding import b64url_encode
from core.errors import ErrorCode
from passkeys import signals as passkey_signals
from passkeys.challenges import AUTHENTICATION, REGISTRATION

from .models import EventType
from .services import events_publish

if TYPE_CHECKING:
    from passkeys.models import Credential
    from tenants.models import Tenant


def _credential_data(credential: Credential | None) -> dict[str, Any]:
    """What a relying party may know about a credential: never its public key or user handle."""
    if credential is None:
        return {"credential_id": None, "provider": None}
    credential_id = b64url_encode(bytes(credential.credential_id))
    return {"credential_id": credential_id, "provider": credential.provider_name or None}


def _succeeded(
    sender: Any,
    *,
    tenant: Tenant,
    ceremony: str,
    user_id: str,
    credential: Credential,
    user_agent: str = "",
    ip: str | None = None,
    **kwargs: Any,
) -> None:
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


def _failed(
    sender: Any,
    *,
    tenant: Tenant,
    ceremony: str,
    code: str,
    user_id: str | None = None,
    credential: Credential | None = None,
    user_agent: str = "",
    ip: str | None = None,
    **kwargs: Any,
) -> None:
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
    if code == ErrorCode.SIGN_COUNT_REGRESSION:  # a possible cloned authenticator: also its own event
        events.append((EventType.PASSKEY_SIGN_COUNT_REGRESSION, data))
    events_publish(tenant_id=tenant.pk, events=events)


def _credential_deleted(sender: Any, *, tenant: Tenant, credential: Credential, **kwargs: Any) -> None:
    data = {"tenant_id": str(tenant.pk), "user_id": credential.user.user_id, **_credential_data(credential)}
    events_publish(tenant_id=tenant.pk, events=[(EventType.PASSKEY_DELETED, data)])


def _user_erased(sender: Any, *, tenant: Tenant, user_id: str, **kwargs: Any) -> None:
    events_publish(
        tenant_id=tenant.pk, events=[(EventType.USER_DELETED, {"tenant_id": str(tenant.pk), "user_id": user_id})]
    )


def _nudge_due(sender: Any, *, tenant: Tenant, user_id: str, **kwargs: Any) -> None:
    events_publish(
        tenant_id=tenant.pk, events=[(EventType.NUDGE_DUE, {"tenant_id": str(tenant.pk), "user_id": user_id})]
    )


# A model reported compromised may have many credentials: they go out in events of at most this many.
STATUS_CHANGE_BATCH = 500


def _authenticator_status_changed(
    sender: Any,
    *,
    tenant: Tenant,
    aaguid: Any,
    status: str,
    authenticator_name: str,
    credentials: list[Credential],
    **kwargs: Any,
) -> None:
    affected = [
        {"credential_id": b64url_encode(bytes(credential.credential_id)), "user_id": credential.user.user_id}
        for credential in credentials
    ]
    base = {
        "tenant_id": str(tenant.pk),
        "aaguid": str(aaguid),
        "authenticator_name": authenticator_name or None,
        "status": status,
        "credentials_total": len(affected),
    }
    events = [
        (EventType.AUTHENTICATOR_STATUS_CHANGED, {**base, "credentials": affected[at : at + STATUS_CHANGE_BATCH]})
        for at in range(0, len(affected), STATUS_CHANGE_BATCH)
    ]
    events_publish(tenant_id=tenant.pk, events=events)


def connect() -> None:
    passkey_signals.ceremony_succeeded.connect(_succeeded, dispatch_uid="webhooks-succeeded")
    passkey_signals.ceremony_failed.connect(_failed, dispatch_uid="webhooks-failed")
    passkey_signals.credential_deleted.connect(_credential_deleted, dispatch_uid="webhooks-credential-deleted")
    passkey_signals.user_erased.connect(_user_erased, dispatch_uid="webhooks-user-erased")
    analytics_signals.nudge_due.connect(_nudge_due, dispatch_uid="webhooks-nudge-due")
    passkey_signals.authenticator_status_changed.connect(
        _authenticator_status_changed, dispatch_uid="webhooks-authenticator-status-changed"
    )
