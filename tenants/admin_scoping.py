"""Tenant scoping for the Django admin: members see and change only their own tenants' rows.

A ModelAdmin subclasses `TenantScopedAdmin` and names the ORM path from its model to the
tenant (`tenant_field = "tenant"`, `"endpoint__tenant"`, or `"pk"` for the Tenant model itself).
The mixin then decides every permission from the user's `Membership` roles, not from Django's
model permissions, so a tenant admin only needs `is_staff`:

- querysets (changelist, change/delete/history URLs, actions, search, autocomplete) hold only
  rows of tenants the user is a member of; any other object id answers 404;
- view needs any role in the row's tenant, add/change/delete a writing role (owner, admin);
- foreign keys to Tenant, or to a model with a tenant, offer only the user's writable tenants;
- an action only ever receives rows of tenants where the user holds the role it needs;
- list filters on relations list only values present in the scoped rows (no other tenant's names).

A superuser passes every check and sees every tenant, except where a subclass says otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest

from .models import Membership, Role, Tenant

VIEW_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.ANALYST})
WRITE_ROLES = frozenset({Role.OWNER, Role.ADMIN})
_ROLES_ATTR = "_tenant_roles"


def tenant_roles(request: HttpRequest) -> dict[Any, str]:
    """{tenant id: role} of the signed-in user, read once per request."""
    roles = getattr(request, _ROLES_ATTR, None)
    if roles is None:
        user = request.user
        roles = {}
        if user.is_authenticated and user.is_active:
            roles = dict(Membership.objects.filter(user=user).values_list("tenant_id", "role"))
        setattr(request, _ROLES_ATTR, roles)
    return roles


def is_superuser(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


def tenant_ids_with(request: HttpRequest, roles: Iterable[str]) -> set[Any]:
    """Tenants in which the user holds one of `roles` (superusers are handled by the caller)."""
    roles = frozenset(roles)
    return {tenant_id for tenant_id, role in tenant_roles(request).items() if role in roles}


def _may_use_admin(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_staff


def holds_role(request: HttpRequest, roles: frozenset[str], tenant_id: object) -> bool:
    """A superuser, or an active staff member holding one of `roles` in this tenant."""
    if is_superuser(request):
        return True
    return _may_use_admin(request) and tenant_roles(request).get(tenant_id) in roles


def tenant_path_of(model: type[models.Model]) -> str | None:
    """The ORM path from `model` to its tenant, as its registered admin or a `tenant` field says."""
    if model is Tenant:
        return "pk"
    model_admin = admin.site._registry.get(model)  # noqa: SLF001 - the registry has no public getter
    if isinstance(model_admin, TenantScopedAdmin):
        return model_admin.tenant_field
    if any(field.name == "tenant" for field in model._meta.get_fields()):
        return "tenant"
    return None


class TenantScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows and permissions follow the user's tenant memberships."""

    tenant_field: str = "tenant"
    view_roles: frozenset[str] = VIEW_ROLES
    add_roles: frozenset[str] = WRITE_ROLES
    change_roles: frozenset[str] = WRITE_ROLES
    delete_roles: frozenset[str] = WRITE_ROLES

    # Rows and the tenant they belong to.

    def tenant_id_of(self, obj: models.Model) -> Any:
        """The tenant id of `obj`, following `tenant_field` (reads the FK column, not the row)."""
        *hops, last = self.tenant_field.split("__")
        target: Any = obj
        for hop in hops:
            target = getattr(target, hop, None)
            if target is None:
                return None
        if last == "pk":
            return target.pk
        return getattr(target, target._meta.get_field(last).attname)

    def scope_queryset(self, request: HttpRequest, queryset: models.QuerySet, roles: Iterable[str]) -> models.QuerySet:
        """`queryset` narrowed to tenants where the user holds one of `roles`."""
        if is_superuser(request):
            return queryset
        return queryset.filter(**{f"{self.tenant_field}__in": tenant_ids_with(request, roles)})

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return self.scope_queryset(request, super().get_queryset(request), self.view_roles)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        # Another tenant's id looks exactly like an id that does not exist: 404, not a redirect.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj

    # Permissions: memberships decide, Django model permissions are not consulted.

    def role_allows(self, request: HttpRequest, roles: frozenset[str], obj: models.Model | None = None) -> bool:
        """The user holds one of `roles` in `obj`'s tenant (with no `obj`: in any tenant)."""
        if obj is None:
            return is_superuser(request) or (_may_use_admin(request) and bool(tenant_ids_with(request, roles)))
        return holds_role(request, roles, self.tenant_id_of(obj))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.role_allows(request, self.view_roles, None)

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.role_allows(request, self.view_roles, obj) or self.has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.role_allows(request, self.add_roles, None)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.role_allows(request, self.change_roles, obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.role_allows(request, self.delete_roles, obj)

    # Writes: the form offers only writable tenants, and the save checks again.

    def writable_tenant_ids(self, request: HttpRequest) -> set[Any]:
        return tenant_ids_with(request, self.add_roles | self.change_roles)

    def formfield_for_foreignkey(self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        if not is_superuser(request):
            path = tenant_path_of(db_field.related_model)
            if path is not None:
                related = db_field.related_model._default_manager
                kwargs["queryset"] = related.filter(**{f"{path}__in": self.writable_tenant_ids(request)})
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: models.ManyToManyField, request: HttpRequest, **kwargs: Any) -> Any:
        if not is_superuser(request):
            path = tenant_path_of(db_field.related_model)
            if path is not None:
                related = db_field.related_model._default_manager
                kwargs["queryset"] = related.filter(**{f"{path}__in": self.writable_tenant_ids(request)})
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        writable = self.writable_tenant_ids(request)
        if self.tenant_field == "tenant" and len(writable) == 1 and not is_superuser(request):
            initial.setdefault("tenant", next(iter(writable)))
        return initial

    def check_can_save(self, request: HttpRequest, obj: models.Model, change: bool) -> None:
        """Raise PermissionDenied unless the user may write `obj` into the tenant it now names."""
        # The form already limits the choices; this holds even for fields a subclass sets itself.
        if not self.role_allows(request, self.change_roles if change else self.add_roles, obj):
            raise PermissionDenied

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        self.check_can_save(request, obj, change)
        super().save_model(request, obj, form, change)

    def check_can_delete(self, request: HttpRequest, obj: models.Model) -> None:
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        self.check_can_delete(request, obj)
        super().delete_model(request, obj)

    # Actions and filters.

    def _roles_for_permissions(self, permissions: Iterable[str]) -> frozenset[str]:
        # A custom action permission "rotate" is decided by `rotate_roles`, like the built-in ones.
        roles = [getattr(self, f"{p}_roles") for p in permissions if hasattr(self, f"{p}_roles")]
        # An action that names no permission changes rows, so it needs a changing role.
        return frozenset.intersection(*roles) if roles else self.change_roles

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        for name, (func, action_name, description) in list(actions.items()):
            roles = self._roles_for_permissions(getattr(func, "allowed_permissions", ()))
            actions[name] = (self._scoped_action(func, roles), action_name, description)
        return actions

    def _scoped_action(self, func: Any, roles: frozenset[str]) -> Any:
        @functools.wraps(func)
        def scoped(modeladmin: Any, request: HttpRequest, queryset: models.QuerySet) -> Any:
            # A user who is admin of A but analyst of B must not act on B's selected rows.
            return func(modeladmin, request, self.scope_queryset(request, queryset, roles))

        return scoped

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        # RelatedFieldListFilter lists every row of the related table (every tenant's name);
        # RelatedOnlyFieldListFilter lists only values present in this user's scoped rows.
        scoped = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and "__" not in entry and self._is_relation(entry):
                entry = (entry, admin.RelatedOnlyFieldListFilter)
            scoped.append(entry)
        return scoped

    def _is_relation(self, name: str) -> bool:
        try:
            return self.model._meta.get_field(name).is_relation
        except Exception:  # noqa: BLE001 - a callable or a custom filter name, left as it is
            return False


class TenantScopedInline(admin.TabularInline):
    """An inline shown inside a TenantScopedAdmin: the parent's tenant decides its permissions."""

    parent_tenant_field: str = "tenant"
    view_roles: frozenset[str] = VIEW_ROLES
    add_roles: frozenset[str] = WRITE_ROLES
    change_roles: frozenset[str] = WRITE_ROLES
    delete_roles: frozenset[str] = WRITE_ROLES

    def role_allows(self, request: HttpRequest, roles: frozenset[str], obj: models.Model | None = None) -> bool:
        if obj is None:
            return is_superuser(request)
        tenant_id = obj.pk if self.parent_tenant_field == "pk" else getattr(obj, f"{self.parent_tenant_field}_id")
        return holds_role(request, roles, tenant_id)

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.role_allows(request, self.view_roles, obj)

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.role_allows(request, self.add_roles, obj)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.role_allows(request, self.change_roles, obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.role_allows(request, self.delete_roles, obj)
