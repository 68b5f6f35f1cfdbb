"""What a tenant publishes without a key: its token keys (to verify login tokens offline) and its
related origins (the body of the relying party's /.well-known/webauthn)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ErrorCode
from passkeys.tokens import jwks
from tenants.selectors import tenant_get

from ..schema import Problems
from ..serializers import path_id
from ..throttling import JwksIpRateThrottle

if TYPE_CHECKING:
    from tenants.models import Tenant


class JwksApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [JwksIpRateThrottle]

    @extend_schema(
        parameters=[OpenApiParameter("tenant_id", {"type": "string", "format": "uuid"}, OpenApiParameter.PATH)],
        responses={
            200: inline_serializer(
                "Jwks",
                {
                    "keys": inline_serializer(
                        "Jwk",
                        {
                            "kty": serializers.ChoiceField(["EC"]),
                            "crv": serializers.ChoiceField(["P-256"]),
                            "x": serializers.CharField(),
                            "y": serializers.CharField(),
                            "kid": serializers.CharField(help_text="RFC 7638 thumbprint; the token header names it."),
                            "use": serializers.ChoiceField(["sig"]),
                            "alg": serializers.ChoiceField(["ES256"]),
                        },
                        many=True,
                    )
                },
            ),
            400: Problems(ErrorCode.VALIDATION_ERROR),
            404: Problems(ErrorCode.NOT_FOUND),
        }
    )
    def get(self, request, tenant_id: str):
        response = Response(jwks(tenant=tenant_get(tenant_id=path_id(tenant_id, name="tenant_id"))))
        response["Cache-Control"] = "public, max-age=300"
        return response


# Only web origins can be related origins; android:apk-key-hash: ones are matched by the app's signature.
WEB_ORIGIN_SCHEMES = ("https://", "http://")


def web_origins(tenant: Tenant) -> list[str]:
    """The tenant's origins a browser can be at, in the order the tenant lists them."""
    return [origin for origin in tenant.origins if origin.startswith(WEB_ORIGIN_SCHEMES)]


class RelatedOriginsSerializer(serializers.Serializer):
    """The WebAuthn L3 related origins document, served by the relying party at
    https://{rp_id}/.well-known/webauthn."""

    origins = serializers.ListField(
        child=serializers.CharField(), help_text="The tenant's web origins (https://…, http://localhost…)."
    )


class RelatedOriginsApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [JwksIpRateThrottle]

    @extend_schema(
        description="The tenant's web origins, as the relying party serves them at https://{rp_id}/.well-known/"
        "webauthn for WebAuthn Level 3 related origin requests. No API key; android:apk-key-hash: origins "
        "are left out.",
        parameters=[OpenApiParameter("tenant_id", {"type": "string", "format": "uuid"}, OpenApiParameter.PATH)],
        responses={
            200: RelatedOriginsSerializer,
            400: Problems(ErrorCode.VALIDATION_ERROR),
            404: Problems(ErrorCode.NOT_FOUND),
        },
    )
    def get(self, request, tenant_id: str):
        tenant = tenant_get(tenant_id=path_id(tenant_id, name="tenant_id"))
        response = Response(RelatedOriginsSerializer({"origins": web_origins(tenant)}).data)
        response["Cache-Control"] = "public, max-age=300"
        return response
