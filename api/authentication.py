"""`Authorization: Bearer <key>`: the key alone identifies the tenant. A browser's report carries a client
token in the same header instead, which names one ceremony of one tenant and is good for nothing else."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from passkeys.client_tokens import ClientTokenClaims, client_token_read
from tenants.selectors import ApiKeyPrincipal, api_key_authenticate
from tenants.services import api_key_touch


class ApiClient:
    """The caller as DRF's request.user: a relying-party backend, not a person."""

    is_authenticated = True

    def __init__(self, principal: ApiKeyPrincipal) -> None:
        self.principal = principal


def _bearer(request: Request) -> str:
    scheme, _, secret = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKeyPrincipal] | None:
        secret = _bearer(request)
        if not secret:
            return None  # the permission check answers 401 invalid_api_key
        principal = api_key_authenticate(secret=secret)
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
