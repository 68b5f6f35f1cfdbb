"""Reads for tenants and API keys."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from core.errors import InvalidApiKey, NotFound
from core.ratelimit import RateCounts

from . import caching
from .models import ApiKey, Membership, Tenant
from .services import api_key_hash


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """Who is calling: the key and the tenant it belongs to."""

    key_id: int
    prefix: str
    tenant: Tenant
    scopes: frozenset[str]
    expires_at: datetime | None


def api_key_prefix(secret: str) -> str:
    """ "psk_<public id>_<secret part>": the public id names the key; only the hash of the whole proves it."""
    return "_".join(secret.split("_", 2)[:2])[:32]


def api_key_authenticate(*, secret: str, counts: RateCounts | None = None) -> ApiKeyPrincipal:
    """Resolve a presented key to its tenant; every failure looks the same to the caller.

    `counts` (the request's rate-limit buckets) ride along with the cache read: one Redis round trip for both."""
    key_hash = api_key_hash(secret)
    principal = caching.api_key_get(key_hash, counts=counts)
    if principal is None:
        api_key = ApiKey.objects.select_related("tenant").filter(prefix=api_key_prefix(secret)).first()
        if api_key is None or not hmac.compare_digest(api_key.key_hash, key_hash) or api_key.revoked_at:
            raise InvalidApiKey("The API key is missing, unknown, revoked or expired.")
        principal = ApiKeyPrincipal(
            key_id=api_key.pk,
            prefix=api_key.prefix,
            tenant=api_key.tenant,
            scopes=frozenset(api_key.scopes),
            expires_at=api_key.expires_at,
        )
        caching.api_key_put(key_hash, principal)
    if principal.expires_at is not None and principal.expires_at <= timezone.now():
        raise InvalidApiKey("The API key is missing, unknown, revoked or expired.")
    caching.key_owner_remember(principal.prefix, principal.key_id, str(principal.tenant.pk))
    return principal


def tenant_get(*, tenant_id: str) -> Tenant:
    try:
        return Tenant.objects.get(pk=uuid.UUID(tenant_id))
    except (ValueError, Tenant.DoesNotExist):
        raise NotFound("No such tenant.") from None


def tenant_web_origins(*, tenant_id: str) -> frozenset[str] | None:
    """The tenant's http(s) origins, None when there is no such tenant (a process-wide map: no query)."""
    return caching.web_origins.of_tenant(tenant_id)


def web_origin_known(*, origin: str) -> bool:
    """Whether some tenant lists `origin`: what a CORS preflight, which carries no credentials, can ask."""
    return caching.web_origins.known(origin)


def tenants_visible_to(*, user) -> list[Tenant]:
    """Tenants a signed-in person may see: all for a superuser, else those they are a member of."""
    if not user.is_authenticated:
        return []
    if user.is_superuser:
        return list(Tenant.objects.order_by("name"))
    return list(Tenant.objects.filter(memberships__user=user).order_by("name").distinct())


def membership_role(*, user, tenant: Tenant) -> str | None:
    if user.is_superuser:
        return "owner"
    return Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()
