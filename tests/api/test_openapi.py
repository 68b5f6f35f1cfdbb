"""The OpenAPI document at /v1/openapi.json: valid OpenAPI 3, every /v1 route and method, the bearer
scheme, problem+json errors, and bodies that match what the service really sends."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from openapi_spec_validator import validate as validate_spec
from rest_framework.test import APIClient
from rest_framework.views import APIView

from api.user_routes import USER_ROUTES, user_routes
from core.errors import ErrorCode
from tests.support.api import PasskeyApi

PROBLEM = "application/problem+json"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code"}
PUBLIC_PATHS = {"/v1/tenants/{tenant_id}/jwks.json", "/v1/tenants/{tenant_id}/related-origins"}
UNUSED_REDIS_URL = "redis://127.0.0.1:6390/0"


def finish_codes(ceremony: str, status: int) -> set[str]:
    """The codes a ceremony's finish documents at `status`, from ErrorCode (tests/core pins it to DESIGN.md)."""
    return {str(code) for code in ErrorCode.of_ceremony(ceremony) if code.status == status}


@pytest.fixture
def schema(client, db) -> dict:
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        else:
            yield route, pattern


def _served(routes) -> Iterator[tuple[str, type | None]]:
    """(route, view class); /v1/users/<path:rest> is one function serving the contract's two user routes."""
    for route, pattern in routes:
        if pattern.callback is user_routes:
            yield from ((served, view.view_class) for _, served, view in USER_ROUTES)
        else:
            yield route, getattr(pattern.callback, "view_class", None)


def routed_operations() -> set[tuple[str, str]]:
    """(method, OpenAPI path) for every /v1 route of the whole URLconf and every method its view implements."""
    operations = set()
    for route, view in _served(_walk(get_resolver().url_patterns)):
        if not route.startswith("v1/") or view is None or not issubclass(view, APIView) or route == "v1/openapi.json":
            continue
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        for method in view.http_method_names:
            if method not in ("options", "head") and hasattr(view, method):
                operations.add((method, path))
    return operations


def documented_operations(schema: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def resolve_ref(schema: dict, node: dict) -> dict:
    return schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node


# --- the document --------------------------------------------------------------------------


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.0")
    validate_spec(schema)


def test_schema_documents_every_v1_route_and_method_and_nothing_else(schema):
    routed = routed_operations()
    assert len({path for _, path in routed}) >= 11  # guards the helper: the routes of DESIGN.md "HTTP API v1"
    documented = {(method, path) for method, path, _ in documented_operations(schema)}
    assert routed == documented


def test_every_operation_needs_the_bearer_key_except_the_public_documents(schema):
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A tenant's secret API key.",
    }
    for method, path, operation in documented_operations(schema):
        if path in PUBLIC_PATHS:
            assert all("apiKey" not in requirement for requirement in operation.get("security", [])), path
            assert "401" not in operation["responses"]
        elif path == "/v1/client-events":  # the browser's report: its client token, never a key
            assert operation["security"] == [{"clientToken": []}]
            assert _codes(schema, operation, "401") == {"invalid_client_token"}
            assert "403" not in operation["responses"]
        else:
            assert operation["security"] == [{"apiKey": []}], (method, path)
            assert _codes(schema, operation, "401") == {"invalid_api_key"}, (method, path)
            assert _codes(schema, operation, "403") == {"insufficient_scope"}, (method, path)


def test_problem_component_is_rfc_9457_with_a_code(schema):
    problem = schema["components"]["schemas"]["Problem"]
    assert PROBLEM_MEMBERS <= set(problem["properties"])
    assert PROBLEM_MEMBERS <= set(problem["required"])
    assert problem["properties"]["status"]["type"] == "integer"


def _codes(schema: dict, operation: dict, status: str) -> set[str]:
    """The contract codes an operation documents for a status, from its problem+json schema."""
    response = operation["responses"][status]
    assert set(response["content"]) == {PROBLEM}, status
    body = response["content"][PROBLEM]["schema"]
    assert body["allOf"][0] == {"$ref": "#/components/schemas/Problem"}
    return set(body["allOf"][1]["properties"]["code"]["enum"])


def test_every_error_response_is_problem_json(schema):
    for method, path, operation in documented_operations(schema):
        errors = [status for status in operation["responses"] if status >= "400"]
        assert "503" in errors, (method, path)
        for status in errors:
            assert _codes(schema, operation, status), (method, path, status)


@pytest.mark.parametrize(
    "path, status, codes",
    [
        ("/v1/registrations/finish", "400", finish_codes("registration", 400)),
        ("/v1/registrations/finish", "409", finish_codes("registration", 409)),
        ("/v1/authentications/finish", "400", finish_codes("authentication", 400)),
    ],
)
def test_each_ceremony_finish_documents_its_error_codes(schema, path, status, codes):
    assert _codes(schema, schema["paths"][path]["post"], status) == codes


def test_operations_with_a_body_document_400_and_413(schema):
    for method, path, operation in documented_operations(schema):
        if "requestBody" in operation:
            assert "validation_error" in _codes(schema, operation, "400"), (method, path)
            assert _codes(schema, operation, "413") == {"payload_too_large"}, (method, path)


def test_rate_limited_operations_document_429_with_retry_after(schema):
    limited = {
        ("post", "/v1/registrations/start"),
        ("post", "/v1/registrations/finish"),
        ("post", "/v1/authentications/start"),
        ("post", "/v1/authentications/finish"),
        ("post", "/v1/sign-ins"),
        ("get", "/v1/tenants/{tenant_id}/jwks.json"),
        ("get", "/v1/tenants/{tenant_id}/related-origins"),
        ("get", "/v1/metrics/adoption"),
        ("post", "/v1/client-events"),
        ("post", "/v1/login-decisions"),
    }
    documented = {(method, path) for method, path, op in documented_operations(schema) if "429" in op["responses"]}
    assert documented == limited
    for method, path in limited:
        response = schema["paths"][path][method]["responses"]["429"]
        assert response["headers"]["Retry-After"]["schema"] == {"type": "integer"}


def test_not_found_is_documented_where_an_id_may_be_unknown(schema):
    for method, path in [
        ("patch", "/v1/credentials/{credential_id}"),
        ("delete", "/v1/credentials/{credential_id}"),
        ("post", "/v1/nudges/{nudge_id}/outcome"),
        ("get", "/v1/tenants/{tenant_id}/jwks.json"),
        ("get", "/v1/tenants/{tenant_id}/related-origins"),
    ]:
        assert _codes(schema, schema["paths"][path][method], "404") == {"not_found"}


@pytest.mark.parametrize(
    "component, member, target",
    [
        ("RegistrationOptions", "public_key", "PublicKeyCredentialCreationOptionsJSON"),
        ("AuthenticationOptions", "public_key", "PublicKeyCredentialRequestOptionsJSON"),
        ("RegistrationFinishRequest", "credential", "RegistrationResponseJSON"),
        ("AuthenticationFinishRequest", "credential", "AuthenticationResponseJSON"),
    ],
)
def test_webauthn_members_are_described_by_the_webauthn_json_shapes(schema, component, member, target):
    described = schema["components"]["schemas"][component]["properties"][member]
    assert described["allOf"] == [{"$ref": f"#/components/schemas/{target}"}]
    assert "properties" in schema["components"]["schemas"][target]


# --- accuracy: what the service sends is what the document says -----------------------------


class Recorder:
    """Every response of a session, to check each against the documented response."""

    def __init__(self) -> None:
        self.responses: list = []

    def __call__(self, response):
        self.responses.append(response)
        return response


def _documented_body(schema: dict, response) -> tuple[str, dict | None]:
    request = response.wsgi_request
    route = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", (request.resolver_match or resolve(request.path)).route)
    operation = schema["paths"][route][request.method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{request.method} {route} answered {status}, undocumented"
    content = operation["responses"][status].get("content")
    if content is None:
        assert not response.content, (route, status)
        return route, None
    media_type = response["Content-Type"].split(";")[0]
    assert media_type in content, (route, status, media_type)
    return route, content[media_type]["schema"]


def assert_matches_schema(schema: dict, response) -> None:
    route, body_schema = _documented_body(schema, response)
    if body_schema is None:
        return
    root = {**body_schema, "components": schema["components"]}  # lets local $refs resolve
    validator = OAS30ReadValidator(root, format_checker=oas30_format_checker)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.json())]
    assert not errors, (route, response.status_code, errors[:5])


@pytest.fixture
def recorded(api, authenticator, make_api, make_tenant, settings) -> list:
    """A session touching every operation, answering with successes and with problems."""
    record = Recorder()
    record(api.post("/v1/registrations/start", {"user_id": "alice", "username": "a@example.com"}))
    options = api.registration_options("alice")
    credential = authenticator.create(options, origin="https://example.com")
    record(api.post("/v1/registrations/finish", {"credential": credential, "name": "Laptop"}))
    record(api.post("/v1/registrations/finish", {"credential": credential}))  # challenge used: 400
    record(api.post("/v1/registrations/finish", {"credential": "nope"}))  # validation_error with errors
    record(api.post("/v1/authentications/start", {"user_id": "alice"}))
    record(api.post("/v1/authentications/start", {"mediation": "conditional"}))
    assertion = authenticator.get(api.authentication_options("alice"), origin="https://example.com")
    record(api.post("/v1/authentications/finish", {"credential": assertion, "ip": "192.0.2.1"}))
    bad = authenticator.get(api.authentication_options("alice"), origin="https://evil.example")
    record(api.post("/v1/authentications/finish", {"credential": bad}))
    listed = record(api.get("/v1/users/alice/credentials"))
    credential_id = listed.json()["credentials"][0]["id"]
    record(api.patch(f"/v1/credentials/{credential_id}", {"name": "Work laptop"}))
    record(api.patch("/v1/credentials/AAAA", {"name": "x"}))  # 404
    record(api.delete("/v1/credentials/%21%21"))  # not base64url: 400
    sign_in = record(api.post("/v1/sign-ins", {"user_id": "bob", "method": "password"}))
    assert sign_in.status_code == 201
    record(api.post(f"/v1/nudges/{uuid.uuid4()}/outcome", {"outcome": "shown"}))  # 404
    record(api.get("/v1/metrics/adoption"))
    record(api.get("/v1/metrics/adoption?from=2026-11-10&to=2026-11-01"))  # 400
    record(api.client.get(f"/v1/tenants/{api.tenant.pk}/jwks.json"))
    record(api.client.get(f"/v1/tenants/{uuid.uuid4()}/jwks.json"))  # 404
    record(api.client.get(f"/v1/tenants/{api.tenant.pk}/related-origins"))
    record(api.client.get(f"/v1/tenants/{uuid.uuid4()}/related-origins"))  # 404
    record(api.client.get("/v1/tenants/a%0Ab/related-origins"))  # 400
    record(APIClient().get("/v1/users/alice/credentials"))  # 401
    record(make_api(api.tenant, scopes=["metrics:read"]).get("/v1/users/alice/credentials"))  # 403
    record(api.client.post("/v1/sign-ins", {"x": "a" * 70_000}, format="json", HTTP_AUTHORIZATION=f"Bearer {api.key}"))
    record(api.delete(f"/v1/credentials/{credential_id}"))
    record(api.delete("/v1/users/alice"))
    limited = make_api(make_tenant(name="Limited", rate_limit_per_key=1))
    limited.post("/v1/authentications/start", {})
    record(limited.post("/v1/authentications/start", {}))  # 429
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": UNUSED_REDIS_URL}}
    record(PasskeyApi(APIClient(), api.key, api.tenant).post("/v1/authentications/start", {}))  # 503
    return record.responses


def test_every_response_of_a_session_matches_its_documented_schema(schema, recorded):
    statuses = {response.status_code for response in recorded}
    assert statuses >= {200, 201, 204, 400, 401, 403, 404, 413, 429, 503}, statuses
    for response in recorded:
        assert_matches_schema(schema, response)
