"""End to end: the demo relying party on a live server (PostgreSQL, Redis) in Debian's headless
Chromium with its virtual authenticator. The demo reaches the service over HTTP, so every ceremony
crosses browser -> demo site -> /v1 API -> python-fido2 and back."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from demo.models import DemoUser
from demo.services import demo_user_create
from tests.support.api import PasskeyApi
from tests.support.browser import chromium
from tests.support.demo_site import PASSWORD, DemoSite
from tests.support.virtual_authenticator import VirtualAuthenticator


@dataclass
class Demo:
    site: DemoSite
    api: PasskeyApi  # the demo tenant's /v1 API, to check what the service stored
    tenant: object

    def credentials(self, user: DemoUser) -> list[dict]:
        response = self.api.get(f"/v1/users/{user.user_id}/credentials")
        assert response.status_code == 200, response.content
        return response.json()["credentials"]


@pytest.fixture
def browser():
    with chromium() as driver:
        yield driver


@pytest.fixture
def demo(demo_api, browser, live_server) -> Demo:
    return Demo(site=DemoSite(browser, live_server.url), api=demo_api, tenant=demo_api.tenant)


@pytest.fixture
def virtual_authenticator(browser) -> VirtualAuthenticator:
    """Added before the first page loads: a conditional request started without one never resolves."""
    return VirtualAuthenticator(browser)


@pytest.fixture
def ada(db) -> DemoUser:
    return demo_user_create(username="ada", password=PASSWORD, display_name="Ada Lovelace")
