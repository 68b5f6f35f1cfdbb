"""Managing stored credentials and erasing users."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction

from tenants.audit import audit_record
from tenants.models import AuditAction, Tenant

from ..models import Credential, PasskeyUser
from ..providers import provider_name
from ..selectors import credential_get, user_credential_count
from ..signals import credential_deleted, user_erased
from .registration import passkey_user_get_or_create


def credential_import(
    *,
    tenant: Tenant,
    user_id: str,
    credential_id: bytes,
    public_key: bytes,
    algorithm: int,
    aaguid: uuid.UUID,
    backup_eligible: bool,
    backed_up: bool,
    sign_count: int = 0,
    transports: list[str] | None = None,
    name: str = "",
    created_at: datetime | None = None,
    last_used_at: datetime | None = None,
) -> Credential:
    """Store a credential registered elsewhere (a migration from another provider, or demo data).

    Nothing is verified: the caller vouches for the values, which is why no API exposes this.
    """
    user = passkey_user_get_or_create(tenant=tenant, user_id=user_id)
    provider = provider_name(aaguid)
    credential = Credential.objects.create(
        tenant=tenant,
        user=user,
        credential_id=credential_id,
        public_key=public_key,
        algorithm=algorithm,
        sign_count=sign_count,
        transports=transports or [],
        aaguid=aaguid,
        provider_name=provider,
        attestation_format="none",
        backup_eligible=backup_eligible,
        backed_up=backed_up,
        user_verified=True,
        name=name or provider or "Passkey",
        last_used_at=last_used_at,
    )
    if created_at is not None:  # auto_now_add ignores a value given at creation
        Credential.objects.filter(pk=credential.pk).update(created_at=created_at)
        credential.created_at = created_at
    return credential


def credential_rename(*, tenant: Tenant, credential_id: bytes, name: str) -> Credential:
    credential = credential_get(tenant=tenant, credential_id=credential_id)
    credential.name = name
    credential.save(update_fields=["name"])
    return credential


def credential_delete(*, tenant: Tenant, credential_id: bytes) -> None:
    credential = credential_get(tenant=tenant, credential_id=credential_id)
    with transaction.atomic():
        credential.delete()
        audit_record(tenant=tenant, action=AuditAction.CREDENTIAL_DELETED, target=credential_describe(credential))
    credential_deleted.send(sender=Tenant, tenant=tenant, credential=credential)


def user_delete(*, tenant: Tenant, user_id: str) -> None:
    """Erase the user's credentials and handle; idempotent, so a retried erasure also succeeds."""
    with transaction.atomic():
        credentials = user_credential_count(tenant=tenant, user_id=user_id)
        PasskeyUser.objects.filter(tenant=tenant, user_id=user_id).delete()
        audit_record(
            tenant=tenant,
            action=AuditAction.USER_DELETED,
            target=f"User {user_id}",
            changes={"credentials": [credentials, 0]},
        )
    user_erased.send(sender=Tenant, tenant=tenant, user_id=user_id)


def credential_describe(credential: Credential) -> str:
    """How the audit log names a credential: its name, provider and owner, never its bytes."""
    provider = f", {credential.provider_name}" if credential.provider_name else ""
    return f"Credential “{credential.name}”{provider} of user {credential.user.user_id}"
