"""Registration and authentication ceremonies: thin views over passkeys.services."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import Nudge
from analytics.services.nudges import nudge_after_passkey_sign_in
from core.encoding import b64url_encode
from passkeys.services import (
    AuthenticationResult,
    StartedCeremony,
    authentication_finish,
    authentication_start,
    registration_finish,
    registration_start,
)

from ..schema import ceremony_problems
from ..serializers import (
    ATTACHMENTS,
    B64URL_SCHEMA,
    CredentialSerializer,
    IdField,
    IpAddressField,
    JsonBooleanField,
    NudgeSerializer,
    TextField,
    b64url_value,
    validated,
)
from ..throttling import CEREMONY_THROTTLES

REQUIREMENTS = ["required", "preferred", "discouraged"]
MEDIATIONS = ["optional", "conditional", "required", "silent", "immediate"]
# A create() knows no silent or immediate mediation; "conditional" is an automatic upgrade.
REGISTRATION_MEDIATIONS = ["optional", "conditional", "required"]
HINTS = ["security-key", "client-device", "hybrid"]


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": HINTS},
        "uniqueItems": True,
        "description": "WebAuthn L3 hints, most preferred first, copied into the options' `hints`.",
    }
)
class HintsField(serializers.ListField):
    """A JSON list of distinct WebAuthn hints: a repeated hint is a 400, as the schema's uniqueItems says."""

    def __init__(self, **kwargs) -> None:
        super().__init__(child=serializers.ChoiceField(HINTS), required=False, **kwargs)

    def to_internal_value(self, data):
        hints = super().to_internal_value(data)
        if len(set(hints)) != len(hints):
            raise serializers.ValidationError("may not repeat a hint")
        return hints


# A PRF salt (WebAuthn §10.1.4 AuthenticationExtensionsPRFValues): base64url of 1 to 256 bytes.
PRF_SALT_MAX_BYTES = 256
PRF_SALT_SCHEMA = {**B64URL_SCHEMA, "minLength": 2, "maxLength": 342}  # 342 characters carry 256 bytes
PRF_VALUES_SCHEMA = {
    "type": "object",
    "properties": {"first": PRF_SALT_SCHEMA, "second": PRF_SALT_SCHEMA},
    "required": ["first"],
    "additionalProperties": False,
}
MAX_PRF_CREDENTIALS = 64


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            "eval": PRF_VALUES_SCHEMA,
            "evalByCredential": {
                "type": "object",
                "additionalProperties": PRF_VALUES_SCHEMA,
                "minProperties": 1,
                "maxProperties": MAX_PRF_CREDENTIALS,
                "description": "Salts per credential id (base64url) of the user's allowCredentials.",
            },
        },
        "minProperties": 1,
        "additionalProperties": False,
        "description": "PRF inputs, copied into the options' extensions.prf; the outputs stay in the browser.",
    }
)
class PrfInputsField(serializers.Field):
    """`{"eval": {"first", "second"?}}` and/or `{"evalByCredential": {credential_id: {...}}}`, salts in base64url."""

    def to_internal_value(self, data):
        if not isinstance(data, dict) or not data or set(data) - {"eval", "evalByCredential"}:
            raise serializers.ValidationError('must be an object with "eval" and/or "evalByCredential"')
        inputs = {}
        if "eval" in data:
            inputs["eval"] = _prf_values(data["eval"], where="eval")
        if "evalByCredential" in data:
            by_credential = data["evalByCredential"]
            if not isinstance(by_credential, dict) or not 1 <= len(by_credential) <= MAX_PRF_CREDENTIALS:
                raise serializers.ValidationError(
                    f"evalByCredential must map 1 to {MAX_PRF_CREDENTIALS} credential ids to salts"
                )
            for credential_id in by_credential:
                b64url_value(credential_id, where="evalByCredential key")
            inputs["evalByCredential"] = {
                credential_id: _prf_values(values, where=f"evalByCredential.{credential_id[:40]}")
                for credential_id, values in by_credential.items()
            }
        return inputs


def _prf_values(values, *, where: str) -> dict[str, str]:
    if not isinstance(values, dict) or "first" not in values or set(values) - {"first", "second"}:
        raise serializers.ValidationError(f'{where} must be {{"first": salt, "second"?: salt}}')
    for name, salt in values.items():
        if not 1 <= len(b64url_value(salt, where=f"{where}.{name}")) <= PRF_SALT_MAX_BYTES:
            raise serializers.ValidationError(f"{where}.{name} must be 1 to {PRF_SALT_MAX_BYTES} bytes")
    return dict(values)


CLIENT_REPORTS_HELP = (
    "For the page's report of how the ceremony ended in the browser (POST /v1/client-events): bound to this "
    "ceremony, valid until its challenge expires plus 10 minutes, good for 10 reports. Not an API key."
)
RegistrationOptions = inline_serializer(
    "RegistrationOptions",
    {
        "public_key": serializers.DictField(help_text="For PublicKeyCredential.parseCreationOptionsFromJSON()."),
        "client_token": serializers.CharField(help_text=CLIENT_REPORTS_HELP),
        "mediation": serializers.ChoiceField(
            REGISTRATION_MEDIATIONS,
            required=False,
            help_text='The request\'s mediation, echoed for navigator.credentials.create() ("conditional": silently).',
        ),
    },
)
AuthenticationOptions = inline_serializer(
    "AuthenticationOptions",
    {
        "public_key": serializers.DictField(help_text="For PublicKeyCredential.parseRequestOptionsFromJSON()."),
        "client_token": serializers.CharField(help_text=CLIENT_REPORTS_HELP),
        "mediation": serializers.ChoiceField(
            MEDIATIONS, required=False, help_text="The request's mediation, echoed for navigator.credentials.get()."
        ),
    },
)


def _issuer(request, tenant) -> str:
    base = settings.SERVICE_URL or request.build_absolute_uri("/").rstrip("/")
    return f"{base}/v1/tenants/{tenant.pk}"


class RegistrationStartApi(APIView):
    required_scope = "ceremonies"
    throttle_classes = CEREMONY_THROTTLES

    @extend_schema_serializer(component_name="RegistrationStartRequest")
    class InputSerializer(serializers.Serializer):
        user_id = IdField()
        username = TextField(max_length=255)
        display_name = TextField(max_length=255, required=False, allow_blank=True)
        authenticator_attachment = serializers.ChoiceField(["platform", "cross-platform"], required=False)
        resident_key = serializers.ChoiceField(REQUIREMENTS, required=False)
        user_verification = serializers.ChoiceField(REQUIREMENTS, required=False)
        hints = HintsField()
        mediation = serializers.ChoiceField(
            REGISTRATION_MEDIATIONS,
            required=False,
            help_text='"conditional": options for an automatic upgrade, accepted without user presence.',
        )
        prf = JsonBooleanField(required=False, help_text="true: ask the authenticator to enable PRF.")

    @extend_schema(request=InputSerializer, responses={200: RegistrationOptions})
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        return Response(start_answer(registration_start(tenant=request.auth.tenant, **data), data.get("mediation")))


class RegistrationFinishApi(APIView):
    required_scope = "ceremonies"
    throttle_classes = CEREMONY_THROTTLES

    @extend_schema_serializer(component_name="RegistrationFinishRequest")
    class InputSerializer(serializers.Serializer):
        credential = serializers.DictField(help_text="RegistrationResponseJSON, as credential.toJSON() returns it.")
        name = TextField(max_length=200, required=False, allow_blank=True)
        user_agent = TextField(max_length=1024, required=False, allow_blank=True)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: inline_serializer("RegistrationFinished", {"credential": CredentialSerializer()}),
            **ceremony_problems("registration"),
        },
    )
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        credential = registration_finish(tenant=request.auth.tenant, **data)
        return Response({"credential": CredentialSerializer(credential).data}, status=201)


class AuthenticationStartApi(APIView):
    required_scope = "ceremonies"
    throttle_classes = CEREMONY_THROTTLES

    @extend_schema_serializer(component_name="AuthenticationStartRequest")
    class InputSerializer(serializers.Serializer):
        user_id = IdField(required=False, allow_null=True)
        user_verification = serializers.ChoiceField(REQUIREMENTS, required=False)
        mediation = serializers.ChoiceField(MEDIATIONS, required=False)
        hints = HintsField()
        prf = PrfInputsField(required=False)

    @extend_schema(request=InputSerializer, responses={200: AuthenticationOptions})
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        return Response(start_answer(authentication_start(tenant=request.auth.tenant, **data), data.get("mediation")))


class AuthenticationFinishApi(APIView):
    required_scope = "ceremonies"
    throttle_classes = CEREMONY_THROTTLES

    @extend_schema_serializer(component_name="AuthenticationFinishRequest")
    class InputSerializer(serializers.Serializer):
        credential = serializers.DictField(help_text="AuthenticationResponseJSON, as credential.toJSON() returns it.")
        user_agent = TextField(max_length=1024, required=False, allow_blank=True)
        ip = IpAddressField(required=False, allow_null=True)
        platform_authenticator_available = JsonBooleanField(
            required=False,
            allow_null=True,
            default=None,
            help_text="From isUserVerifyingPlatformAuthenticatorAvailable(), for a nudge after a cross-device login.",
        )

    @extend_schema_serializer(component_name="AuthenticationFinishResponse")
    class OutputSerializer(serializers.Serializer):
        """The answer's shape for the schema; `login_answer` builds it (the hot path skips DRF's per-request copy
        of every declared field; schemathesis holds the two together)."""

        user_id = serializers.CharField()
        credential_id = serializers.CharField()
        user_verified = serializers.BooleanField()
        backed_up = serializers.BooleanField()
        token = serializers.CharField(help_text="ES256 JWT, verifiable with the tenant's JWKS.")
        authenticator_attachment = serializers.ChoiceField(
            ATTACHMENTS,
            allow_null=True,
            help_text='The response\'s authenticatorAttachment: "cross-platform" is another device.',
        )
        nudge = NudgeSerializer(
            required=False,
            help_text="After a login from another device by a user with no passkey usable here: prompt for one.",
        )

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, **ceremony_problems("authentication")})
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        tenant = request.auth.tenant
        platform_ready = data.pop("platform_authenticator_available")
        result = authentication_finish(tenant=tenant, issuer=_issuer(request, tenant), **data)
        decision = nudge_after_passkey_sign_in(
            tenant=tenant,
            user_id=result.credential.user.user_id,
            attachment=result.attachment,
            user_agent=data.get("user_agent", ""),
            platform_authenticator_available=platform_ready,
        )
        return Response(login_answer(result, nudge=decision.nudge if decision else None))


def start_answer(started: StartedCeremony, mediation: str | None) -> dict:
    """RegistrationOptions or AuthenticationOptions; the request's mediation echoed when it named one."""
    answer = {"public_key": started.public_key, "client_token": started.client_token}
    if mediation:
        answer["mediation"] = mediation
    return answer


def login_answer(result: AuthenticationResult, *, nudge: Nudge | None) -> dict:
    """AuthenticationFinishResponse; `nudge` only when there is one (an addition of v1.1)."""
    answer = {
        "user_id": result.credential.user.user_id,
        "credential_id": b64url_encode(bytes(result.credential.credential_id)),
        "user_verified": result.user_verified,
        "backed_up": result.backed_up,
        "token": result.token,
        "authenticator_attachment": result.attachment,
    }
    if nudge is not None:
        answer["nudge"] = {"id": str(nudge.pk), "reason": nudge.reason}
    return answer
