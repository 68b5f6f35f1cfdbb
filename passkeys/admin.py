"""Credentials, users and signing keys in the tenant-scoped admin: read, delete, rotate."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import Count
from django.http import HttpRequest
from django.utils.html import format_html

from core.encoding import b64url_encode
from tenants.admin_scoping import WRITE_ROLES, TenantScopedAdmin

from .models import Credential, PasskeyUser, SigningKey
from .services import credential_delete, user_delete
from .tokens import signing_key_rotate


class ReadAndDeleteAdmin(TenantScopedAdmin):
    """Rows made by ceremonies: nobody edits them by hand; owners and admins may delete them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        # Row by row through the service, so each deletion is announced and audited.
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)


@admin.register(PasskeyUser)
class PasskeyUserAdmin(ReadAndDeleteAdmin):
    list_display = ("user_id", "tenant", "passkeys", "created_at")
    list_filter = ("tenant",)
    search_fields = ("user_id",)
    fields = ("tenant", "user_id", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return super().get_queryset(request).annotate(passkey_count=Count("credentials"))

    @admin.display(description="passkeys", ordering="passkey_count")
    def passkeys(self, obj: PasskeyUser) -> int:
        return obj.passkey_count

    def delete_model(self, request: HttpRequest, obj: PasskeyUser) -> None:
        self.check_can_delete(request, obj)
        user_delete(tenant=obj.tenant, user_id=obj.user_id)


@admin.register(Credential)
class CredentialAdmin(ReadAndDeleteAdmin):
    list_display = ("name", "user", "tenant", "provider_name", "backed_up", "sign_count", "created_at", "last_used_at")
    list_filter = ("tenant", "provider_name", "backed_up", "user_verified", "attestation_format")
    search_fields = ("name", "user__user_id", "provider_name")
    list_select_related = ("user", "tenant")
    fields = (
        "tenant",
        "user",
        "name",
        "credential_id_b64",
        "provider_name",
        "aaguid",
        "algorithm",
        "attestation_format",
        "transports",
        "backup_eligible",
        "backed_up",
        "user_verified",
        "sign_count",
        "created_at",
        "last_used_at",
    )
    readonly_fields = fields

    @admin.display(description="credential id")
    def credential_id_b64(self, obj: Credential) -> str:
        return b64url_encode(bytes(obj.credential_id))

    def delete_model(self, request: HttpRequest, obj: Credential) -> None:
        self.check_can_delete(request, obj)
        credential_delete(tenant=obj.tenant, credential_id=bytes(obj.credential_id))


class SigningKeyRotateForm(forms.ModelForm):
    class Meta:
        model = SigningKey
        fields = ("tenant",)
        help_texts = {
            "tenant": "Saving makes a new current key; the old one stays in the JWKS until its tokens expire."
        }


@admin.register(SigningKey)
class SigningKeyAdmin(TenantScopedAdmin):
    """Token-signing keys: only the public half is shown; "add" and the action both rotate."""

    rotate_roles = WRITE_ROLES
    delete_roles = frozenset()  # a deleted key would break tokens still in flight; rotate instead
    form = SigningKeyRotateForm
    list_display = ("kid", "tenant", "status", "created_at", "retired_at")
    list_filter = ("tenant",)
    search_fields = ("kid",)
    actions = ["rotate"]
    SHOWN = ("kid", "tenant", "status", "public_jwk_pretty")

    @admin.display(description="status")
    def status(self, obj: SigningKey) -> str:
        return "retired" if obj.retired_at else "current"

    @admin.display(description="public JWK")
    def public_jwk_pretty(self, obj: SigningKey) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.public_jwk, indent=2))

    def get_fields(self, request: HttpRequest, obj: SigningKey | None = None) -> list[str]:
        return ["tenant"] if obj is None else [*self.SHOWN, "created_at", "retired_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: SigningKey | None = None) -> list[str]:
        return [] if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: SigningKey | None = None) -> bool:
        return False

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        return self.role_allows(request, self.rotate_roles)

    def save_model(self, request: HttpRequest, obj: SigningKey, form: Any, change: bool) -> None:
        self.check_can_save(request, obj, change)
        key = signing_key_rotate(tenant=obj.tenant)  # audited by the service
        for field in ("id", "kid", "public_jwk", "created_at", "retired_at"):
            setattr(obj, field, getattr(key, field))

    @admin.action(description="Rotate the signing key of the selected keys' tenants", permissions=["rotate"])
    def rotate(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        tenants = {key.tenant_id: key.tenant for key in queryset.select_related("tenant")}
        for tenant in tenants.values():
            signing_key_rotate(tenant=tenant)
        self.message_user(request, f"Rotated the signing key of {len(tenants)} tenant(s).", messages.SUCCESS)
