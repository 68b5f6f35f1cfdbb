"""Fixtures shared by the whole suite: tenants, API keys, the API client, the soft authenticator;
and, for tests with a `browser`, a screenshot and the console log when they fail."""

from __future__ import annotations

import re

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from passkeys.services import metadata as metadata_service
from tenants.caching import web_origins
from tenants.services import api_key_issue, tenant_create
from tests.support.api import PasskeyApi
from tests.support.authenticator import SoftAuthenticator
from tests.support.browser import chromium_version, console_log, screenshot

ORIGIN = "https://example.com"


def pytest_report_header(config) -> str:
    return f"browser tests: {chromium_version()}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    driver = getattr(item, "funcargs", {}).get("browser")
    if report.failed and report.when == "call" and driver is not None:
        try:
            shot = str(screenshot(driver, "failures/" + re.sub(r"[^\w.-]+", "_", item.name)))
        except Exception as error:  # a dead browser must not hide the test's own failure
            shot = f"none ({error!r})"
        lines = [f"{entry['level']}: {entry['message']}" for entry in console_log(driver)] or ["(empty)"]
        report.sections.append(("browser", f"Screenshot: {shot}\nConsole log:\n  " + "\n  ".join(lines)))
    return report


@pytest.fixture(autouse=True)
def _fresh_redis():
    """Each test starts with an empty Redis database (challenges, cached keys)."""
    if settings.REDIS_URL:
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
    yield


@pytest.fixture(autouse=True)
def _fresh_metadata_cache(monkeypatch):
    """A new per-process FIDO metadata cache: the shared one may still hold a BLOB an earlier test imported (rolled
    back since) for up to METADATA_RECHECK_SECONDS, and a test without a BLOB would see it."""
    monkeypatch.setattr(metadata_service, "_cache", metadata_service._MetadataCache())


@pytest.fixture(autouse=True)
def _fresh_web_origins():
    """The per-process map of tenants' web origins may hold tenants of an earlier test, rolled back since."""
    web_origins.forget()


@pytest.fixture
def make_tenant(db):
    def make(name: str = "Example", rp_id: str = "example.com", origins: list[str] | None = None, **fields):
        tenant = tenant_create(name=name, rp_id=rp_id, origins=origins or [ORIGIN])
        if fields:
            for field, value in fields.items():
                setattr(tenant, field, value)
            tenant.save()
        return tenant

    return make


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


@pytest.fixture
def make_api(db):
    def make(tenant, scopes: list[str] | None = None) -> PasskeyApi:
        issued = api_key_issue(tenant=tenant, scopes=scopes)
        return PasskeyApi(APIClient(), issued.secret, tenant)

    return make


@pytest.fixture
def api(make_api, tenant) -> PasskeyApi:
    return make_api(tenant)


@pytest.fixture
def redis_round_trips(monkeypatch) -> list[bytes]:
    """What redis-py sends to the server from now on, one entry per send: a command or a whole pipeline, each one
    round trip. The server is the real one; this only watches."""
    sent: list[bytes] = []
    send = redis.connection.AbstractConnection.send_packed_command

    def watched(connection, command, check_health=True):
        sent.append(command if isinstance(command, bytes) else b"".join(command))
        return send(connection, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", watched)
    return sent


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator()


@pytest.fixture
def demo_api(live_server, settings, make_tenant, make_api) -> PasskeyApi:
    """The demo site's tenant (rp id localhost, the live server's origin) and its /v1 API; the demo is
    configured with its key and the live server's address, and rate limits stay out of the way."""
    tenant = make_tenant(name="Demo", rp_id="localhost", origins=[live_server.url], rp_name="Passkey demo")
    api = make_api(tenant)
    settings.DEMO_API_KEY, settings.DEMO_TENANT_ID, settings.DEMO_RP_ID = api.key, str(tenant.pk), "localhost"
    settings.DEMO_API_URL, settings.SERVICE_URL = live_server.url, ""
    settings.RATE_LIMIT_LOGIN_PER_IP = settings.DEMO_PASSKEY_RATE_LIMIT_PER_IP = 10_000
    return api
