"""Scope checks: each view names the scope its key must have; a browser's report needs its client token."""

from rest_framework.permissions import BasePermission

from passkeys.client_tokens import ClientTokenClaims


class HasKeyScope(BasePermission):
    def has_permission(self, request, view) -> bool:
        principal = request.auth
        if principal is None:
            return False
        required = getattr(view, "required_scope", None)
        return required is None or required in principal.scopes


class HasClientToken(BasePermission):
    """ClientTokenAuthentication has refused a missing or bad token already; a CORS preflight needs none."""

    def has_permission(self, request, view) -> bool:
        return request.method == "OPTIONS" or isinstance(request.auth, ClientTokenClaims)
