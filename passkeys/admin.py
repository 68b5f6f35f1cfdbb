from django.contrib import admin

from .models import Credential, PasskeyUser, SigningKey


@admin.register(PasskeyUser)
class PasskeyUserAdmin(admin.ModelAdmin):
    list_display = ("user_id", "tenant", "created_at")
    list_filter = ("tenant",)
    search_fields = ("user_id",)
    exclude = ("handle",)
    readonly_fields = ("tenant", "user_id", "created_at")


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "tenant", "provider_name", "backed_up", "sign_count", "last_used_at")
    list_filter = ("tenant", "provider_name", "backed_up")
    search_fields = ("name", "user__user_id")
    exclude = ("credential_id", "public_key")
    readonly_fields = (
        "tenant",
        "user",
        "algorithm",
        "sign_count",
        "transports",
        "aaguid",
        "provider_name",
        "attestation_format",
        "backup_eligible",
        "backed_up",
        "user_verified",
        "created_at",
        "last_used_at",
    )


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "tenant", "created_at", "retired_at")
    list_filter = ("tenant",)
    exclude = ("private_key_encrypted",)
    readonly_fields = ("kid", "tenant", "public_jwk", "created_at", "retired_at")

    def has_add_permission(self, request) -> bool:
        return False  # rotate with `manage.py rotate_signing_key`
