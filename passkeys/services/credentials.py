"""Managing stored credentials and erasing users."""

from __future__ import annotations

from tenants.errors import NotFound
from tenants.models import Tenant

from ..models import Credential, PasskeyUser
from ..selectors import credential_get
from ..signals import user_erased


def credential_rename(*, tenant: Tenant, credential_id: bytes, name: str) -> Credential:
    credential = credential_get(tenant=tenant, credential_id=credential_id)
    credential.name = name
    credential.save(update_fields=["name"])
    return credential


def credential_delete(*, tenant: Tenant, credential_id: bytes) -> None:
    deleted, _ = Credential.objects.filter(tenant=tenant, credential_id=credential_id).delete()
    if not deleted:
        raise NotFound("No credential with this id.")


def user_delete(*, tenant: Tenant, user_id: str) -> None:
    """Erase the user's credentials and handle; idempotent, so a retried erasure also succeeds."""
    PasskeyUser.objects.filter(tenant=tenant, user_id=user_id).delete()
    user_erased.send(sender=Tenant, tenant=tenant, user_id=user_id)
