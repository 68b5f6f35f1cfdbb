"""Operational endpoints: liveness, readiness, the OpenAPI schema and offline interactive docs."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.urls import URLPattern

from api import urls as api_urls
from api.user_routes import USER_ROUTES, user_routes
from passkeys.models import Credential, PasskeyUser

UNUSED_REDIS_URL = "redis://127.0.0.1:6390/0"


@pytest.fixture
def redis_down(settings) -> dict:
    """Point the cache, and with it the challenge store (its Redis client), at a port where nothing listens.

    Returns the working CACHES setting so a test can bring Redis back.
    """
    assert settings.REDIS_URL, "these tests run against Redis"
    working = settings.CACHES
    settings.CACHES = {"default": {**working["default"], "LOCATION": UNUSED_REDIS_URL}}
    return working


@pytest.fixture
def schema(client, db) -> dict:
    response = client.get("/v1/openapi.json", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def v1_paths() -> set[str]:
    """Every /v1 route of api/urls.py, in OpenAPI's {param} form (the schema itself excluded)."""
    paths = set()
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        # /v1/users/<path:rest> is one function serving the contract's two user routes.
        routes = [route for _, route, _ in USER_ROUTES] if pattern.callback is user_routes else [str(pattern.pattern)]
        for route in routes:
            if route.startswith("v1/") and route != "v1/openapi.json":
                paths.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return paths


# --- liveness and readiness ----------------------------------------------------------------


def test_healthz_answers_200(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_needs_no_database(client):
    # No db fixture: any query would fail the test.
    assert client.get("/healthz").status_code == 200


def test_readyz_reports_database_and_redis_ok(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_naming_redis_when_redis_is_unreachable(client, db, redis_down):
    response = client.get("/readyz")
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert "redis" in body["detail"]
    assert "database" not in body["detail"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] != "ok"


def test_readyz_recovers_when_redis_is_back(client, db, settings, redis_down):
    assert client.get("/readyz").status_code == 503
    settings.CACHES = redis_down
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/registrations/start", {"user_id": "alice", "username": "alice"}),
        ("/v1/authentications/start", {}),
    ],
)
def test_ceremony_start_is_503_when_redis_is_unreachable(api, redis_down, path, body):
    response = api.post(path, body)
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "service_unavailable"


def test_registration_start_changes_nothing_when_redis_is_unreachable(api, redis_down):
    """503 promises "retry later, nothing was changed"."""
    assert api.post("/v1/registrations/start", {"user_id": "alice", "username": "alice"}).status_code == 503
    assert not PasskeyUser.objects.exists()


def test_authentication_finish_changes_nothing_when_redis_is_unreachable(api, authenticator, settings):
    assert api.register(authenticator).status_code == 201
    assertion = authenticator.get(api.authentication_options("alice"), origin="https://example.com")
    before = Credential.objects.values("sign_count", "last_used_at").get()
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": UNUSED_REDIS_URL}}
    response = api.post("/v1/authentications/finish", {"credential": assertion})
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "service_unavailable"
    assert Credential.objects.values("sign_count", "last_used_at").get() == before


# --- OpenAPI -------------------------------------------------------------------------------


def test_openapi_json_is_json_without_an_accept_header(client, db):
    """The path says .json: a plain `curl` must get JSON, not YAML."""
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    assert "json" in response["Content-Type"], response["Content-Type"]
    assert json.loads(response.content)["openapi"].startswith("3.")


def test_openapi_is_an_openapi_3_document(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"]
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A tenant's secret API key.",
    }


def test_openapi_lists_every_v1_route(schema):
    expected = v1_paths()
    assert len(expected) == 14  # guards the helper: DESIGN.md "HTTP API v1" + v1.1's three
    assert expected <= set(schema["paths"]), expected - set(schema["paths"])


def test_openapi_needs_no_api_key(client, db):
    assert client.get("/v1/openapi.json", HTTP_ACCEPT="application/json").status_code == 200


def _request_fields(schema: dict, path: str) -> tuple[set[str], set[str]]:
    body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    return set(body["properties"]), set(body.get("required", []))


@pytest.mark.parametrize(
    "path, fields, required",
    [
        (
            "/v1/registrations/start",
            {
                "user_id",
                "username",
                "display_name",
                "authenticator_attachment",
                "resident_key",
                "user_verification",
                "hints",
                "mediation",
                "prf",
            },
            {"user_id", "username"},
        ),
        ("/v1/registrations/finish", {"credential", "name", "user_agent"}, {"credential"}),
        ("/v1/authentications/start", {"user_id", "user_verification", "mediation", "hints", "prf"}, set()),
        (
            "/v1/authentications/finish",
            {"credential", "user_agent", "ip", "platform_authenticator_available"},
            {"credential"},
        ),
    ],
)
def test_openapi_describes_each_ceremony_request_body(schema, path, fields, required):
    assert _request_fields(schema, path) == (fields, required)


# --- interactive docs ----------------------------------------------------------------------


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_docs_page_loads_only_local_static_assets(client, db):
    response = client.get("/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    parser = _Assets()
    parser.feed(html)
    assert parser.urls, "the page should load Swagger UI"
    assert all(url.startswith("/static/") for url in parser.urls), parser.urls
    assert not re.search(r"https?://|//[a-z0-9-]+\.[a-z]", html, re.IGNORECASE)


def test_docs_assets_are_served_by_the_service(client, db):
    parser = _Assets()
    parser.feed(client.get("/docs/").content.decode())
    for url in parser.urls:
        assert client.get(url).status_code == 200, url
