"""Members in the admin: owners manage their tenant's members; admins cannot grant or touch owner."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tenants.models import Membership, Role

ADD = reverse("admin:tenants_membership_add")
CHANGELIST = reverse("admin:tenants_membership_changelist")


def change_url(membership: Membership) -> str:
    return reverse("admin:tenants_membership_change", args=[membership.pk])


def delete_url(membership: Membership) -> str:
    return reverse("admin:tenants_membership_delete", args=[membership.pk])


@pytest.fixture
def person(db):
    def make(username: str):
        return get_user_model().objects.create_user(username, is_staff=True)

    return make


@pytest.fixture
def member(tenant, person):
    def make(role: str, username: str | None = None) -> tuple[Client, Membership]:
        membership = Membership.objects.create(user=person(username or f"{role}-user"), tenant=tenant, role=role)
        client = Client()
        client.force_login(membership.user)
        return client, membership

    return make


def add(client: Client, tenant, username: str, role: str):
    return client.post(ADD, {"tenant": str(tenant.pk), "username": username, "role": role})


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ANALYST])
def test_admin_adds_members_below_owner(member, person, tenant, role):
    client, _ = member(Role.ADMIN)
    person("newcomer")

    response = add(client, tenant, "newcomer", role)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Membership.objects.get(user__username="newcomer").role == role


def test_admin_cannot_grant_owner(member, person, tenant):
    client, _ = member(Role.ADMIN)
    person("newcomer")

    response = add(client, tenant, "newcomer", Role.OWNER)

    assert response.status_code == 200
    assert "role" in response.context["adminform"].form.errors
    assert not Membership.objects.filter(user__username="newcomer").exists()


def test_admin_cannot_promote_themselves_or_others_to_owner(member, tenant):
    member(Role.OWNER)
    client, mine = member(Role.ADMIN)

    response = client.post(change_url(mine), {"role": Role.OWNER})

    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.role == Role.ADMIN


def test_admin_cannot_change_or_remove_an_owner(member):
    _, owner = member(Role.OWNER)
    member(Role.OWNER, "second-owner")
    client, _ = member(Role.ADMIN)

    assert client.post(change_url(owner), {"role": Role.ANALYST}).status_code == 403
    assert client.post(delete_url(owner), {"post": "yes"}).status_code == 403
    client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [owner.pk], "post": "yes"})
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_owner_grants_owner(member, person, tenant):
    client, _ = member(Role.OWNER)
    person("newcomer")

    assert add(client, tenant, "newcomer", Role.OWNER).status_code == 302
    assert Membership.objects.get(user__username="newcomer").role == Role.OWNER


def test_owner_removes_a_member(member):
    client, _ = member(Role.OWNER)
    _, analyst = member(Role.ANALYST)

    assert client.post(delete_url(analyst), {"post": "yes"}).status_code == 302
    assert not Membership.objects.filter(pk=analyst.pk).exists()


def test_the_last_owner_cannot_be_removed_or_demoted(member):
    client, mine = member(Role.OWNER)

    assert client.post(delete_url(mine), {"post": "yes"}).status_code == 403
    demoted = client.post(change_url(mine), {"role": Role.ADMIN})
    assert demoted.status_code == 200 and "role" in demoted.context["adminform"].form.errors
    mine.refresh_from_db()
    assert mine.role == Role.OWNER


def test_analyst_cannot_add_members(member, person, tenant):
    client, _ = member(Role.ANALYST)
    person("newcomer")

    assert add(client, tenant, "newcomer", Role.ANALYST).status_code == 403
    assert not Membership.objects.filter(user__username="newcomer").exists()


def test_adding_names_a_person_by_username_without_listing_every_account(member, person, tenant):
    client, _ = member(Role.OWNER)
    person("someone-of-another-tenant")

    page = client.get(ADD)
    unknown = add(client, tenant, "nobody", Role.ANALYST)
    twice = add(client, tenant, "owner-user", Role.ANALYST)

    assert b"someone-of-another-tenant" not in page.content
    assert "username" in unknown.context["adminform"].form.errors
    assert "username" in twice.context["adminform"].form.errors


def test_owner_elsewhere_still_cannot_grant_owner_where_only_admin(member, person, tenant, make_tenant):
    """Owner of Bravo, admin of this tenant: the owner choice is offered, yet refused here."""
    client, mine = member(Role.ADMIN)
    Membership.objects.create(user=mine.user, tenant=make_tenant(name="Bravo", rp_id="bravo.example"), role=Role.OWNER)
    person("newcomer")

    response = add(client, tenant, "newcomer", Role.OWNER)

    assert response.status_code == 200
    assert "role" in response.context["adminform"].form.errors
    assert not Membership.objects.filter(user__username="newcomer").exists()
