"""Listing, renaming and deleting credentials; erasing users."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.encoding import b64url_decode, b64url_encode
from core.errors import ErrorCode
from passkeys.selectors import user_credentials_get
from passkeys.services import credential_delete, credential_rename, user_delete

from ..schema import Problems
from ..serializers import (
    B64URL_SCHEMA,
    ID_SCHEMA,
    CredentialSerializer,
    TextField,
    path_id,
    validated,
)

USER_ID = OpenApiParameter(
    "user_id",
    ID_SCHEMA,
    OpenApiParameter.PATH,
    description="The relying party's user id as registrations/start took it, percent-encoded (any character "
    "but a control character, \"/\" as %2F).",
)
CREDENTIAL_ID = OpenApiParameter("credential_id", B64URL_SCHEMA, OpenApiParameter.PATH)


class UserCredentialsApi(APIView):
    required_scope = "credentials:read"

    @extend_schema(
        parameters=[USER_ID],
        responses={
            200: inline_serializer(
                "CredentialList",
                {
                    "credentials": CredentialSerializer(many=True),
                    "rp_id": serializers.CharField(help_text="The tenant's WebAuthn relying-party id."),
                    "user_handle": serializers.CharField(
                        allow_null=True,
                        help_text="The user's WebAuthn user.id (base64url); null before their first ceremony. "
                        "With the credential ids, what PublicKeyCredential.signalAllAcceptedCredentials needs.",
                    ),
                },
            ),
            400: Problems(ErrorCode.VALIDATION_ERROR),
        }
    )
    def get(self, request, user_id: str):
        listed = user_credentials_get(tenant=request.auth.tenant, user_id=path_id(user_id, name="user_id"))
        return Response(
            {
                "credentials": CredentialSerializer(listed.credentials, many=True).data,
                "rp_id": request.auth.tenant.rp_id,
                "user_handle": b64url_encode(bytes(listed.user.handle)) if listed.user else None,
            }
        )


class CredentialApi(APIView):
    class RenameSerializer(serializers.Serializer):
        name = TextField(max_length=200)

    required_scope = "credentials:write"

    @extend_schema(
        parameters=[CREDENTIAL_ID],
        request=RenameSerializer,
        responses={
            200: inline_serializer("CredentialRenamed", {"credential": CredentialSerializer()}),
            400: Problems(ErrorCode.VALIDATION_ERROR),
            404: Problems(ErrorCode.NOT_FOUND),
        },
    )
    def patch(self, request, credential_id: str):
        data = validated(self.RenameSerializer, request.data)
        credential = credential_rename(
            tenant=request.auth.tenant, credential_id=b64url_decode(credential_id), name=data["name"]
        )
        return Response({"credential": CredentialSerializer(credential).data})

    @extend_schema(
        parameters=[CREDENTIAL_ID],
        responses={204: None, 400: Problems(ErrorCode.VALIDATION_ERROR), 404: Problems(ErrorCode.NOT_FOUND)},
    )
    def delete(self, request, credential_id: str):
        credential_delete(tenant=request.auth.tenant, credential_id=b64url_decode(credential_id))
        return Response(status=204)


class UserApi(APIView):
    required_scope = "users:delete"

    @extend_schema(parameters=[USER_ID], responses={204: None, 400: Problems(ErrorCode.VALIDATION_ERROR)})
    def delete(self, request, user_id: str):
        user_delete(tenant=request.auth.tenant, user_id=path_id(user_id, name="user_id"))
        return Response(status=204)
