"""Shapes shared by several views; base64url lives here, at the HTTP edge."""

from __future__ import annotations

import base64
import re

from rest_framework import serializers

from passkeys.providers import provider_for
from tenants.errors import DomainError

_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(value: str) -> bytes:
    if not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise DomainError(f"{value[:40]!r} is not base64url without padding", code="validation_error")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class CredentialSerializer(serializers.Serializer):
    """A stored passkey as the API shows it."""

    id = serializers.SerializerMethodField()
    user_id = serializers.CharField(source="user.user_id")
    user_handle = serializers.SerializerMethodField(
        help_text="The WebAuthn user.id (base64url), for the browser's PublicKeyCredential.signal* calls."
    )
    name = serializers.CharField()
    aaguid = serializers.UUIDField()
    provider_name = serializers.CharField()
    provider_icon_light = serializers.SerializerMethodField(
        help_text="The provider's icon for light backgrounds as a data: URI, when the AAGUID list has one."
    )
    provider_icon_dark = serializers.SerializerMethodField(
        help_text="The provider's icon for dark backgrounds as a data: URI, when the AAGUID list has one."
    )
    transports = serializers.ListField(child=serializers.CharField())
    backup_eligible = serializers.BooleanField()
    backed_up = serializers.BooleanField()
    user_verified = serializers.BooleanField()
    sign_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)

    def get_id(self, credential) -> str:
        return b64url_encode(bytes(credential.credential_id))

    def get_user_handle(self, credential) -> str:
        return b64url_encode(bytes(credential.user.handle))

    def get_provider_icon_light(self, credential) -> str | None:
        provider = provider_for(credential.aaguid)
        return provider.icon_light if provider else None

    def get_provider_icon_dark(self, credential) -> str | None:
        provider = provider_for(credential.aaguid)
        return provider.icon_dark if provider else None
