"""OpenAPI description of what drf-spectacular cannot infer: the key scheme, problem+json errors and
the WebAuthn JSON shapes.

Every operation gets the problem responses its view can give without saying so (401/403 with a
key, 400/413 with a body, 429 with a throttle, 503 always); a view adds its own with `Problems`
in `extend_schema(responses=…)`, e.g. the ceremony failure codes of a finish.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from core.errors import ErrorCode
from core.problems import PROBLEM_CONTENT_TYPE

from .serializers import ID_PATTERN, IdField

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# What each way of authenticating answers when it fails.
AUTHENTICATION_PROBLEMS = {
    "ApiKeyAuthentication": ErrorCode.INVALID_API_KEY,
    "ClientTokenAuthentication": ErrorCode.INVALID_CLIENT_TOKEN,
}

class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A tenant's secret API key."}


class ClientTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ClientTokenAuthentication"
    name = "clientToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The client_token of a start answer: one ceremony's reports, from the browser.",
        }


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every error of this API is sent (application/problem+json)."""

    type = serializers.CharField(help_text="URI naming the problem type: urn:passkey-service:problem:<code>.")
    title = serializers.CharField(help_text="Short summary of the problem type, for humans.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong in this occurrence, for humans; may change.")
    code = serializers.CharField(help_text="Stable machine-readable error code from the API contract.")
    errors = serializers.DictField(
        required=False, help_text="validation_error only: each invalid field and what is wrong with it."
    )


class Problems:
    """An `extend_schema` response value: the contract codes this operation may answer with at that status."""

    def __init__(self, *codes: ErrorCode) -> None:
        self.codes = tuple(ErrorCode(code) for code in codes)


def ceremony_problems(ceremony: str) -> dict[int, Problems]:
    """The responses of a ceremony finish: its failure codes (ErrorCode.of_ceremony) by their status."""
    by_status: dict[int, list[ErrorCode]] = defaultdict(list)
    for code in ErrorCode.of_ceremony(ceremony):
        by_status[code.status].append(code)
    return {status: Problems(*codes) for status, codes in by_status.items()}


class ProblemAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the problem+json responses and their headers."""

    def _implied_problems(self) -> dict[int, set[ErrorCode]]:
        implied = [ErrorCode.SERVICE_UNAVAILABLE]
        for authenticator in self.view.get_authenticators():
            implied.append(AUTHENTICATION_PROBLEMS[type(authenticator).__name__])
        if getattr(self.view, "required_scope", None):
            implied.append(ErrorCode.INSUFFICIENT_SCOPE)
        if self.method in BODY_METHODS:
            implied += [ErrorCode.VALIDATION_ERROR, ErrorCode.PAYLOAD_TOO_LARGE]
        if self.view.get_throttles():
            implied.append(ErrorCode.RATE_LIMITED)
        return {code.status: {code} for code in implied}

    def _problem_codes(self) -> dict[int, set[ErrorCode]]:
        codes = defaultdict(set, self._implied_problems())
        declared = self.get_response_serializers()  # extend_schema's, when the view declares responses
        for status, response in declared.items() if isinstance(declared, dict) else ():
            if isinstance(response, Problems):
                wrong = [code for code in response.codes if code.status != int(status)]
                if wrong:  # a code is answered with its own status, never another
                    raise ValueError(f"{self.view.__class__.__name__} documents {wrong} under {status}")
                codes[int(status)].update(response.codes)
        return codes

    def _get_response_bodies(self, direction="response") -> dict:
        # extend_schema overrides get_response_serializers() in a subclass it makes per view, so the
        # problems are merged in here, where the responses are turned into OpenAPI objects.
        declared = self.get_response_serializers()
        if not isinstance(declared, dict):
            return super()._get_response_bodies(direction)  # only views outside /v1 declare no responses
        bodies = {}
        for status, value in declared.items():
            if not isinstance(value, Problems):
                code, media_types = (str(status[0]), status[1:]) if isinstance(status, tuple) else (str(status), None)
                bodies[code] = self._get_response_for_code(value, code, media_types, direction)
        for status, codes in sorted(self._problem_codes().items()):
            bodies[str(status)] = self._get_response_for_code(
                self._problem_response(status, sorted(codes)), str(status), [PROBLEM_CONTENT_TYPE], direction
            )
        return bodies

    def _problem_response(self, status: int, codes: list[ErrorCode]) -> OpenApiResponse:
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        # The Problem shape, narrowed to the codes this operation can give at this status.
        enum = [str(code) for code in codes]
        schema = {"allOf": [problem, {"type": "object", "properties": {"code": {"type": "string", "enum": enum}}}]}
        titles = "; ".join(f"`{code}` ({code.title})" for code in codes)
        return OpenApiResponse(schema, description=f"Problem: {titles}.")

    def _get_request_for_media_type(self, serializer, direction="request"):
        if self.method != "PATCH":
            return super()._get_request_for_media_type(serializer, direction)
        # drf-spectacular documents a PATCH body as DRF's partial update (nothing required), but these
        # views validate it whole: document it as the POST body it is checked as.
        self.method = "POST"
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = "PATCH"

    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        codes = self._problem_codes()
        if 429 in codes:
            parameters.append(
                OpenApiParameter(
                    "Retry-After",
                    OpenApiTypes.INT,
                    OpenApiParameter.HEADER,
                    response=[429],
                    description="Seconds until the rate-limit window starts over.",
                )
            )
        if 401 in codes:
            parameters.append(
                OpenApiParameter(
                    "WWW-Authenticate",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    response=[401],
                    description='Bearer realm="passkey-service" (RFC 6750).',
                )
            )
        return parameters


class TextFieldSchema(OpenApiSerializerFieldExtension):
    """What api.serializers' text fields accept, beyond type and length: ids without control
    characters, no NUL anywhere (DRF refuses it), and something besides whitespace where a field
    is trimmed and must not be blank."""

    target_class = "api.serializers.TextField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if "oneOf" in schema:  # allow_blank's [string, empty string]: the pattern below admits "" already
            schema = schema["oneOf"][0]
        if isinstance(self.target, IdField):
            return {**schema, "minLength": 1, "pattern": ID_PATTERN}
        if not self.target.allow_blank and self.target.trim_whitespace:
            return {**schema, "pattern": r"^[^\u0000]*[^\u0000\s][^\u0000]*$"}
        return {**schema, "pattern": r"^[^\u0000]*$", **({} if self.target.allow_blank else {"minLength": 1})}


class IpAddressFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "api.serializers.IpAddressField"

    def map_serializer_field(self, auto_schema, direction):
        addresses = [{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}]
        if self.target.allow_null:
            addresses.append({"type": "object", "nullable": True, "enum": [None]})
        return {"oneOf": addresses}


def postprocess(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOK: the WebAuthn JSON shapes, and nullable references a validator honours."""
    _describe_webauthn_members(result)
    _make_nullable_refs_effective(result)
    _close_strict_bodies(result)
    return result


# Request bodies whose views refuse members they do not know (the others ignore them).
STRICT_BODIES = ("ClientEventRequest",)


def _close_strict_bodies(result: dict) -> None:
    for component in STRICT_BODIES:
        result["components"]["schemas"][component]["additionalProperties"] = False


def _describe_webauthn_members(result: dict) -> None:
    """Add the WebAuthn Level 3 JSON components and point the free-form `credential` and
    `public_key` members at them; a renamed member fails loudly here."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(WEBAUTHN_COMPONENTS)
    for (component, member), target in WEBAUTHN_PROPERTIES.items():
        properties = schemas[component]["properties"]
        if member not in properties:
            raise KeyError(f"{component} has no {member!r} to describe as {target}")
        description = properties[member].get("description")
        properties[member] = {"allOf": [{"$ref": f"#/components/schemas/{target}"}]}
        if description:
            properties[member]["description"] = description


def _make_nullable_refs_effective(node: Any) -> None:
    """drf-spectacular writes a nullable reference as {allOf: [$ref], nullable: true}, but OpenAPI
    3.0.3 ignores `nullable` without a `type` beside it, so null would not validate. Use the
    usual 3.0 form instead: one of the reference or null."""
    if isinstance(node, list):
        for item in node:
            _make_nullable_refs_effective(item)
    elif isinstance(node, dict):
        for value in node.values():
            _make_nullable_refs_effective(value)
        if node.get("nullable") is True and "type" not in node and len(node.get("allOf", [])) == 1:
            node["oneOf"] = [node.pop("allOf")[0], {"type": "object", "nullable": True, "enum": [None]}]
            del node["nullable"]


# --- WebAuthn Level 3 JSON (§5.1.8, §5.4, §5.5): what browsers' toJSON() and parse*FromJSON() use ------

_B64URL = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "description": "base64url without padding"}
_REQUIREMENT = {"type": "string", "enum": ["required", "preferred", "discouraged"]}
_EXTENSIONS = {"type": "object", "additionalProperties": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "additionalProperties": True}
    return {**schema, "required": required} if required else schema  # OpenAPI 3.0: never an empty list


WEBAUTHN_COMPONENTS: dict[str, dict[str, Any]] = {
    "PublicKeyCredentialDescriptorJSON": _object(
        ["type", "id"],
        type={"type": "string", "enum": ["public-key"]},
        id=_B64URL,
        transports={"type": "array", "items": {"type": "string"}},
    ),
    "PublicKeyCredentialCreationOptionsJSON": _object(
        ["rp", "user", "challenge", "pubKeyCredParams"],
        rp=_object(["name"], id={"type": "string"}, name={"type": "string"}),
        user=_object(
            ["id", "name", "displayName"],
            id={**_B64URL, "description": "The user handle: random per (tenant, user), never the RP's user_id."},
            name={"type": "string"},
            displayName={"type": "string"},
        ),
        challenge=_B64URL,
        pubKeyCredParams={
            "type": "array",
            "items": _object(
                ["type", "alg"],
                type={"type": "string", "enum": ["public-key"]},
                alg={"type": "integer", "description": "COSE algorithm: -8 EdDSA, -7 ES256, -257 RS256."},
            ),
        },
        timeout={"type": "integer", "description": "Milliseconds."},
        excludeCredentials={"type": "array", "items": _ref("PublicKeyCredentialDescriptorJSON")},
        authenticatorSelection=_object(
            [],
            authenticatorAttachment={"type": "string", "enum": ["platform", "cross-platform"]},
            residentKey=_REQUIREMENT,
            requireResidentKey={"type": "boolean"},
            userVerification=_REQUIREMENT,
        ),
        hints={"type": "array", "items": {"type": "string"}},
        attestation={"type": "string", "enum": ["none", "indirect", "direct", "enterprise"]},
        extensions=_EXTENSIONS,
    ),
    "PublicKeyCredentialRequestOptionsJSON": _object(
        ["challenge"],
        challenge=_B64URL,
        timeout={"type": "integer", "description": "Milliseconds."},
        rpId={"type": "string"},
        allowCredentials={"type": "array", "items": _ref("PublicKeyCredentialDescriptorJSON")},
        userVerification=_REQUIREMENT,
        hints={"type": "array", "items": {"type": "string"}},
        extensions=_EXTENSIONS,
    ),
    "RegistrationResponseJSON": _object(
        ["id", "rawId", "response", "type"],
        id=_B64URL,
        rawId={**_B64URL, "description": "Must equal id."},
        response=_object(
            ["clientDataJSON", "attestationObject"],
            clientDataJSON=_B64URL,
            attestationObject=_B64URL,
            authenticatorData=_B64URL,
            transports={"type": "array", "items": {"type": "string"}},
            publicKey=_B64URL,
            publicKeyAlgorithm={"type": "integer"},
        ),
        authenticatorAttachment={"type": "string", "nullable": True},
        clientExtensionResults=_EXTENSIONS,
        type={"type": "string", "enum": ["public-key"]},
    ),
    "AuthenticationResponseJSON": _object(
        ["id", "rawId", "response", "type"],
        id=_B64URL,
        rawId={**_B64URL, "description": "Must equal id."},
        response=_object(
            ["clientDataJSON", "authenticatorData", "signature"],
            clientDataJSON=_B64URL,
            authenticatorData=_B64URL,
            signature=_B64URL,
            userHandle={**_B64URL, "nullable": True},
        ),
        authenticatorAttachment={"type": "string", "nullable": True},
        clientExtensionResults=_EXTENSIONS,
        type={"type": "string", "enum": ["public-key"]},
    ),
}

# Free-form members of our own components that carry these shapes.
WEBAUTHN_PROPERTIES = {
    ("RegistrationOptions", "public_key"): "PublicKeyCredentialCreationOptionsJSON",
    ("AuthenticationOptions", "public_key"): "PublicKeyCredentialRequestOptionsJSON",
    ("RegistrationFinishRequest", "credential"): "RegistrationResponseJSON",
    ("AuthenticationFinishRequest", "credential"): "AuthenticationResponseJSON",
}
