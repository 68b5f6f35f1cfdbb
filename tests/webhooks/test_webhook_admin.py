"""The webhook admin through its real URLs: secrets shown once, tenants kept apart, a read-only delivery log."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tenants.models import Membership, Role
from tests.webhooks.receiver import verify
from webhooks.models import Delivery, DeliveryStatus, Endpoint, EventType
from webhooks.sending import deliveries_send_due
from webhooks.services import events_publish

SECRET = re.compile(r'value="(whsec_[A-Za-z0-9+/=]+)"')
ENDPOINTS = reverse("admin:webhooks_endpoint_changelist")
DELIVERIES = reverse("admin:webhooks_delivery_changelist")


def endpoint_url(view: str, *args) -> str:
    return reverse(f"admin:webhooks_endpoint_{view}", args=args)


def delivery_url(view: str, *args) -> str:
    return reverse(f"admin:webhooks_delivery_{view}", args=args)


@pytest.fixture
def member(db):
    def make(username: str, tenant=None, role: str = Role.ADMIN, **flags) -> Client:
        user = get_user_model().objects.create_user(username, **{"is_staff": True, **flags})
        if tenant is not None:
            Membership.objects.create(user=user, tenant=tenant, role=role)
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def world(tenant, make_tenant, make_endpoint, receiver, other_receiver):
    """This tenant and another, each with an endpoint and one delivery to it."""
    other = make_tenant(name="Other", rp_id="other.example", origins=["https://other.example"])
    mine = make_endpoint(tenant, receiver.url())
    theirs = make_endpoint(other, other_receiver.url())
    events_publish(tenant_id=tenant.pk, events=[(EventType.USER_DELETED, {"tenant_id": str(tenant.pk)})])
    events_publish(tenant_id=other.pk, events=[(EventType.USER_DELETED, {"tenant_id": str(other.pk)})])
    return {
        "tenant": tenant,
        "other": other,
        "mine": mine,
        "theirs": theirs,
        "my_delivery": Delivery.objects.get(endpoint=mine.endpoint),
        "their_delivery": Delivery.objects.get(endpoint=theirs.endpoint),
    }


def actions_offered(response) -> list[str]:
    form = response.context["action_form"]  # None when no action is offered
    return [name for name, _ in form.fields["action"].choices] if form is not None else []


def listed(response) -> set:
    assert response.status_code == 200, response.status_code
    return {row.pk for row in response.context["cl"].result_list}


def test_adding_an_endpoint_shows_its_secret_once_and_it_signs_the_deliveries(tenant, member, receiver):
    client = member("admin-a", tenant)
    assert "whsec_" not in client.get(endpoint_url("add")).content.decode()
    response = client.post(
        endpoint_url("add"),
        {"tenant": tenant.pk, "url": receiver.url(), "event_types": [EventType.USER_DELETED], "enabled": "on"},
    )

    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    [secret] = SECRET.findall(response.content.decode())
    endpoint = Endpoint.objects.get()
    assert (endpoint.tenant, endpoint.event_types) == (tenant, [EventType.USER_DELETED])
    page = client.get(endpoint_url("change", endpoint.pk)).content.decode()
    assert secret not in page and "whsec_" not in page

    events_publish(tenant_id=tenant.pk, events=[(EventType.USER_DELETED, {"user_id": "alice"})])
    deliveries_send_due()
    [request] = receiver.wait_for(1)
    assert verify(secret, request.headers, request.body)["data"] == {"user_id": "alice"}


def test_an_endpoint_cannot_be_added_to_another_tenant_or_with_plain_http(world, member):
    client = member("admin-a", world["tenant"])
    form = {"url": "https://rp.example/hooks", "event_types": list(EventType.values), "enabled": "on"}

    response = client.post(endpoint_url("add"), {**form, "tenant": world["other"].pk})
    assert response.status_code == 200 and response.context["adminform"].form.errors.get("tenant")
    response = client.post(endpoint_url("add"), {**form, "tenant": world["tenant"].pk, "url": "http://rp.example/"})
    assert response.status_code == 200 and response.context["adminform"].form.errors.get("url")
    assert Endpoint.objects.count() == 2


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.ANALYST])
def test_members_see_only_their_tenants_endpoints_and_deliveries(world, member, role):
    client = member("member-a", world["tenant"], role)

    assert listed(client.get(ENDPOINTS)) == {world["mine"].endpoint.pk}
    assert listed(client.get(DELIVERIES)) == {world["my_delivery"].pk}
    assert client.get(endpoint_url("change", world["theirs"].endpoint.pk)).status_code == 404
    assert client.get(endpoint_url("delete", world["theirs"].endpoint.pk)).status_code == 404
    assert client.get(delivery_url("change", world["their_delivery"].pk)).status_code == 404
    assert client.get(delivery_url("change", world["my_delivery"].pk)).status_code == 200


def test_a_superuser_sees_every_tenants_endpoints(world, member):
    client = member("root", is_superuser=True)
    assert listed(client.get(ENDPOINTS)) == {world["mine"].endpoint.pk, world["theirs"].endpoint.pk}


def _analyst_of_the_other_tenant_too(world) -> None:
    """Admin here, analyst there: sees both tenants' rows, may act only on this tenant's."""
    user = get_user_model().objects.get(username="admin-a")
    Membership.objects.create(user=user, tenant=world["other"], role=Role.ANALYST)


def test_rotating_secrets_touches_only_tenants_the_member_administers_and_shows_the_new_secret(world, member, receiver):
    client = member("admin-a", world["tenant"])
    _analyst_of_the_other_tenant_too(world)
    selected = [world["mine"].endpoint.pk, world["theirs"].endpoint.pk]

    response = client.post(ENDPOINTS, {"action": "rotate_secret", "_selected_action": selected})

    assert "redeliver" in actions_offered(client.get(DELIVERIES))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    [new_secret] = SECRET.findall(response.content.decode())
    mine, theirs = Endpoint.objects.get(pk=selected[0]), Endpoint.objects.get(pk=selected[1])
    assert mine.previous_secret_expires_at is not None
    assert theirs.previous_secret_expires_at is None and theirs.secret_rotated_at is None
    deliveries_send_due()
    [request] = receiver.wait_for(1)
    verify(new_secret, request.headers, request.body)
    verify(world["mine"].secret, request.headers, request.body)  # the overlap


def test_analysts_cannot_add_change_or_rotate(world, member):
    client = member("analyst-a", world["tenant"], Role.ANALYST)
    endpoint = world["mine"].endpoint

    assert client.get(endpoint_url("add")).status_code == 403
    response = client.post(endpoint_url("change", endpoint.pk), {"url": "https://evil.example/", "enabled": "on"})
    assert response.status_code == 403
    client.post(ENDPOINTS, {"action": "rotate_secret", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.secret_rotated_at is None and endpoint.url != "https://evil.example/"


def test_the_delivery_log_is_read_only_for_everyone(world, member):
    for client in (member("admin-a", world["tenant"]), member("root", is_superuser=True)):
        delivery = world["my_delivery"]
        assert client.get(delivery_url("add")).status_code == 403
        assert client.post(delivery_url("change", delivery.pk), {"status": "succeeded"}).status_code == 403
        assert client.post(delivery_url("delete", delivery.pk), {"post": "yes"}).status_code == 403
        assert "delete_selected" not in actions_offered(client.get(DELIVERIES))
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING


def test_redelivery_requeues_only_deliveries_of_tenants_the_member_administers(world, member):
    Delivery.objects.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    client = member("admin-a", world["tenant"])
    _analyst_of_the_other_tenant_too(world)
    assert len(listed(client.get(DELIVERIES))) == 2

    response = client.post(
        DELIVERIES,
        {"action": "redeliver", "_selected_action": [world["my_delivery"].pk, world["their_delivery"].pk]},
    )

    assert response.status_code == 302
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses == {world["my_delivery"].pk: DeliveryStatus.PENDING, world["their_delivery"].pk: "failed"}


def test_analysts_cannot_redeliver(world, member):
    Delivery.objects.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    client = member("analyst-a", world["tenant"], Role.ANALYST)

    assert "redeliver" not in actions_offered(client.get(DELIVERIES))
    client.post(DELIVERIES, {"action": "redeliver", "_selected_action": [world["my_delivery"].pk]})
    assert Delivery.objects.get(pk=world["my_delivery"].pk).status == DeliveryStatus.FAILED


def test_deleting_an_endpoint_deletes_its_log_too(world, member):
    client = member("admin-a", world["tenant"])
    endpoint = world["mine"].endpoint

    response = client.post(endpoint_url("delete", endpoint.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    assert not Delivery.objects.filter(pk=world["my_delivery"].pk).exists()
    assert Delivery.objects.filter(pk=world["their_delivery"].pk).exists()
