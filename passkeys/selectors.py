"""Reads of the passkeys domain; every one takes the tenant first."""

from __future__ import annotations

from tenants.errors import NotFound
from tenants.models import Tenant

from .models import Credential, PasskeyUser


def credential_list(*, tenant: Tenant, user_id: str) -> list[Credential]:
    return list(
        Credential.objects.select_related("user").filter(tenant=tenant, user__user_id=user_id).order_by("created_at")
    )


def passkey_user_get(*, tenant: Tenant, user_id: str) -> PasskeyUser | None:
    """The user's WebAuthn identity (their random handle), or None before their first ceremony."""
    return PasskeyUser.objects.filter(tenant=tenant, user_id=user_id).first()


def credential_get(*, tenant: Tenant, credential_id: bytes) -> Credential:
    try:
        return Credential.objects.select_related("user").get(tenant=tenant, credential_id=credential_id)
    except Credential.DoesNotExist:
        raise NotFound("No credential with this id.") from None
