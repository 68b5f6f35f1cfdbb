"""`Authorization: Bearer <key>`: the key alone identifies the tenant. A browser's report carries a client
token in the same header instead, which names one ceremony of one tenant and is good for nothing else."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import ParseError
from rest_framework.request import Request

from core.ratelimit import RateCounts
from passkeys.client_tokens import ClientTokenClaims, client_token_read
from tenants.caching import key_owner
from tenants.selectors import ApiKeyPrincipal, api_key_authenticate, api_key_prefix
from tenants.services import api_key_touch

from .throttling import KeyOwnerThrottle


class ApiClient:
    """The caller as DRF's request.user: a relying-party backend, not a person."""

    is_authenticated = True

    def __init__(self, principal: ApiKeyPrincipal) -> None:
        self.principal = principal


def _bearer(request: Request) -> str:
    scheme, _, secret = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


def _rate_counts(request: Request, secret: str) -> tuple[RateCounts | None, ParseError | None]:
    """The buckets the view's key throttles will count this request in, if this process knows the key's owner; and
    the body's parse error, if naming a bucket needed the body and it is not JSON."""
    owner = key_owner(api_key_prefix(secret))
    view = request.parser_context.get("view") if request.parser_context else None
    if owner is None or view is None:
        return None, None
    key_id, tenant_id = owner
    buckets, unparsed = [], None
    for throttle in view.get_throttles():
        if isinstance(throttle, KeyOwnerThrottle):
            try:
                buckets.append(throttle.bucket(request, key_id=key_id, tenant_id=tenant_id))
            except ParseError as error:
                unparsed = error
    return RateCounts([bucket for bucket in buckets if bucket is not None]), unparsed


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKeyPrincipal] | None:
        secret = _bearer(request)
        if not secret:
            return None  # the permission check answers 401 invalid_api_key
        counts, unparsed = _rate_counts(request, secret)
        principal = api_key_authenticate(secret=secret, counts=counts)
        if unparsed is not None:
            raise unparsed  # after the key: a bad key is a 401 whatever the body, a bad body with a good key a 400
        request.rate_counts = counts  # the throttles' decisions, counted in the same round trip
        api_key_touch(api_key_id=principal.key_id, prefix=principal.prefix)
        return ApiClient(principal), principal

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="passkey-service"'


class ClientTokenAuthentication(BaseAuthentication):
    """request.auth is the token's claims; a missing or bad token is a 401 invalid_client_token. A CORS
    preflight carries no credentials and is let through to the view, which answers it."""

    def authenticate(self, request: Request) -> tuple[None, ClientTokenClaims] | None:
        if request.method == "OPTIONS":
            return None
        return None, client_token_read(_bearer(request))

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="passkey-service"'
