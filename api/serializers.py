"""Shapes shared by several views, and the id and base64url rules of the HTTP edge."""

from __future__ import annotations

import re
from functools import cache

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from analytics.models import CLIENT_CAPABILITIES
from core.encoding import b64url_decode, b64url_encode
from core.errors import DomainError, ErrorCode
from passkeys.models import AttestationVerdict, CreatedVia
from passkeys.providers import provider_for

# C0 controls, DEL and C1 controls: never part of an id (and PostgreSQL text refuses NUL); lone
# surrogates are not Unicode text at all.
_NOT_ID_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
ID_MAX_LENGTH = 255
# The same rule for the OpenAPI schema (ECMA-262 and Python regex alike; surrogates are left out
# because a JavaScript validator sees an emoji as two of them).
ID_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": ID_MAX_LENGTH, "pattern": ID_PATTERN}
# base64url without padding as core.encoding.b64url_decode takes it: never a length of 4n + 1.
B64URL_SCHEMA = {
    "type": "string",
    "pattern": "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,4})$",
    "description": "base64url without padding",
}


ATTACHMENTS = ["platform", "cross-platform"]


def id_problem(value: object) -> str | None:
    """Why `value` is not an id (user_id, tenant_id, …) in a path or a body, or None when it is one."""
    if not isinstance(value, str):
        return "must be a string"
    if not value:
        return "may not be empty"
    if len(value) > ID_MAX_LENGTH:
        return f"may have at most {ID_MAX_LENGTH} characters"
    if _NOT_ID_TEXT.search(value):
        return "may not contain control characters"
    return None


def path_id(value: str, *, name: str) -> str:
    """A path parameter that names an id, checked by the body's rule; a bad one is a 400, never a query."""
    problem = id_problem(value)
    if problem:
        raise DomainError(f"{name} {problem}.", code=ErrorCode.VALIDATION_ERROR)
    return value


class TextField(serializers.CharField):
    """A JSON string and nothing else (DRF's CharField would take 0 or 1.5 and store "0"), whose
    length limit applies to what was sent, before any trimming, as the schema's maxLength says."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class JsonBooleanField(serializers.BooleanField):
    """true or false and nothing else: DRF's BooleanField would also take "yes", 1 and "on"."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class IpAddressField(serializers.IPAddressField):
    """An IPv4 or IPv6 address string, exactly as sent: no trimming, no numbers."""

    def __init__(self, **kwargs) -> None:
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdField(TextField):
    """An id of the relying party's (user_id): `id_problem`'s rule, the same as in a path."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=ID_MAX_LENGTH, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        problem = id_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class OmitsAbsent(serializers.Serializer):
    """An answer whose optional members (`required=False`) are left out when they are null, as the contract's
    additions say ("the answer carries X when …"), so a v1 client sees the v1 shape."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name, field in self.fields.items():
            if not field.required and data.get(name) is None:
                data.pop(name, None)
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON number with no fraction; DRF's IntegerField would also take "12" and true."""

    def to_internal_value(self, data):
        whole = isinstance(data, int) or (isinstance(data, float) and data.is_integer())
        if isinstance(data, bool) or not whole:
            self.fail("invalid")
        return super().to_internal_value(int(data))


@extend_schema_field(
    {
        "type": "object",
        "properties": {name: {"type": "boolean"} for name in sorted(CLIENT_CAPABILITIES)},
        "additionalProperties": False,
        "description": "What PublicKeyCredential.getClientCapabilities() answered, known names only.",
    }
)
class CapabilitiesField(serializers.Field):
    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be an object of capability names to true or false")
        unknown = sorted(set(data) - CLIENT_CAPABILITIES)
        if unknown:
            raise serializers.ValidationError(f"unknown capability names: {', '.join(n[:40] for n in unknown[:5])}")
        if not all(isinstance(value, bool) for value in data.values()):
            raise serializers.ValidationError("each capability must be true or false")
        return dict(data)


def b64url_value(value, *, where: str) -> bytes:
    """The bytes of a base64url string in a body; anything else is a field error naming `where`."""
    try:
        return b64url_decode(value) if isinstance(value, str) else b64url_decode("!")
    except DomainError:
        raise serializers.ValidationError(f"{where} must be base64url without padding") from None


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """The body as `serializer_class` validates it, or a 400 validation_error naming each field.

    A serializer deep-copies its declared fields on every instance, 10 % of a login start's CPU; its fields are bound
    once per process here and shared, as validating keeps no state in a field."""
    serializer = serializer_class(data=data)
    serializer.fields = _bound_fields(serializer_class)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@cache
def _bound_fields(serializer_class: type[serializers.Serializer]):
    return serializer_class().fields


@extend_schema_serializer(component_name="Nudge")
class NudgeSerializer(serializers.Serializer):
    """A prompt to create a passkey now; report what became of it at POST /v1/nudges/{id}/outcome."""

    id = serializers.UUIDField()
    reason = serializers.CharField(help_text="no_passkey_on_platform, or after_cross_device after a phone login.")


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
    discoverable = serializers.BooleanField(
        allow_null=True, help_text="credProps.rk as the client reported it; null when it did not say."
    )
    prf_enabled = serializers.BooleanField(help_text="The authenticator enabled the PRF extension at registration.")
    created_via = serializers.ChoiceField(
        CreatedVia.values, help_text='"automatic_upgrade": made by a conditional create after another sign-in.'
    )
    authenticator_attachment = serializers.SerializerMethodField(
        help_text='"platform" or "cross-platform" as the client reported it at registration; null when unknown.'
    )
    attestation = serializers.ChoiceField(
        AttestationVerdict.values,
        help_text="none, self, verified (chains to the FIDO metadata or the tenant's roots) or untrusted.",
    )
    authenticator_name = serializers.CharField(
        help_text="The FIDO metadata's description of the model, else the AAGUID list's name; may be empty."
    )
    authenticator_status = serializers.SerializerMethodField(
        help_text="The model's latest status in the FIDO metadata (e.g. FIDO_CERTIFIED_L1, REVOKED); null when none."
    )
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)

    def get_id(self, credential) -> str:
        return b64url_encode(bytes(credential.credential_id))

    @extend_schema_field({"type": "string", "nullable": True})
    def get_authenticator_status(self, credential) -> str | None:
        return credential.authenticator_status or None

    @extend_schema_field({"type": "string", "enum": ATTACHMENTS, "nullable": True})
    def get_authenticator_attachment(self, credential) -> str | None:
        return credential.authenticator_attachment or None

    def get_user_handle(self, credential) -> str:
        return b64url_encode(bytes(credential.user.handle))

    def get_provider_icon_light(self, credential) -> str | None:
        provider = provider_for(credential.aaguid)
        return provider.icon_light if provider else None

    def get_provider_icon_dark(self, credential) -> str | None:
        provider = provider_for(credential.aaguid)
        return provider.icon_dark if provider else None
