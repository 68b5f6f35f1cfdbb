"""Registration and authentication ceremonies: thin views over passkeys.services."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.encoding import b64url_encode
from passkeys.services import (
    authentication_finish,
    authentication_start,
    registration_finish,
    registration_start,
)

from ..schema import ceremony_problems
from ..serializers import CredentialSerializer, IdField, IpAddressField, TextField, validated
from ..throttling import CEREMONY_THROTTLES

REQUIREMENTS = ["required", "preferred", "discouraged"]
MEDIATIONS = ["optional", "conditional", "required", "silent", "immediate"]
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


RegistrationOptions = inline_serializer(
    "RegistrationOptions",
    {"public_key": serializers.DictField(help_text="For PublicKeyCredential.parseCreationOptionsFromJSON().")},
)
AuthenticationOptions = inline_serializer(
    "AuthenticationOptions",
    {
        "public_key": serializers.DictField(help_text="For PublicKeyCredential.parseRequestOptionsFromJSON()."),
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

    @extend_schema(request=InputSerializer, responses={200: RegistrationOptions})
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        options = registration_start(tenant=request.auth.tenant, **data)
        return Response({"public_key": options})


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

    @extend_schema(request=InputSerializer, responses={200: AuthenticationOptions})
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        options = authentication_start(tenant=request.auth.tenant, **data)
        body = {"public_key": options}
        if data.get("mediation"):
            body["mediation"] = data["mediation"]
        return Response(body)


class AuthenticationFinishApi(APIView):
    required_scope = "ceremonies"
    throttle_classes = CEREMONY_THROTTLES

    @extend_schema_serializer(component_name="AuthenticationFinishRequest")
    class InputSerializer(serializers.Serializer):
        credential = serializers.DictField(help_text="AuthenticationResponseJSON, as credential.toJSON() returns it.")
        user_agent = TextField(max_length=1024, required=False, allow_blank=True)
        ip = IpAddressField(required=False, allow_null=True)

    @extend_schema_serializer(component_name="AuthenticationFinishResponse")
    class OutputSerializer(serializers.Serializer):
        user_id = serializers.CharField(source="credential.user.user_id")
        credential_id = serializers.SerializerMethodField()
        user_verified = serializers.BooleanField()
        backed_up = serializers.BooleanField()
        token = serializers.CharField(help_text="ES256 JWT, verifiable with the tenant's JWKS.")

        def get_credential_id(self, result) -> str:
            return b64url_encode(bytes(result.credential.credential_id))

    @extend_schema(
        request=InputSerializer, responses={200: OutputSerializer, **ceremony_problems("authentication")}
    )
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        tenant = request.auth.tenant
        result = authentication_finish(tenant=tenant, issuer=_issuer(request, tenant), **data)
        return Response(self.OutputSerializer(result).data)
