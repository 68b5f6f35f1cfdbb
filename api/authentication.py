"""`Authorization: Bearer <key>`: the key alone identifies the tenant."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from tenants.selectors import ApiKeyPrincipal, api_key_authenticate
from tenants.services import api_key_touch


class ApiClient:
    """The caller as DRF's request.user: a relying-party backend, not a person."""

    is_authenticated = True

    def __init__(self, principal: ApiKeyPrincipal) -> None:
        self.principal = principal


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKeyPrincipal] | None:
        scheme, _, secret = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return None  # the permission check answers 401 invalid_api_key
        principal = api_key_authenticate(secret=secret.strip())
        api_key_touch(api_key_id=principal.key_id, prefix=principal.prefix)
        return ApiClient(principal), principal

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="passkey-service"'
