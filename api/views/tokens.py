"""The tenant's public token keys, for verifying login tokens offline."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from passkeys.tokens import jwks
from tenants.selectors import tenant_get


class JwksApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: inline_serializer("Jwks", {"keys": serializers.ListField(child=serializers.DictField())})}
    )
    def get(self, request, tenant_id: str):
        response = Response(jwks(tenant=tenant_get(tenant_id=tenant_id)))
        response["Cache-Control"] = "public, max-age=300"
        return response
