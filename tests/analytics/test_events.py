"""Ceremonies record their events through the passkeys seam; recording is cheap; erasure reaches them."""

from __future__ import annotations

import uuid

import pytest

from analytics.models import Event, EventType, KnownUser, Nudge, NudgeSchedule
from analytics.services.events import event_record
from analytics.services.metrics import adoption_metrics_compute
from tests.support.authenticator import SoftAuthenticator, b64url_decode

ORIGIN = "https://example.com"
IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
APPLE = uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")  # "Apple Passwords" in the AAGUID list
FIELDS = ("type", "user_id", "code", "os_family", "browser_family", "provider")


def events(tenant) -> list[tuple]:
    return list(Event.objects.filter(tenant=tenant).order_by("pk").values_list(*FIELDS))


@pytest.fixture
def apple() -> SoftAuthenticator:
    return SoftAuthenticator(aaguid=APPLE.bytes)


@pytest.fixture
def registered(api, apple) -> bytes:
    """Alice's passkey, registered from an iPhone; returns its credential id."""
    response = api.register(apple, "alice", finish={"user_agent": IOS})
    assert response.status_code == 201, response.content
    return b64url_decode(response.json()["credential"]["id"])


def login_finish(api, authenticator, user_agent: str = WINDOWS, **knobs):
    assertion = authenticator.get(api.authentication_options("alice"), origin=ORIGIN, **knobs)
    return api.post("/v1/authentications/finish", {"credential": assertion, "user_agent": user_agent})


def test_registration_records_started_and_succeeded_with_client_and_provider(api, registered):
    assert events(api.tenant) == [
        ("registration.started", "alice", "", "", "", ""),
        ("registration.succeeded", "alice", "", "iOS", "Mobile Safari", "Apple Passwords"),
    ]
    succeeded = Event.objects.get(type=EventType.REGISTRATION_SUCCEEDED)
    assert bytes(succeeded.credential_id) == registered


def test_login_records_started_and_succeeded_with_client_and_provider(api, apple, registered):
    assert login_finish(api, apple).status_code == 200
    assert events(api.tenant)[2:] == [
        ("authentication.started", "alice", "", "", "", ""),
        ("authentication.succeeded", "alice", "", "Windows", "Chrome", "Apple Passwords"),
    ]
    assert bytes(Event.objects.get(type=EventType.AUTHENTICATION_SUCCEEDED).credential_id) == registered


def test_discoverable_login_start_has_no_user_until_it_succeeds(api, apple, registered):
    assertion = apple.get(api.authentication_options(), origin=ORIGIN)
    assert api.post("/v1/authentications/finish", {"credential": assertion}).status_code == 200
    assert [row[:2] for row in events(api.tenant)[2:]] == [
        ("authentication.started", ""),
        ("authentication.succeeded", "alice"),
    ]


def test_failed_login_records_its_code_user_and_provider(api, apple, registered):
    response = login_finish(api, apple, bad_signature=True)
    assert response.json()["code"] == "signature_invalid"
    assert events(api.tenant)[-1] == (
        "authentication.failed",
        "alice",
        "signature_invalid",
        "Windows",
        "Chrome",
        "Apple Passwords",
    )


def test_failed_registration_records_its_code(api, authenticator):
    response = api.post(
        "/v1/registrations/finish",
        {
            "credential": authenticator.create(api.registration_options("bob"), origin="https://evil.example.net"),
            "user_agent": IOS,
        },
    )
    assert response.json()["code"] == "origin_not_allowed"
    failed = Event.objects.get(tenant=api.tenant, type=EventType.REGISTRATION_FAILED)
    assert (failed.code, failed.os_family, failed.browser_family) == ("origin_not_allowed", "iOS", "Mobile Safari")
    assert not Event.objects.filter(type=EventType.REGISTRATION_SUCCEEDED).exists()


def test_unknown_user_agent_records_empty_families(tenant):
    event = event_record(tenant=tenant, type=EventType.SIGN_IN, user_id="alice", user_agent="zq8 nonsense")
    assert (event.os_family, event.browser_family) == ("", "")


def test_recording_an_event_costs_exactly_one_insert(tenant, django_assert_num_queries):
    event_record(tenant=tenant, type=EventType.SIGN_IN, user_id="warm", user_agent=IOS)  # parser cache warm
    with django_assert_num_queries(1) as captured:
        event_record(
            tenant=tenant,
            type=EventType.AUTHENTICATION_SUCCEEDED,
            user_id="alice",
            user_agent=WINDOWS,
            provider="Apple Passwords",
            credential_id=b"\x01" * 32,
            nudge_id=uuid.uuid4(),
        )
    assert captured.captured_queries[0]["sql"].startswith('INSERT INTO "analytics_event"')


# Erasure


@pytest.fixture
def analytics_of_alice_and_bob(api, make_tenant, make_api, registered):
    """Alice (her Apple passkey does not count on Windows) and Bob signed in on Windows and were nudged;
    another tenant knows an "alice" too."""
    for user_id in ("alice", "bob"):
        body = {"user_id": user_id, "method": "password", "user_agent": WINDOWS}
        assert api.post("/v1/sign-ins", {**body, "platform_authenticator_available": True}).status_code == 201
    other = make_tenant(name="Other", rp_id="other.example.org", origins=["https://other.example.org"])
    make_api(other).post(
        "/v1/sign-ins",
        {"user_id": "alice", "method": "password", "user_agent": IOS, "platform_authenticator_available": True},
    )
    for tenant in (api.tenant, other):
        adoption_metrics_compute(tenant=tenant, day=Event.objects.latest("occurred_at").occurred_at.date())
    return other


def held_about(tenant, user_id: str) -> dict[str, int]:
    return {
        "events": Event.objects.filter(tenant=tenant, user_id=user_id).count(),
        "nudges": Nudge.objects.filter(tenant=tenant, user_id=user_id).count(),
        "schedules": NudgeSchedule.objects.filter(tenant=tenant, user_id=user_id).count(),
        "known": KnownUser.objects.filter(tenant=tenant, user_id=user_id).count(),
    }


def test_erasing_a_user_erases_their_events_nudges_and_schedule(api, analytics_of_alice_and_bob):
    assert all(held_about(api.tenant, "alice").values())
    response = api.delete("/v1/users/alice")
    assert response.status_code == 204
    assert held_about(api.tenant, "alice") == {"events": 0, "nudges": 0, "schedules": 0, "known": 0}


def test_erasing_a_user_keeps_other_users_and_other_tenants(api, analytics_of_alice_and_bob):
    other = analytics_of_alice_and_bob
    bob, theirs = held_about(api.tenant, "bob"), held_about(other, "alice")
    assert api.delete("/v1/users/alice").status_code == 204
    assert held_about(api.tenant, "bob") == bob
    assert held_about(other, "alice") == theirs
    assert all(theirs.values())
