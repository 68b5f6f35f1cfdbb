"""POST /v1/client-events: the browser reports how a ceremony ended, with the client token its start handed out.

No API key: the page calls this directly, across origins, so CORS answers the tenant's web origins (a preflight
carries no token, so it is answered for an origin some tenant lists; the report itself only for the token's own
tenant's origins, and from any other page it is refused).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import ClientOutcome
from analytics.services.client_events import client_report_origin_allowed, client_report_record
from passkeys.client_tokens import ClientTokenClaims
from tenants.selectors import web_origin_known

from ..authentication import ClientTokenAuthentication
from ..permissions import HasClientToken
from ..serializers import CapabilitiesField, StrictIntegerField, TextField, validated
from ..throttling import ClientEventsIpRateThrottle

MAX_DURATION_MS = 600_000
PREFLIGHT_MAX_AGE_SECONDS = 600


class ClientEventsApi(APIView):
    authentication_classes = [ClientTokenAuthentication]
    permission_classes = [HasClientToken]
    throttle_classes = [ClientEventsIpRateThrottle]

    @extend_schema_serializer(component_name="ClientEventRequest")
    class InputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(ClientOutcome.values)
        error_name = TextField(max_length=64, required=False, allow_blank=True, help_text="The DOMException's name.")
        duration_ms = StrictIntegerField(
            min_value=0, max_value=MAX_DURATION_MS, required=False, help_text="From create()/get() to its end."
        )
        capabilities = CapabilitiesField(required=False)

        def validate(self, attrs):
            unknown = sorted(set(self.initial_data) - set(self.fields))  # the schema's additionalProperties: false
            if unknown:
                raise serializers.ValidationError(f"unknown fields: {', '.join(name[:40] for name in unknown[:5])}")
            return attrs

    @extend_schema(
        operation_id="client_events_create",
        request=InputSerializer,
        responses={
            202: OpenApiResponse(
                {"type": "object", "additionalProperties": False, "properties": {}}, description="Recorded."
            ),
        },
    )
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        client_report_record(
            claims=request.auth,
            origin=request.META.get("HTTP_ORIGIN"),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            **data,
        )
        return Response({}, status=202)

    @extend_schema(exclude=True)
    def options(self, request, *args, **kwargs):
        """The CORS preflight: allowed for an origin some tenant lists, and nothing else."""
        response = Response(status=204)
        origin = request.META.get("HTTP_ORIGIN")
        if origin and web_origin_known(origin=origin):
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Methods"] = "POST"
            response["Access-Control-Allow-Headers"] = "authorization, content-type"
            response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
        response["Vary"] = "Origin"
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        claims: ClientTokenClaims | None = getattr(request, "_auth", None)  # not request.auth: it may have failed
        origin = request.META.get("HTTP_ORIGIN")
        if request.method == "POST":
            if origin and claims is not None and client_report_origin_allowed(claims=claims, origin=origin):
                response["Access-Control-Allow-Origin"] = origin
            response["Vary"] = "Origin"
        return response

