"""The tenant's public token keys, for verifying login tokens offline."""

from __future__ import annotations

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
