"""POST /v1/login-decisions: which sign-in the page leads with, for this user on this device."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import LoginDecision, LoginDecisionReason
from analytics.services.login_decisions import login_decide

from ..serializers import (
    B64URL_SCHEMA,
    CapabilitiesField,
    IdField,
    JsonBooleanField,
    TextField,
    b64url_value,
    validated,
)
from ..throttling import CEREMONY_THROTTLES
from .ceremonies import CLIENT_REPORTS_HELP

MAX_DEVICE_CREDENTIALS = 20
MAX_CREDENTIAL_ID_BYTES = 1023  # WebAuthn §5.8.3: a credential id is at most 1023 bytes
MAX_CREDENTIAL_ID_CHARACTERS = 1364  # their base64url


@extend_schema_field(
    {
        "type": "array",
        "items": {**B64URL_SCHEMA, "minLength": 2, "maxLength": MAX_CREDENTIAL_ID_CHARACTERS},
        "maxItems": MAX_DEVICE_CREDENTIALS,
        "description": "Credential ids (base64url) the page remembers using on this device, most recent first.",
    }
)
class DeviceCredentialIdsField(serializers.Field):
    def to_internal_value(self, data):
        if not isinstance(data, list) or len(data) > MAX_DEVICE_CREDENTIALS:
            raise serializers.ValidationError(f"must be a list of at most {MAX_DEVICE_CREDENTIALS} credential ids")
        ids = [b64url_value(item, where="each credential id") for item in data]
        if not all(1 <= len(credential_id) <= MAX_CREDENTIAL_ID_BYTES for credential_id in ids):
            raise serializers.ValidationError(f"a credential id has 1 to {MAX_CREDENTIAL_ID_BYTES} bytes")
        return ids


class LoginDecisionsApi(APIView):
    required_scope = "ceremonies"
    throttle_classes = CEREMONY_THROTTLES

    @extend_schema_serializer(component_name="LoginDecisionRequest")
    class InputSerializer(serializers.Serializer):
        user_id = IdField(required=False, allow_null=True, help_text="Absent before the user is identified.")
        user_agent = TextField(max_length=1024, required=False, allow_blank=True)
        capabilities = CapabilitiesField(required=False)
        platform_authenticator_available = JsonBooleanField(
            required=False, allow_null=True, help_text="From isUserVerifyingPlatformAuthenticatorAvailable()."
        )
        device_credential_ids = DeviceCredentialIdsField(required=False)

    @extend_schema_serializer(component_name="LoginDecision")
    class OutputSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(LoginDecision.values)
        reason = serializers.ChoiceField(LoginDecisionReason.values)
        public_key = serializers.DictField(
            allow_null=True,
            help_text="passkey: a start bound to the user; passkey_autofill: a conditional start; else null.",
        )
        client_token = serializers.CharField(allow_null=True, help_text=CLIENT_REPORTS_HELP)

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        answer = login_decide(tenant=request.auth.tenant, **data)
        started = answer.started
        return Response(
            {
                "decision": answer.decision,
                "reason": answer.reason,
                "public_key": started.public_key if started else None,
                "client_token": started.client_token if started else None,
            }
        )
