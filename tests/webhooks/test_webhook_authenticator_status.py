"""authenticator.status_changed: when an imported FIDO metadata BLOB newly reports a model compromised, each tenant
with credentials of that model gets one signed event listing exactly its own affected credentials (in batches of
500), through the real API and a real loopback receiver. The import only logs the deliveries; `deliveries_send_due`
(what beat's deliver_due runs) sends them.
"""

from __future__ import annotations

import os
import uuid

import pytest

from passkeys.models import Credential, PasskeyUser
from passkeys.services.metadata import metadata_import
from tests.support import mds
from tests.support.authenticator import SoftAuthenticator, b64url_encode
from tests.webhooks.receiver import SignatureError, verify
from webhooks.models import Delivery, EventType
from webhooks.sending import deliveries_send_due

AAGUID = uuid.UUID("2fc0579f-8113-47ea-b116-bb5a8db9202a")
OTHER_AAGUID = uuid.UUID("6d44ba9b-f6ec-2e49-b930-0c8fe920cb73")
STATUS_CHANGED = EventType.AUTHENTICATOR_STATUS_CHANGED



@pytest.fixture
def publish(db, settings, tmp_path):
    """Import a BLOB (newer each call, under a test metadata root) listing `entries`."""
    pki = mds.MdsPki.create()
    root = tmp_path / "mds-root.pem"
    root.write_bytes(pki.root_pem())
    settings.MDS_ROOT_CERT = str(root)
    numbers = iter(range(1, 1000))

    def publish(*entries: dict):
        return metadata_import(pki.blob(mds.payload(next(numbers), list(entries))))

    return publish


def listed(aaguid: uuid.UUID = AAGUID, status: str | None = None, description: str = "Test Key 5") -> dict:
    statuses = [("FIDO_CERTIFIED_L1", "2024-01-15")] + ([(status, "2026-01-10")] if status else [])
    return mds.entry(aaguid, description=description, root_certificates_der=[mds.bulk_root_der()], statuses=statuses)


def registered(api, aaguid: uuid.UUID, user_id: str) -> dict:
    """The {credential_id, user_id} an event would list for a new credential of this model."""
    response = api.register(SoftAuthenticator(aaguid=aaguid.bytes), user_id)
    assert response.status_code == 201, response.content
    return {"credential_id": response.json()["credential"]["id"], "user_id": user_id}


def by_id(credentials: list[dict]) -> list[dict]:
    return sorted(credentials, key=lambda credential: credential["credential_id"])


@pytest.fixture
def second(make_tenant, make_api, make_endpoint, other_receiver):
    """Another tenant (same rp id: tenants are separate even then) with its own endpoint and receiver."""
    tenant = make_tenant(name="Second")
    return make_api(tenant), make_endpoint(tenant, other_receiver.url())


def test_a_compromise_sends_each_tenant_its_own_credentials_signed(
    api, tenant, endpoint, receiver, second, other_receiver, publish
):
    second_api, second_endpoint = second
    mine = [registered(api, AAGUID, "alice"), registered(api, AAGUID, "carol")]
    registered(api, OTHER_AAGUID, "dave")  # another model: never listed
    theirs = [registered(second_api, AAGUID, "bob")]
    publish(listed(AAGUID), listed(OTHER_AAGUID, description="Other Key"))
    Delivery.objects.all().delete()  # the registrations' passkey.created

    publish(listed(AAGUID, "USER_KEY_PHYSICAL_COMPROMISE"), listed(OTHER_AAGUID, description="Other Key"))

    assert list(Delivery.objects.values_list("event_type", flat=True)) == [STATUS_CHANGED, STATUS_CHANGED]
    assert receiver.requests == other_receiver.requests == [], "an import must never send a webhook itself"
    assert deliveries_send_due() == 2
    [request] = receiver.wait_for(1)
    [other_request] = other_receiver.wait_for(1)

    body = verify(endpoint.secret, request.headers, request.body)
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "authenticator.status_changed"
    assert {**body["data"], "credentials": by_id(body["data"]["credentials"])} == {
        "tenant_id": str(tenant.pk),
        "aaguid": str(AAGUID),
        "authenticator_name": "Test Key 5",
        "status": "USER_KEY_PHYSICAL_COMPROMISE",
        "credentials_total": 2,
        "credentials": by_id(mine),
    }
    other_body = verify(second_endpoint.secret, other_request.headers, other_request.body)
    assert other_body["data"] == {
        "tenant_id": str(second_endpoint.endpoint.tenant_id),
        "aaguid": str(AAGUID),
        "authenticator_name": "Test Key 5",
        "status": "USER_KEY_PHYSICAL_COMPROMISE",
        "credentials_total": 1,
        "credentials": theirs,
    }
    with pytest.raises(SignatureError):  # each tenant's event is signed with its own endpoint's secret only
        verify(endpoint.secret, other_request.headers, other_request.body)


def test_no_tenant_hears_of_another_tenants_credentials(api, endpoint, receiver, second, other_receiver, publish):
    second_api, _ = second
    registered(api, AAGUID, "alice")
    registered(second_api, OTHER_AAGUID, "bob")  # the second tenant has none of the compromised model
    publish(listed(AAGUID), listed(OTHER_AAGUID, description="Other Key"))
    Delivery.objects.all().delete()

    publish(listed(AAGUID, "REVOKED"), listed(OTHER_AAGUID, description="Other Key"))

    assert deliveries_send_due() == 1
    [request] = receiver.wait_for(1)
    assert request.json()["data"]["credentials"] == [
        {"credential_id": b64url_encode(bytes(Credential.objects.get(aaguid=AAGUID).credential_id)), "user_id": "alice"}
    ]
    assert other_receiver.requests == []


@pytest.mark.parametrize("status", ["UPDATE_AVAILABLE", "FIDO_CERTIFIED_L2", "NOT_FIDO_CERTIFIED"])
def test_no_event_for_a_status_change_that_is_not_a_compromise(api, endpoint, receiver, publish, status):
    registered(api, AAGUID, "alice")
    Delivery.objects.all().delete()
    publish(listed(AAGUID))  # from no status to FIDO_CERTIFIED_L1: not a compromise either

    publish(listed(AAGUID, status))

    assert Credential.objects.get().authenticator_status == status
    assert not Delivery.objects.exists()
    assert deliveries_send_due() == 0


@pytest.mark.parametrize(
    "status",
    [
        "REVOKED",
        "USER_VERIFICATION_BYPASS",
        "ATTESTATION_KEY_COMPROMISE",
        "USER_KEY_REMOTE_COMPROMISE",
        "USER_KEY_PHYSICAL_COMPROMISE",
    ],
)
def test_every_compromise_status_is_announced(api, endpoint, publish, status):
    credential = registered(api, AAGUID, "alice")
    publish(listed(AAGUID))
    Delivery.objects.all().delete()

    publish(listed(AAGUID, status))

    [delivery] = Delivery.objects.all()
    assert delivery.event_type == STATUS_CHANGED
    assert (delivery.payload["data"]["status"], delivery.payload["data"]["credentials"]) == (status, [credential])


def test_a_compromise_reported_again_is_not_announced_again(api, endpoint, publish):
    registered(api, AAGUID, "alice")
    publish(listed(AAGUID, "REVOKED"))
    assert Delivery.objects.filter(event_type=STATUS_CHANGED).count() == 1

    publish(listed(AAGUID, "REVOKED"))  # the next monthly BLOB still says so

    assert Delivery.objects.filter(event_type=STATUS_CHANGED).count() == 1


def test_an_endpoint_not_subscribed_gets_nothing(api, tenant, make_endpoint, receiver, publish):
    make_endpoint(tenant, receiver.url(), event_types=[EventType.PASSKEY_CREATED])
    registered(api, AAGUID, "alice")
    Delivery.objects.all().delete()

    publish(listed(AAGUID, "REVOKED"))

    assert not Delivery.objects.exists()


def _credentials_without_ceremonies(tenant, count: int) -> list[dict]:
    """`count` stored credentials of the AAGUID model (rows only: no ceremony needed to show batching)."""
    users = PasskeyUser.objects.bulk_create(
        PasskeyUser(tenant=tenant, user_id=f"user-{n}", handle=os.urandom(32)) for n in range(count)
    )
    credentials = Credential.objects.bulk_create(
        Credential(
            tenant=tenant,
            user=user,
            credential_id=os.urandom(16),
            public_key=b"\xa0",
            algorithm=-7,
            aaguid=AAGUID,
            attestation_format="none",
            backup_eligible=True,
            backed_up=True,
            user_verified=True,
        )  # fmt: skip
        for user in users
    )
    return [{"credential_id": b64url_encode(bytes(c.credential_id)), "user_id": c.user.user_id} for c in credentials]


def test_many_credentials_go_out_in_events_of_at_most_500(tenant, endpoint, receiver, publish):
    expected = _credentials_without_ceremonies(tenant, 1001)

    publish(listed(AAGUID, "USER_VERIFICATION_BYPASS"))

    payloads = [d.payload["data"] for d in Delivery.objects.filter(event_type=STATUS_CHANGED)]
    assert sorted(len(p["credentials"]) for p in payloads) == [1, 500, 500]
    assert {p["credentials_total"] for p in payloads} == {1001}
    assert {(p["tenant_id"], p["aaguid"], p["status"]) for p in payloads} == {
        (str(tenant.pk), str(AAGUID), "USER_VERIFICATION_BYPASS")
    }
    sent = [credential for p in payloads for credential in p["credentials"]]
    assert by_id(sent) == by_id(expected)  # every credential once

    assert deliveries_send_due() == 3
    requests = receiver.wait_for(3)
    assert len({request.headers["webhook-id"] for request in requests}) == 3  # three events, not one resent
    for request in requests:
        verify(endpoint.secret, request.headers, request.body)
