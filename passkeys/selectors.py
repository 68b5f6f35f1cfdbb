"""Reads of the passkeys domain; every one takes the tenant first, and none imports a service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Min, QuerySet
from django.db.models.functions import TruncDate

from core.errors import NotFound
from tenants.models import Tenant

from .models import Credential, PasskeyUser

# A credential as options name it: its id and the transports the browser reported (§5.8.3 descriptors).
Descriptor = tuple[bytes, list[str]]


@dataclass(frozen=True)
class UserCredentials:
    user: PasskeyUser | None  # None before the user's first ceremony: no handle yet
    credentials: list[Credential]


def passkey_user_get(*, tenant: Tenant, user_id: str) -> PasskeyUser | None:
    """The user's WebAuthn identity (their random handle), or None before their first registration start."""
    return PasskeyUser.objects.filter(tenant=tenant, user_id=user_id).first()


def user_credentials_get(*, tenant: Tenant, user_id: str) -> UserCredentials:
    """The user's WebAuthn identity and passkeys, oldest first: two indexed queries."""
    user = passkey_user_get(tenant=tenant, user_id=user_id)
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


def credential_for_login(*, tenant: Tenant, credential_id: bytes) -> Credential | None:
    """The credential a login names, with its owner, in one query; None if the tenant has none with this id."""
    try:
        return Credential.objects.select_related("user").get(tenant=tenant, credential_id=credential_id)
    except Credential.DoesNotExist:
        return None


def credential_id_taken(*, tenant: Tenant, credential_id: bytes) -> bool:
    """Whether the tenant (the relying party) already has a credential with this id (§7.1 step 26)."""
    return Credential.objects.filter(tenant=tenant, credential_id=credential_id).exists()


def _descriptors(credentials: QuerySet[Credential]) -> list[Descriptor]:
    return [
        (bytes(credential_id), transports)
        for credential_id, transports in credentials.values_list("credential_id", "transports")
    ]


def login_allow_list(*, tenant: Tenant, user_id: str) -> list[Descriptor]:
    """allowCredentials of a login bound to a user: their credentials, in one query (none for an unknown user)."""
    return _descriptors(Credential.objects.filter(tenant=tenant, user__user_id=user_id))


def registration_exclude_list(*, tenant: Tenant, user: PasskeyUser) -> list[Descriptor]:
    """excludeCredentials of a registration: the user's credentials, so an authenticator is not registered twice."""
    return _descriptors(Credential.objects.filter(tenant=tenant, user=user))


def user_credential_count(*, tenant: Tenant, user_id: str) -> int:
    return Credential.objects.filter(tenant=tenant, user__user_id=user_id).count()


# --- What analytics reads of passkeys (metrics, nudges, the demo seed).


def passkeys_of_user(*, tenant: Tenant, user_id: str) -> list[tuple[bytes, bool, str, str]]:
    """(credential id, backed up, provider name, authenticator attachment) of each of the user's passkeys."""
    # Naming the user's tenant too lets the unique (tenant, user_id) index drive the join.
    rows = Credential.objects.filter(tenant=tenant, user__tenant=tenant, user__user_id=user_id).values_list(
        "credential_id", "backed_up", "provider_name", "authenticator_attachment"
    )
    return [(bytes(credential_id), *rest) for credential_id, *rest in rows]


def passkey_owners_first_day(*, tenant: Tenant, until: datetime) -> QuerySet:
    """(tenant_id, user id, first UTC day) of each user with a passkey created before `until`, as a subquery."""
    return (
        Credential.objects.filter(tenant=tenant, created_at__lt=until)
        .values("tenant_id", "user__user_id")
        .annotate(first=Min(TruncDate("created_at", tzinfo=UTC)))
    )


def passkey_owners_between(*, tenant: Tenant, start: datetime, end: datetime) -> QuerySet:
    """User ids of those who created a passkey in [start, end), as a subquery."""
    owners = PasskeyUser.objects.filter(
        tenant=tenant, credentials__created_at__gte=start, credentials__created_at__lt=end
    )
    return owners.values_list("user_id")


def passkey_users_count(*, tenant: Tenant, before: datetime) -> int:
    return Credential.objects.filter(tenant=tenant, created_at__lt=before).values("user_id").distinct().count()


def passkeys_count(*, tenant: Tenant) -> int:
    return Credential.objects.filter(tenant=tenant).count()
