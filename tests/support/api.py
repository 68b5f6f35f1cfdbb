"""A thin client for the /v1 API that runs whole ceremonies with a soft authenticator."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from tests.support.authenticator import SoftAuthenticator

ORIGIN = "https://example.com"


class PasskeyApi:
    def __init__(self, client: APIClient, key: str, tenant) -> None:
        self.client = client
        self.key = key
        self.tenant = tenant

    def _auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.key}"}

    def post(self, path: str, body: Any):
        return self.client.post(path, body, format="json", **self._auth())

    def get(self, path: str):
        return self.client.get(path, **self._auth())

    def patch(self, path: str, body: Any):
        return self.client.patch(path, body, format="json", **self._auth())

    def delete(self, path: str):
        return self.client.delete(path, **self._auth())

    def registration_options(self, user_id: str = "alice", **body: Any) -> dict[str, Any]:
        response = self.post(
            "/v1/registrations/start", {"user_id": user_id, "username": f"{user_id}@example.com", **body}
        )
        assert response.status_code == 200, response.content
        return response.json()["public_key"]

    def register(
        self,
        authenticator: SoftAuthenticator,
        user_id: str = "alice",
        *,
        origin: str = ORIGIN,
        start: dict | None = None,
        finish: dict | None = None,
        **knobs: Any,
    ):
        """Start, let the authenticator create, finish; returns the finish response."""
        options = self.registration_options(user_id, **(start or {}))
        credential = authenticator.create(options, origin=origin, **knobs)
        return self.post("/v1/registrations/finish", {"credential": credential, **(finish or {})})

    def authentication_options(self, user_id: str | None = None, **body: Any) -> dict[str, Any]:
        if user_id is not None:
            body["user_id"] = user_id
        response = self.post("/v1/authentications/start", body)
        assert response.status_code == 200, response.content
        return response.json()["public_key"]

    def login(
        self,
        authenticator: SoftAuthenticator,
        user_id: str | None = None,
        *,
        origin: str = ORIGIN,
        start: dict | None = None,
        **knobs: Any,
    ):
        """Start, let the authenticator sign, finish; returns the finish response."""
        options = self.authentication_options(user_id, **(start or {}))
        assertion = authenticator.get(options, origin=origin, **knobs)
        return self.post("/v1/authentications/finish", {"credential": assertion})


def assert_problem(response, status: int, code: str) -> dict:
    """The response is an RFC 9457 problem with this status and contract code; returns its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body), body
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str)
    return body
