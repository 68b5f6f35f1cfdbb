"""The tenant-scoped admin for tenants, API keys, members and the audit log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from . import (
    admin_audit,  # noqa: F401 - registers the audit log's admin
    validation,
)
from .admin_scoping import TenantScopedAdmin, TenantScopedInline, is_superuser, tenant_ids_with, tenant_roles
from .audit import audit_record, field_changes
from .models import ApiKey, AuditAction, Membership, Role, Tenant
from .services import api_key_describe, api_key_issue, api_key_revoke

# --- tenants -------------------------------------------------------------------------------


class LinesField(forms.CharField):
    """A list of strings edited one per line, instead of as raw JSON."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 80})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        return [line.strip() for line in (value or "").splitlines() if line.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.to_python(initial or []) != self.to_python(data)


class TenantForm(forms.ModelForm):
    """Every setting goes through validation.tenant_settings_validate, the check the services use too."""

    origins = LinesField(help_text="One origin per line: https://example.com or android:apk-key-hash:…")
    top_origins = LinesField(
        required=False, help_text="One per line: the pages allowed to embed a ceremony when cross-origin is allowed."
    )
    allowed_aaguids = LinesField(
        required=False, help_text="One AAGUID per line; leave empty to allow every authenticator."
    )

    class Meta:
        model = Tenant
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for bound in ("RATE_LIMIT_PER_KEY", "RATE_LIMIT_PER_USER"):
            field = bound.lower()
            if field in self.fields:
                low, high = getattr(settings, f"{bound}_MIN"), getattr(settings, f"{bound}_MAX")
                self.fields[field].help_text += f" Between {low} and {high} on this service."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # The tenant as it would be saved: fields this form does not show keep their stored values.
        values = {
            field: cleaned[field] if field in cleaned else getattr(self.instance, field)
            for field in validation.SETTINGS
            if field not in self.errors
        }
        try:
            cleaned.update(validation.tenant_settings_validate(values))
        except validation.TenantSettingsInvalid as invalid:
            for field, reasons in invalid.errors.items():
                if field in self.fields:
                    self.add_error(field, reasons)
                else:
                    self.add_error(None, f"{field}: {' '.join(reasons)}")
        return cleaned


class ApiKeyInline(TenantScopedInline):
    """The tenant's keys at a glance; issuing and revoking happen on the API key pages."""

    model = ApiKey
    parent_tenant_field = "pk"
    extra = 0
    show_change_link = True
    fields = ("prefix", "label", "scopes", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields

    # Not even a superuser: a key added here would skip api_key_issue (no hash, no audit entry).
    def has_add_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return False


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    """A tenant's settings page: owners and admins edit it, analysts read it, superusers create."""

    tenant_field = "pk"
    add_roles = delete_roles = frozenset()  # only a superuser creates or deletes a tenant
    form = TenantForm
    list_display = ("name", "rp_id", "your_role", "id", "created_at")
    search_fields = ("name", "rp_id")
    readonly_fields = ("id", "created_at", "updated_at")
    inlines = [ApiKeyInline]
    fieldsets = (
        (None, {"fields": ("id", "name", "rp_name", "rp_id")}),
        ("Origins", {"fields": ("origins", "allow_cross_origin", "top_origins")}),
        (
            "Ceremonies",
            {
                "fields": (
                    "user_verification",
                    "resident_key",
                    "challenge_timeout",
                    "algorithms",
                    "automatic_upgrades",
                )
            },
        ),
        (
            "Authenticators",
            {
                "fields": (
                    "attestation",
                    "attestation_policy",
                    "credential_kinds",
                    "attestation_roots",
                    "allowed_aaguids",
                )
            },
        ),
        ("Limits", {"fields": ("rate_limit_per_key", "rate_limit_per_user", "event_retention_days")}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="your role")
    def your_role(self, obj: Tenant) -> str:
        return obj.your_role or "superuser"

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        mine = Membership.objects.filter(tenant=OuterRef("pk"), user=request.user.pk).values("role")[:1]
        return super().get_queryset(request).annotate(your_role=Subquery(mine))

    def save_model(self, request: HttpRequest, obj: Tenant, form: forms.ModelForm, change: bool) -> None:
        before = Tenant.objects.get(pk=obj.pk) if change else None
        super().save_model(request, obj, form, change)
        if change:
            changes = field_changes(before, obj, form.changed_data)
            if changes:
                audit_record(tenant=obj, action=AuditAction.TENANT_UPDATED, target=f"Tenant {obj}", changes=changes)
        else:
            audit_record(tenant=obj, action=AuditAction.TENANT_CREATED, target=f"Tenant {obj}")


# --- API keys ------------------------------------------------------------------------------


def _scopes_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in ApiKey.SCOPES],
        widget=forms.CheckboxSelectMultiple,
        initial=list(ApiKey.SCOPES),
    )


class ApiKeyAddForm(forms.ModelForm):
    scopes = _scopes_field()

    class Meta:
        model = ApiKey
        fields = ("tenant", "label", "scopes", "expires_at")


class ApiKeyChangeForm(forms.ModelForm):
    scopes = _scopes_field()

    class Meta:
        model = ApiKey
        fields = ("label", "scopes", "expires_at")


class ApiKeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "active"), ("revoked", "revoked"), ("expired", "expired")]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    """Issue (the secret is shown once), narrow, and revoke keys; the hash is never shown."""

    delete_roles = frozenset()  # revoke instead: a revoked key stays in the list and the audit log
    list_display = ("prefix", "tenant", "label", "scope_list", "status", "created_at", "last_used_at", "expires_at")
    list_filter = ("tenant", ApiKeyStatusFilter)
    search_fields = ("prefix", "label")
    actions = ["revoke"]
    created_template = "admin/tenants/apikey/created.html"
    KEY_FIELDS = ("prefix", "tenant", "status")

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return "all" if set(obj.scopes) >= set(ApiKey.SCOPES) else ", ".join(obj.scopes)

    @admin.display(description="status")
    def status(self, obj: ApiKey) -> str:
        if obj.revoked_at is not None:
            return "revoked"
        if obj.expires_at is not None and obj.expires_at <= timezone.now():
            return "expired"
        return "active"

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = ApiKeyChangeForm if obj is not None else ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["tenant", "label", "scopes", "expires_at"]
        return [*self.KEY_FIELDS, "label", "scopes", "expires_at", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return []
        fixed = [*self.KEY_FIELDS, "created_at", "last_used_at", "revoked_at"]
        return fixed + ["label", "scopes", "expires_at"] if obj.revoked_at else fixed

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        self.check_can_save(request, obj, change)
        if change:
            before = ApiKey.objects.get(pk=obj.pk)
            obj.save()  # its post_save drops the cached key, so narrowed scopes apply at once
            changes = field_changes(before, obj, form.changed_data)
            if changes:
                audit_record(
                    tenant=obj.tenant, action=AuditAction.API_KEY_UPDATED, target=api_key_describe(obj), changes=changes
                )
            return
        issued = api_key_issue(
            tenant=obj.tenant, scopes=obj.scopes, label=obj.label, expires_at=obj.expires_at
        )  # audited by the service
        for field in ("id", "prefix", "key_hash", "scopes", "created_at"):
            setattr(obj, field, getattr(issued.api_key, field))
        request._issued_api_key_secret = issued.secret  # read once, by response_add below

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        secret = getattr(request, "_issued_api_key_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": "API key created",
            "opts": self.opts,
            "api_key": obj,
            "secret": secret,
            "changelist_url": reverse("admin:tenants_apikey_changelist"),
            "change_url": reverse("admin:tenants_apikey_change", args=[obj.pk]),
        }
        response = TemplateResponse(request, self.created_template, context)
        response["Cache-Control"] = "no-store"  # the only copy of the secret: never cache the page
        return response

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True).select_related("tenant"))
        for api_key in keys:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)


# --- members -------------------------------------------------------------------------------


class MembershipAddForm(forms.ModelForm):
    # A username, not a list of every account: people of other tenants stay invisible.
    username = forms.CharField(help_text="The person's admin login. They need staff status to sign in.")

    class Meta:
        model = Membership
        fields = ("tenant", "role")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user_model = get_user_model()
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: cleaned.get("username", "")}).first()
        if user is None:
            self.add_error("username", "No account with this username.")
        elif cleaned.get("tenant") and Membership.objects.filter(user=user, tenant=cleaned["tenant"]).exists():
            self.add_error("username", "This person is already a member of this tenant.")
        else:
            self.instance.user = user
        return cleaned


class MembershipChangeForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ("role",)


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    """Owners manage their tenant's members; admins too, except that they cannot touch owners."""

    list_display = ("user", "tenant", "role", "created_at")
    list_filter = ("role", "tenant")
    search_fields = ("user__username", "user__email")

    def _is_owner(self, request: HttpRequest, tenant_id: Any) -> bool:
        return is_superuser(request) or tenant_roles(request).get(tenant_id) == Role.OWNER

    def _last_owner(self, obj: Membership) -> bool:
        owners = Membership.objects.filter(tenant_id=obj.tenant_id, role=Role.OWNER)
        return obj.role == Role.OWNER and not owners.exclude(pk=obj.pk).exists()

    def has_change_permission(self, request: HttpRequest, obj: Membership | None = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.role != Role.OWNER or self._is_owner(request, obj.tenant_id))

    def has_delete_permission(self, request: HttpRequest, obj: Membership | None = None) -> bool:
        if obj is not None and self._last_owner(obj) and not is_superuser(request):
            return False  # a tenant keeps at least one owner
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.role != Role.OWNER or self._is_owner(request, obj.tenant_id))

    def get_form(self, request: HttpRequest, obj: Membership | None = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = MembershipChangeForm if obj is not None else MembershipAddForm
        base = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        class OwnerRulesForm(base):
            def clean(self) -> dict[str, Any]:
                cleaned = super().clean()
                tenant = cleaned.get("tenant") or (obj.tenant if obj is not None else None)
                role = cleaned.get("role")
                if tenant is not None and role == Role.OWNER and not model_admin._is_owner(request, tenant.pk):
                    self.add_error("role", "Only an owner of this tenant can make someone an owner.")
                if obj is not None and role != Role.OWNER and model_admin._last_owner(obj):
                    self.add_error("role", "This is the tenant's last owner; make someone else owner first.")
                return cleaned

        if not is_superuser(request) and not tenant_ids_with(request, {Role.OWNER}) and "role" in base.base_fields:
            OwnerRulesForm.base_fields["role"].choices = [
                choice for choice in base.base_fields["role"].choices if choice[0] != Role.OWNER
            ]
        return OwnerRulesForm

    def get_fields(self, request: HttpRequest, obj: Membership | None = None) -> list[str]:
        return ["username", "tenant", "role"] if obj is None else ["user", "tenant", "role", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> list[str]:
        return [] if obj is None else ["user", "tenant", "created_at"]

    def save_model(self, request: HttpRequest, obj: Membership, form: forms.ModelForm, change: bool) -> None:
        before = Membership.objects.get(pk=obj.pk) if change else None
        if obj.role == Role.OWNER and not self._is_owner(request, obj.tenant_id):
            raise PermissionDenied  # only an owner makes an owner
        if before is not None and self._last_owner(before) and obj.role != Role.OWNER:
            raise PermissionDenied
        super().save_model(request, obj, form, change)
        action = AuditAction.MEMBERSHIP_UPDATED if change else AuditAction.MEMBERSHIP_CREATED
        changes = field_changes(before, obj, ["role"])
        if changes:
            audit_record(tenant=obj.tenant, action=action, target=f"Member {obj.user}", changes=changes)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        super().delete_model(request, obj)
        audit_record(tenant=obj.tenant, action=AuditAction.MEMBERSHIP_DELETED, target=f"Member {obj.user}", changes={})

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        # Per row, so that the owner rules hold for a bulk delete too.
        with transaction.atomic():
            for membership in queryset.select_related("user", "tenant"):
                self.delete_model(request, membership)


# --- audit log -----------------------------------------------------------------------------
