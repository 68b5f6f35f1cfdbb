"""Sign-ins by other methods, nudge outcomes and the adoption metrics."""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import NudgeOutcome
from analytics.selectors import MAX_REPORT_DAYS, report_range
from analytics.services.metrics import adoption_report
from analytics.services.nudges import nudge_outcome_record, sign_in_record
from core.errors import ErrorCode

from ..schema import Problems
from ..serializers import IdField, JsonBooleanField, NudgeSerializer, OmitsAbsent, TextField, validated
from ..throttling import CEREMONY_THROTTLES, MetricsKeyRateThrottle

SIGN_IN_METHODS = ["password", "otp", "magic_link", "social", "sso", "other"]


class SignInsApi(APIView):
    required_scope = "ceremonies"
    throttle_classes = CEREMONY_THROTTLES

    @extend_schema_serializer(component_name="SignInRequest")
    class InputSerializer(serializers.Serializer):
        user_id = IdField()
        method = serializers.ChoiceField(SIGN_IN_METHODS)
        user_agent = TextField(max_length=1024, required=False, allow_blank=True)
        platform_authenticator_available = JsonBooleanField(required=False, allow_null=True, default=None)
        conditional_create_available = JsonBooleanField(
            required=False, help_text="PublicKeyCredential.getClientCapabilities().conditionalCreate."
        )
        username = TextField(
            max_length=255, required=False, help_text="The name a passkey made by an automatic upgrade carries."
        )
        display_name = TextField(max_length=255, required=False, allow_blank=True)

    @extend_schema_serializer(component_name="NudgeDecision")
    class OutputSerializer(OmitsAbsent):
        nudge = NudgeSerializer(allow_null=True)
        reason = serializers.CharField(help_text="Why the user is, or is not, asked now.")
        automatic_upgrade = inline_serializer(
            "AutomaticUpgrade",
            {
                "public_key": serializers.DictField(
                    help_text='For navigator.credentials.create({publicKey, mediation: "conditional"}).'
                ),
                "client_token": serializers.CharField(
                    help_text="For the browser's report of how the silent creation ended (POST /v1/client-events)."
                ),
            },
            required=False,
            help_text="Creation options for a silent passkey creation now; absent when none is offered.",
        )

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        decision = sign_in_record(tenant=request.auth.tenant, **data)
        return Response(self.OutputSerializer(decision).data, status=201)


class NudgeOutcomeApi(APIView):
    required_scope = "ceremonies"

    @extend_schema_serializer(component_name="NudgeOutcomeRequest")
    class InputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(NudgeOutcome.values)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "NudgeOutcomeRecorded", {"id": serializers.UUIDField(), "outcome": serializers.CharField()}
            ),
            404: Problems(ErrorCode.NOT_FOUND),
        },
    )
    def post(self, request, nudge_id):
        data = validated(self.InputSerializer, request.data)
        nudge = nudge_outcome_record(tenant=request.auth.tenant, nudge_id=nudge_id, outcome=data["outcome"])
        return Response({"id": str(nudge.pk), "outcome": nudge.outcome})


@extend_schema_serializer(component_name="AdoptionDay")
class AdoptionDaySerializer(serializers.Serializer):
    """One UTC day of the report (for the schema; the selector builds the dict). Rates are fractions
    in [0, 1], 0 when the denominator is 0."""

    date = serializers.DateField()
    users = serializers.IntegerField()
    passkey_users = serializers.IntegerField()
    adoption_rate = serializers.FloatField()
    sign_ins = serializers.IntegerField()
    passkey_sign_ins = serializers.IntegerField()
    passkey_sign_in_rate = serializers.FloatField()
    registrations_started = serializers.IntegerField()
    registrations_completed = serializers.IntegerField()
    registration_completion_rate = serializers.FloatField()
    authentications_started = serializers.IntegerField()
    authentications_completed = serializers.IntegerField()
    authentication_failures = serializers.IntegerField()
    authentication_success_rate = serializers.FloatField()
    nudges_shown = serializers.IntegerField()
    nudges_accepted = serializers.IntegerField()
    nudges_dismissed = serializers.IntegerField()
    nudge_conversion_rate = serializers.FloatField()
    automatic_upgrades_offered = serializers.IntegerField(
        help_text="Conditional registration starts, called directly or inside a sign-in answer."
    )
    automatic_upgrades_completed = serializers.IntegerField(help_text="Passkeys those automatic upgrades created.")
    cross_device_sign_ins = serializers.IntegerField(
        help_text='Passkey sign-ins with authenticatorAttachment "cross-platform" (a phone over hybrid, a key).'
    )
    client_cancellations = serializers.IntegerField(
        help_text="Browser reports (POST /v1/client-events) of either ceremony with outcome cancelled."
    )
    client_errors = serializers.IntegerField(
        help_text="Browser reports of either ceremony with outcome timed_out, no_credential, excluded_credential, "
        "security_error, unsupported or error (aborted and succeeded are neither)."
    )
    authentication_ms_p50 = serializers.IntegerField(
        allow_null=True,
        help_text="Median duration_ms of the day's sign-in reports with outcome succeeded (nearest rank); "
        "null when there were none.",
    )
    authentication_ms_p95 = serializers.IntegerField(
        allow_null=True, help_text="95th percentile of the same durations (nearest rank); null when there were none."
    )
    login_decisions_passkey = serializers.IntegerField(
        help_text='Login decisions (POST /v1/login-decisions) that led with a passkey: decision "passkey".'
    )
    login_decisions_autofill = serializers.IntegerField(
        help_text='Login decisions that led with passkey autofill: decision "passkey_autofill".'
    )
    login_decisions_password = serializers.IntegerField(
        help_text='Login decisions that led with another way to sign in (a password form): decision "password".'
    )


@extend_schema_serializer(component_name="AdoptionReport")
class AdoptionReportSerializer(serializers.Serializer):
    tenant_id = serializers.UUIDField()
    to = serializers.DateField()
    days = AdoptionDaySerializer(many=True)
    breakdowns = inline_serializer(
        "AdoptionBreakdowns",
        {
            name: serializers.DictField(child=serializers.IntegerField(), help_text=text)
            for name, text in (
                ("os", "Counts by operating-system family."),
                ("browser", "Counts by browser family."),
                ("provider", "Counts by passkey provider (from the AAGUID)."),
                ("creation_path", "New passkeys by how they were made: nudge, automatic_upgrade, other."),
                (
                    "client_outcomes",
                    "Browser reports of sign-in ceremonies by outcome (succeeded, cancelled, no_credential, "
                    "timed_out, aborted, ...); an outcome nobody reported is left out.",
                ),
                (
                    "capabilities",
                    "Sign-in reports that carried getClientCapabilities(): `reported` counts them, and each "
                    "capability name (e.g. conditionalGet, hybridTransport, extension:prf) counts those that said "
                    "true; its share of the reports is its count / reported. Names no report said true of are "
                    "left out.",
                ),
                (
                    "login_decision_reasons",
                    "Login decisions by reason (webauthn_unavailable, recent_failures, remembered_on_device, "
                    "usable_on_platform, no_passkey_for_platform, no_passkey, conditional_ui_available, "
                    "conditional_ui_unavailable); a reason no decision gave is left out.",
                ),
            )
        },
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField()  # a Python keyword, so not a class attribute
        return fields


class AdoptionMetricsApi(APIView):
    required_scope = "metrics:read"
    throttle_classes = [MetricsKeyRateThrottle]

    class QuerySerializer(serializers.Serializer):
        to = serializers.DateField(required=False)

        def get_fields(self):
            fields = super().get_fields()
            fields["from"] = serializers.DateField(required=False)  # a Python keyword, so not a class attribute
            return fields

        def validate(self, attrs):
            first, last = report_range(first=attrs.get("from"), last=attrs.get("to"), today=timezone.now().date())
            return {"first": first, "last": last}

    @extend_schema(
        parameters=[
            OpenApiParameter("from", date, description="First UTC day, YYYY-MM-DD (default: six days before to)."),
            OpenApiParameter(
                "to",
                date,
                description=f"Last UTC day, YYYY-MM-DD, not after today (default: today). A report covers at most "
                f"{MAX_REPORT_DAYS} days; a longer range, or one that ends after today, is a 400 validation_error.",
            ),
        ],
        responses={200: AdoptionReportSerializer, 400: Problems(ErrorCode.VALIDATION_ERROR)},
    )
    def get(self, request):
        # A plain dict: DRF would take an empty `?to=` from a QueryDict as absent rather than as a bad date.
        data = validated(self.QuerySerializer, request.query_params.dict())
        return Response(adoption_report(tenant=request.auth.tenant, **data))
