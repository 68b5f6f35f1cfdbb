"""Each announced outcome becomes a signed webhook, through the real API, to a real loopback receiver.

Ceremonies only log deliveries; `deliveries_send_due` (what beat's deliver_due runs) sends them
here, so every test also shows that nothing was sent while the ceremony ran.
"""

from __future__ import annotations

import base64
import re
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from analytics.services.nudges import nudges_schedule, sign_in_record
from passkeys.models import Credential
from tests.support.authenticator import b64url_encode
from tests.webhooks.receiver import verify
from webhooks.models import Delivery, DeliveryStatus, EventType
from webhooks.sending import deliveries_send_due

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _registered(api, authenticator, user_id: str = "alice") -> str:
    response = api.register(authenticator, user_id)
    assert response.status_code == 201, response.content
    return response.json()["credential"]["id"]


def _send(receiver, expected: int) -> list:
    assert receiver.requests == [], "a ceremony must never send a webhook itself"
    assert deliveries_send_due() == expected
    return receiver.wait_for(expected)


def test_registration_sends_a_signed_passkey_created(api, authenticator, tenant, receiver, endpoint):
    credential_id = _registered(api, authenticator)
    [delivery] = Delivery.objects.all()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)

    [request] = _send(receiver, 1)

    body = verify(endpoint.secret, request.headers, request.body)
    assert request.path == "/hooks"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == delivery.message_id
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "passkey.created"
    assert TIMESTAMP.match(body["timestamp"])
    stored = Credential.objects.get()
    assert body["data"] == {
        "tenant_id": str(tenant.pk),
        "user_id": "alice",
        "credential_id": credential_id,
        "provider": None,
        "name": stored.name,
        "aaguid": "00000000-0000-0000-0000-000000000000",
        "backup_eligible": True,
        "backed_up": True,
        "user_verified": True,
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.SUCCEEDED, 1, 200)


def test_payloads_never_carry_the_public_key_or_the_user_handle(api, authenticator, receiver, endpoint):
    _registered(api, authenticator)
    assert api.login(authenticator, "alice").status_code == 200
    requests = _send(receiver, 2)

    stored = Credential.objects.select_related("user").get()
    secrets = [bytes(stored.public_key), bytes(stored.user.handle)]
    encodings = [encode(s) for s in secrets for encode in (b64url_encode, lambda b: base64.b64encode(b).decode())]
    for request in requests:
        assert not any(value.encode() in request.body for value in encodings)
        assert not any(word in request.body for word in (b"public_key", b"handle", b"secret"))


def test_login_sends_passkey_login_succeeded(api, authenticator, tenant, receiver, endpoint):
    credential_id = _registered(api, authenticator)
    deliveries_send_due()
    receiver.requests.clear()

    assert api.login(authenticator, "alice").status_code == 200
    [request] = _send(receiver, 1)

    body = verify(endpoint.secret, request.headers, request.body)
    assert body["type"] == "passkey.login_succeeded"
    assert body["data"] == {
        "tenant_id": str(tenant.pk),
        "user_id": "alice",
        "credential_id": credential_id,
        "provider": None,
        "user_verified": True,
        "backed_up": True,
        "user_agent": None,
        "ip": None,
    }


def test_failed_login_sends_passkey_login_failed_with_its_code(api, authenticator, tenant, receiver, endpoint):
    credential_id = _registered(api, authenticator)
    Delivery.objects.all().delete()

    options = api.authentication_options("alice")
    assertion = authenticator.get(options, origin="https://example.com", bad_signature=True)
    response = api.post(
        "/v1/authentications/finish", {"credential": assertion, "user_agent": "Mozilla/5.0", "ip": "192.0.2.7"}
    )
    assert response.status_code == 400
    [request] = _send(receiver, 1)

    body = verify(endpoint.secret, request.headers, request.body)
    assert body["type"] == "passkey.login_failed"
    assert body["data"] == {
        "tenant_id": str(tenant.pk),
        "user_id": "alice",
        "credential_id": credential_id,
        "provider": None,
        "code": "signature_invalid",
        "user_agent": "Mozilla/5.0",
        "ip": "192.0.2.7",
    }


def test_sign_count_regression_sends_its_own_event_and_a_login_failure(api, authenticator, receiver, endpoint):
    credential_id = _registered(api, authenticator)
    assert api.login(authenticator, "alice").status_code == 200  # the stored counter is now 1
    Delivery.objects.all().delete()

    options = api.authentication_options("alice")
    assertion = authenticator.get(options, origin="https://example.com", sign_count=1)
    assert api.post("/v1/authentications/finish", {"credential": assertion}).json()["code"] == "sign_count_regression"
    requests = _send(receiver, 2)

    bodies = {r.json()["type"]: verify(endpoint.secret, r.headers, r.body) for r in requests}
    assert set(bodies) == {"passkey.login_failed", "passkey.sign_count_regression"}
    for body in bodies.values():
        assert body["data"]["code"] == "sign_count_regression"
        assert body["data"]["credential_id"] == credential_id
        assert body["data"]["user_id"] == "alice"
    assert requests[0].headers["webhook-id"] != requests[1].headers["webhook-id"]


def test_failed_registration_sends_nothing(api, authenticator, receiver, endpoint):
    options = api.registration_options("alice")
    credential = authenticator.create(options, origin="https://evil.example")
    assert api.post("/v1/registrations/finish", {"credential": credential}).status_code == 400

    assert not Delivery.objects.exists()


def test_credential_delete_sends_passkey_deleted(api, authenticator, tenant, receiver, endpoint):
    credential_id = _registered(api, authenticator)
    Delivery.objects.all().delete()

    assert api.delete(f"/v1/credentials/{credential_id}").status_code == 204
    [request] = _send(receiver, 1)

    body = verify(endpoint.secret, request.headers, request.body)
    assert body["type"] == "passkey.deleted"
    assert body["data"] == {
        "tenant_id": str(tenant.pk),
        "user_id": "alice",
        "credential_id": credential_id,
        "provider": None,
    }


def test_user_delete_sends_user_deleted(api, authenticator, tenant, receiver, endpoint):
    _registered(api, authenticator)
    Delivery.objects.all().delete()

    assert api.delete("/v1/users/alice").status_code == 204
    [request] = _send(receiver, 1)

    body = verify(endpoint.secret, request.headers, request.body)
    assert body["type"] == "user.deleted"
    assert body["data"] == {"tenant_id": str(tenant.pk), "user_id": "alice"}


def test_nudge_sweep_sends_nudge_due(tenant, receiver, endpoint, django_capture_on_commit_callbacks):
    week_ago = timezone.now() - timedelta(days=8)  # a "not ready" sign-in is retried a week later
    sign_in_record(
        tenant=tenant, user_id="bob", method="password", platform_authenticator_available=False, now=week_ago
    )

    # analytics announces nudge_due once its sweep has committed
    with django_capture_on_commit_callbacks(execute=True):
        assert nudges_schedule().due == 1
    [request] = _send(receiver, 1)

    body = verify(endpoint.secret, request.headers, request.body)
    assert body["type"] == "nudge.due"
    assert body["data"] == {"tenant_id": str(tenant.pk), "user_id": "bob"}


def test_unsubscribed_event_types_are_not_sent(api, authenticator, tenant, receiver, make_endpoint):
    created = make_endpoint(tenant, receiver.url(), [EventType.USER_DELETED])
    _registered(api, authenticator)
    assert api.login(authenticator, "alice").status_code == 200
    assert not Delivery.objects.exists()

    assert api.delete("/v1/users/alice").status_code == 204
    [request] = _send(receiver, 1)
    assert verify(created.secret, request.headers, request.body)["type"] == "user.deleted"


def test_disabled_endpoints_get_nothing(api, authenticator, tenant, receiver, make_endpoint):
    make_endpoint(tenant, receiver.url(), enabled=False)
    _registered(api, authenticator)
    assert api.login(authenticator, "alice").status_code == 200

    assert not Delivery.objects.exists()
    assert deliveries_send_due() == 0
    assert receiver.requests == []


def test_an_endpoint_disabled_after_queueing_is_not_sent_to(api, authenticator, receiver, endpoint):
    _registered(api, authenticator)
    endpoint.endpoint.enabled = False
    endpoint.endpoint.save()

    assert deliveries_send_due() == 1
    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 0)
    assert "disabled" in delivery.last_error


def test_another_tenants_endpoint_never_receives_this_tenants_events(
    api, authenticator, tenant, make_tenant, make_api, receiver, other_receiver, endpoint, make_endpoint
):
    other_tenant = make_tenant(name="Other", rp_id="other.example", origins=["https://other.example"])
    other_endpoint = make_endpoint(other_tenant, other_receiver.url())
    cache.clear()  # as 10 s after the changes: their tombstones have gone, the subscriptions cache is used

    _registered(api, authenticator)
    assert api.login(authenticator, "alice").status_code == 200
    assert api.delete("/v1/users/alice").status_code == 204
    # The other tenant's ceremonies run after this tenant's subscriptions were cached.
    other_api, other_authenticator = make_api(other_tenant), type(authenticator)()
    response = other_api.register(other_authenticator, "alice", origin="https://other.example")
    assert response.status_code == 201
    assert deliveries_send_due() == 4

    mine = receiver.wait_for(3)
    assert [r.json()["type"] for r in mine] == ["passkey.created", "passkey.login_succeeded", "user.deleted"]
    assert all(verify(endpoint.secret, r.headers, r.body)["data"]["tenant_id"] == str(tenant.pk) for r in mine)
    [theirs] = other_receiver.wait_for(1)
    body = verify(other_endpoint.secret, theirs.headers, theirs.body)
    assert (body["type"], body["data"]["tenant_id"]) == ("passkey.created", str(other_tenant.pk))
    assert Delivery.objects.filter(endpoint=other_endpoint.endpoint).count() == 1
