"""Reads of the passkeys domain; every one takes the tenant first."""

from __future__ import annotations

from dataclasses import dataclass

from tenants.errors import NotFound
from tenants.models import Tenant

from .models import Credential, PasskeyUser


@dataclass(frozen=True)
class UserCredentials:
    user: PasskeyUser | None  # None before the user's first ceremony: no handle yet
    credentials: list[Credential]


def user_credentials_get(*, tenant: Tenant, user_id: str) -> UserCredentials:
    """The user's WebAuthn identity and passkeys, oldest first: two indexed queries."""
    user = PasskeyUser.objects.filter(tenant=tenant, user_id=user_id).first()
    if user is None:
        return UserCredentials(user=None, credentials=[])
    credentials = list(Credential.objects.filter(tenant=tenant, user=user).order_by("created_at"))
    for credential in credentials:
        credential.user = user  # the owner is known: no join, no query per row
    return UserCredentials(user=user, credentials=credentials)


def credential_get(*, tenant: Tenant, credential_id: bytes) -> Credential:
    try:
        return Credential.objects.select_related("user").get(tenant=tenant, credential_id=credential_id)
    except Credential.DoesNotExist:
        raise NotFound("No credential with this id.") from None
