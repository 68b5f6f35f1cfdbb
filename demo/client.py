"""A small client for the passkey service's /v1 API, as a relying party's backend would write one.

Plain urllib, JSON in and out; every problem+json answer becomes a ServiceError carrying its code.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

TIMEOUT_SECONDS = 10
# A sign-in by password must not wait long on the passkey service: its report is best effort.
SIGN_IN_REPORT_TIMEOUT_SECONDS = 2
# The sign-in page shows its password form while it waits for a login decision, and keeps it if none comes.
LOGIN_DECISION_TIMEOUT_SECONDS = 5


@dataclass
class ServiceError(Exception):
    status: int
    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.detail}"


class PasskeyServiceClient:
    def __init__(self, *, base_url: str, api_key: str, tenant_id: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.tenant_id = tenant_id

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/v1/tenants/{self.tenant_id}/jwks.json"

    # --- ceremonies ---

    # A start's whole answer: `public_key` (the options for the browser) and `client_token`, with which the
    # page's passkeys.js reports how the ceremony ended in the browser. The page gets both.

    def registration_start(self, *, user_id: str, username: str, display_name: str = "") -> dict:
        body = {"user_id": user_id, "username": username, "display_name": display_name}
        return self._call("POST", "/v1/registrations/start", body)

    def registration_finish(self, *, credential: dict, user_agent: str = "", name: str = "") -> dict:
        body = {"credential": credential, "user_agent": user_agent}
        if name:
            body["name"] = name
        return self._call("POST", "/v1/registrations/finish", body)["credential"]

    def authentication_start(self, *, user_id: str | None = None, mediation: str | None = None) -> dict:
        body: dict[str, Any] = {}
        if user_id:
            body["user_id"] = user_id
        if mediation:
            body["mediation"] = mediation
        return self._call("POST", "/v1/authentications/start", body)

    def authentication_finish(self, *, credential: dict, user_agent: str = "", ip: str = "") -> dict:
        body = {"credential": credential, "user_agent": user_agent}
        if ip:
            body["ip"] = ip
        return self._call("POST", "/v1/authentications/finish", body)

    # --- which sign-in the page leads with ---

    def login_decision(
        self,
        *,
        user_agent: str,
        user_id: str | None = None,
        capabilities: dict | None = None,
        platform_authenticator_available: bool | None = None,
        device_credential_ids: list | None = None,
    ) -> dict:
        """The service's whole answer: `decision`, `reason`, and with a passkey or passkey_autofill decision the
        start it made (`public_key`, `client_token`), which the page runs and the usual finish completes. What the
        page could not learn is left out."""
        body: dict[str, Any] = {"user_agent": user_agent}
        if user_id:
            body["user_id"] = user_id
        if capabilities is not None:
            body["capabilities"] = capabilities
        if platform_authenticator_available is not None:
            body["platform_authenticator_available"] = platform_authenticator_available
        if device_credential_ids is not None:
            body["device_credential_ids"] = device_credential_ids
        return self._call("POST", "/v1/login-decisions", body, timeout=LOGIN_DECISION_TIMEOUT_SECONDS)

    # --- credentials ---

    def credentials_list(self, *, user_id: str) -> dict:
        return self._call("GET", f"/v1/users/{_segment(user_id)}/credentials")

    def credential_rename(self, *, credential_id: str, name: str) -> dict:
        return self._call("PATCH", f"/v1/credentials/{_segment(credential_id)}", {"name": name})["credential"]

    def credential_delete(self, *, credential_id: str) -> None:
        self._call("DELETE", f"/v1/credentials/{_segment(credential_id)}")

    # --- sign-ins by other methods and nudges ---

    def sign_in_record(
        self,
        *,
        user_id: str,
        method: str,
        user_agent: str = "",
        platform_authenticator_available: bool | None = None,
        conditional_create_available: bool | None = None,
        username: str = "",
        display_name: str = "",
    ) -> dict:
        """The service's whole answer: `nudge` (a prompt to show, or null) and `automatic_upgrade` (creation options
        for a silent passkey creation and their client token, or null). Capabilities the page could not learn are
        left out."""
        body: dict[str, Any] = {"user_id": user_id, "method": method, "user_agent": user_agent}
        if platform_authenticator_available is not None:
            body["platform_authenticator_available"] = platform_authenticator_available
        if conditional_create_available is not None:
            body["conditional_create_available"] = conditional_create_available
        if username:  # the names a passkey made by an automatic upgrade would carry
            body["username"] = username
            body["display_name"] = display_name
        return self._call("POST", "/v1/sign-ins", body, timeout=SIGN_IN_REPORT_TIMEOUT_SECONDS)

    def nudge_outcome(self, *, nudge_id: str, outcome: str) -> None:
        self._call("POST", f"/v1/nudges/{_segment(nudge_id)}/outcome", {"outcome": outcome})

    def _call(self, method: str, path: str, body: dict | None = None, *, timeout: float = TIMEOUT_SECONDS) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (the URL is our own configuration, http or https)
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise _service_error(error) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise ServiceError(503, "service_unreachable", f"The passkey service did not answer: {error}") from None
        return json.loads(payload) if payload else {}


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _service_error(error: urllib.error.HTTPError) -> ServiceError:
    try:
        problem = json.loads(error.read())
    except ValueError:
        problem = {}
    return ServiceError(error.code, problem.get("code", "service_error"), problem.get("detail", str(error.reason)))
