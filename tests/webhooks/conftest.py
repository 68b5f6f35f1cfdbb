"""Fixtures for the webhook tests: a real loopback receiver, endpoints, and a second tenant."""

from __future__ import annotations

import pytest

from tests.webhooks.receiver import WebhookReceiver
from webhooks.models import EventType
from webhooks.services import CreatedEndpoint, endpoint_create

ALL_EVENTS = list(EventType.values)


@pytest.fixture(autouse=True)
def _short_timeout(settings):
    # A receiver that never answers costs this much per attempt.
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.0


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
def other_receiver():
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
def make_endpoint(db):
    def make(tenant, url: str, event_types: list[str] | None = None, **fields) -> CreatedEndpoint:
        return endpoint_create(tenant=tenant, url=url, event_types=event_types or ALL_EVENTS, **fields)

    return make


@pytest.fixture
def endpoint(tenant, receiver, make_endpoint) -> CreatedEndpoint:
    """The default tenant's endpoint, subscribed to every event type."""
    return make_endpoint(tenant, receiver.url())
