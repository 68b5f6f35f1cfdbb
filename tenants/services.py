"""Writes for tenants and their API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError

from . import caching, validation
from .audit import audit_record, field_changes
from .models import ApiKey, AuditAction, Tenant

API_KEY_PREFIX = "psk"


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


def api_key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def tenant_create(*, name: str, rp_id: str, origins: list[str], rp_name: str = "", **fields: Any) -> Tenant:
    """A new tenant; `fields` may set any other setting of validation.SETTINGS (the model's defaults otherwise).

    Raises TenantSettingsInvalid (a DomainError) naming every refused setting; nothing is stored then.
    """
    values = {field: getattr(Tenant(), field) for field in validation.SETTINGS}
    values.update(fields, name=name, rp_id=rp_id, origins=list(origins), rp_name=rp_name or name)
    cleaned = validation.tenant_settings_validate(values)
    with transaction.atomic():
        tenant = Tenant.objects.create(**cleaned)
        audit_record(tenant=tenant, action=AuditAction.TENANT_CREATED, target=f"Tenant {tenant}")
    return tenant


def tenant_update(*, tenant: Tenant, **changes: Any) -> Tenant:
    """Change settings after checking the tenant as it would then be whole (e.g. cross-origin needs top origins)."""
    values = {field: getattr(tenant, field) for field in validation.SETTINGS}
    values.update(changes)
    cleaned = validation.tenant_settings_validate(values)
    changed = [field for field in validation.SETTINGS if cleaned[field] != getattr(tenant, field)]
    if not changed:
        return tenant
    with transaction.atomic():
        before = Tenant.objects.select_for_update().get(pk=tenant.pk)
        for field in changed:
            setattr(tenant, field, cleaned[field])
        tenant.save(update_fields=[*changed, "updated_at"])
        audit_record(
            tenant=tenant,
            action=AuditAction.TENANT_UPDATED,
            target=f"Tenant {tenant}",
            changes=field_changes(before, tenant, changed),
        )
    return tenant


def api_key_issue(
    *,
    tenant: Tenant,
    scopes: list[str] | None = None,
    label: str = "",
    expires_at: datetime | None = None,
) -> IssuedApiKey:
    """Create a key; without a scope list it gets every scope."""
    if scopes is not None and not scopes:
        raise DomainError("a key needs at least one scope (leave the list out for all of them)")
    scopes = list(ApiKey.SCOPES) if scopes is None else list(dict.fromkeys(scopes))
    unknown = sorted(set(scopes) - set(ApiKey.SCOPES))
    if unknown:
        raise DomainError(f"unknown scopes {unknown}; choose from {list(ApiKey.SCOPES)}")
    prefix = f"{API_KEY_PREFIX}_{secrets.token_hex(6)}"
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            tenant=tenant,
            prefix=prefix,
            key_hash=api_key_hash(secret),
            scopes=scopes,
            label=label,
            expires_at=expires_at,
        )
        audit_record(
            tenant=tenant,
            action=AuditAction.API_KEY_CREATED,
            target=api_key_describe(api_key),
            changes={"scopes": [None, scopes], "label": [None, label], "expires_at": [None, expires_at]},
        )
    return IssuedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke the key at once in every process; revoking a revoked key changes (and records) nothing."""
    with transaction.atomic():
        now = timezone.now()
        revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
        if revoked:
            audit_record(
                tenant=api_key.tenant,
                action=AuditAction.API_KEY_REVOKED,
                target=api_key_describe(api_key),
                changes={"revoked_at": [None, now]},
            )
        transaction.on_commit(lambda: caching.api_key_forget(api_key.key_hash))


def api_key_describe(api_key: ApiKey) -> str:
    return f"API key {api_key.prefix}" + (f" ({api_key.label})" if api_key.label else "")


def api_key_touch(*, api_key_id: int, prefix: str) -> None:
    """Record use, at most about once a minute per key and process so a hot key does not write per request."""
    if caching.api_key_touch_due(prefix):
        ApiKey.objects.filter(pk=api_key_id).update(last_used_at=timezone.now())


DEMO_NAME, DEMO_RP_ID = "Demo", "localhost"


def demo_tenant_get_or_create(*, port: int = 8000) -> Tenant:
    """The local demo relying party (rp id localhost), allowing the origin of the port it runs on."""
    url = f"http://localhost:{port}"
    tenant = Tenant.objects.filter(name=DEMO_NAME, rp_id=DEMO_RP_ID).first()
    if tenant is None:
        return tenant_create(name=DEMO_NAME, rp_id=DEMO_RP_ID, origins=[url], rp_name="Passkey demo")
    if url not in tenant.origins:
        tenant = tenant_update(tenant=tenant, origins=[*tenant.origins, url])
    return tenant
