"""Writes for tenants and their API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from . import caching
from .audit import audit_record
from .errors import DomainError
from .models import ApiKey, AuditAction, Tenant

API_KEY_PREFIX = "psk"
ANDROID_ORIGIN_PREFIX = "android:apk-key-hash:"


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


def api_key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def origin_validate(origin: str) -> str:
    """Accept an exact web origin (https, or http on localhost) or an Android APK key-hash origin."""
    if origin.startswith(ANDROID_ORIGIN_PREFIX):
        if len(origin) == len(ANDROID_ORIGIN_PREFIX):
            raise DomainError(f"{origin!r} has no key hash")
        return origin
    parts = urlsplit(origin)
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1"))
    if not secure or not parts.hostname or parts.path or parts.query or parts.fragment or parts.username:
        raise DomainError(f"{origin!r} is not an origin like https://example.com[:port]")
    return origin


def tenant_create(
    *,
    name: str,
    rp_id: str,
    origins: list[str],
    rp_name: str = "",
    challenge_timeout: int = 300,
) -> Tenant:
    if not origins:
        raise DomainError("a tenant needs at least one origin")
    if not 10 <= challenge_timeout <= 3600:
        raise DomainError("challenge timeout must be between 10 and 3600 seconds")
    rp_id = rp_id.strip().lower()
    if not rp_id or "/" in rp_id or ":" in rp_id:
        raise DomainError(f"{rp_id!r} is not a domain")
    with transaction.atomic():
        tenant = Tenant.objects.create(
            name=name,
            rp_id=rp_id,
            rp_name=rp_name or name,
            origins=[origin_validate(o) for o in origins],
            challenge_timeout=challenge_timeout,
        )
        audit_record(tenant=tenant, action=AuditAction.TENANT_CREATED, target=f"Tenant {tenant}")
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
        tenant.origins = [*tenant.origins, url]
        tenant.save(update_fields=["origins", "updated_at"])
    return tenant
