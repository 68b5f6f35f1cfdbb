"""Scope checks: each view names the scope its key must have."""

from rest_framework.permissions import BasePermission


class HasKeyScope(BasePermission):
    def has_permission(self, request, view) -> bool:
        principal = request.auth
        if principal is None:
            return False
        required = getattr(view, "required_scope", None)
        return required is None or required in principal.scopes
