"""Tenant isolation in /admin/, through the admin's real URLs, logged in as each role.

Tenant A's members must never see, open, change, delete or act on tenant B's rows, whatever
the model; analysts only read; a staff user without a membership sees nothing; a superuser
sees everything.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.urls import reverse

from analytics.models import Event, NudgePolicy
from analytics.services.events import event_record
from passkeys.models import Credential, PasskeyUser, SigningKey
from passkeys.services import credential_import
from passkeys.tokens import signing_key_rotate
from tenants.models import ApiKey, AuditEntry, Membership, Role, Tenant
from tenants.services import api_key_issue

ORIGIN = "https://example.com"
MODELS = [
    "tenants.tenant",
    "tenants.apikey",
    "tenants.membership",
    "tenants.auditentry",
    "passkeys.passkeyuser",
    "passkeys.credential",
    "passkeys.signingkey",
    "analytics.event",
    "analytics.nudgepolicy",
]


def seed(tenant: Tenant, owner) -> dict[str, object]:
    """One row of every tenant-owned model the admin shows, for `tenant`."""
    credential = credential_import(
        tenant=tenant,
        user_id=f"user-of-{tenant.name}",
        credential_id=os.urandom(16),
        public_key=b"\xa1\x01\x02",
        algorithm=-7,
        aaguid=uuid.uuid4(),
        backup_eligible=False,
        backed_up=False,
        name=f"Passkey of {tenant.name}",
    )
    rows = {
        "tenants.tenant": tenant,
        "tenants.apikey": api_key_issue(tenant=tenant, label=f"key of {tenant.name}").api_key,
        "tenants.membership": Membership.objects.get(user=owner, tenant=tenant),
        "passkeys.passkeyuser": credential.user,
        "passkeys.credential": credential,
        "passkeys.signingkey": signing_key_rotate(tenant=tenant),
        "analytics.event": event_record(tenant=tenant, type="sign_in", user_id=f"user-of-{tenant.name}"),
        "analytics.nudgepolicy": NudgePolicy.objects.get_or_create(tenant=tenant)[0],
    }
    rows["tenants.auditentry"] = AuditEntry.objects.filter(tenant=tenant).latest("occurred_at")
    return rows


def url(model: str, view: str, *args: object) -> str:
    app, name = model.split(".")
    return reverse(f"admin:{app}_{name}_{view}", args=args)


@pytest.fixture
def make_member(db):
    def make(username: str, tenant: Tenant | None = None, role: str = Role.OWNER, **flags):
        user = get_user_model().objects.create_user(username, **{"is_staff": True, **flags})
        if tenant is not None:
            Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


@pytest.fixture
def login():
    def log_in(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return log_in


@pytest.fixture
def world(make_tenant, make_member):
    """Tenants Alpha and Bravo, each with an owner and one row of every model."""
    alpha = make_tenant(name="Alpha Corp", rp_id="alpha.example")
    bravo = make_tenant(name="Bravo Inc", rp_id="bravo.example")
    owner_a = make_member("owner-a", alpha, Role.OWNER)
    owner_b = make_member("owner-b", bravo, Role.OWNER)
    return {
        "alpha": alpha,
        "bravo": bravo,
        "owner_a": owner_a,
        "owner_b": owner_b,
        "a": seed(alpha, owner_a),
        "b": seed(bravo, owner_b),
    }


def listed_pks(response) -> set:
    assert response.status_code == 200, response.status_code
    return {row.pk for row in response.context["cl"].result_list}


# --- reading -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.ANALYST])
def test_changelist_lists_only_the_members_own_tenant(world, make_member, login, model, role):
    client = login(make_member("member-a", world["alpha"], role))

    pks = listed_pks(client.get(url(model, "changelist")))

    assert world["a"][model].pk in pks
    assert world["b"][model].pk not in pks


@pytest.mark.parametrize("model", MODELS)
def test_superuser_sees_every_tenants_rows(world, make_member, login, model):
    client = login(make_member("root", is_superuser=True))

    pks = listed_pks(client.get(url(model, "changelist")))

    assert {world["a"][model].pk, world["b"][model].pk} <= pks


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_opening_another_tenants_object_by_url_is_404(world, login, model, view):
    client = login(world["owner_a"])
    target = url(model, view, world["b"][model].pk)

    assert client.get(target).status_code == 404
    assert client.post(target, {"post": "yes"}).status_code == 404
    assert type(world["b"][model]).objects.filter(pk=world["b"][model].pk).exists()


@pytest.mark.parametrize("model", MODELS)
def test_own_objects_open_for_their_owner(world, login, model):
    response = login(world["owner_a"]).get(url(model, "change", world["a"][model].pk))

    assert response.status_code == 200


def test_search_does_not_reach_another_tenant(world, login):
    response = login(world["owner_a"]).get(url("passkeys.credential", "changelist"), {"q": "Bravo"})

    assert listed_pks(response) == set()


@pytest.mark.parametrize("model", ["tenants.apikey", "passkeys.credential", "analytics.event"])
def test_tenant_filter_offers_only_the_members_tenants(world, login, model):
    response = login(world["owner_a"]).get(url(model, "changelist"))

    assert b"Alpha Corp" in response.content
    assert b"Bravo Inc" not in response.content


def test_staff_without_membership_sees_no_tenant_model(world, make_member, login):
    client = login(make_member("stranger"))

    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert index.context["app_list"] == []
    for model in MODELS:
        assert client.get(url(model, "changelist")).status_code == 403
        assert client.get(url(model, "change", world["a"][model].pk)).status_code in (403, 404)


def test_member_without_staff_status_cannot_log_in_to_the_admin(world, make_member, login):
    client = login(make_member("not-staff", world["alpha"], Role.OWNER, is_staff=False))

    assert client.get(url("tenants.tenant", "changelist")).status_code == 302  # to the login page


# --- analysts read only --------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_analyst_cannot_change_add_or_delete(world, make_member, login, model):
    client = login(make_member("analyst-a", world["alpha"], Role.ANALYST))
    own = world["a"][model]

    change = client.get(url(model, "change", own.pk))
    assert change.status_code == 200
    assert not change.context["has_change_permission"]
    assert client.post(url(model, "change", own.pk), {}).status_code == 403
    assert client.post(url(model, "delete", own.pk), {"post": "yes"}).status_code == 403
    assert client.get(url(model, "add")).status_code == 403
    assert type(own).objects.filter(pk=own.pk).exists()


def test_analyst_actions_do_nothing(world, make_member, login):
    client = login(make_member("analyst-a", world["alpha"], Role.ANALYST))
    key = world["a"]["tenants.apikey"]

    client.post(url("tenants.apikey", "changelist"), {"action": "revoke", "_selected_action": [key.pk]})

    key.refresh_from_db()
    assert key.revoked_at is None


# --- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        ("tenants.apikey", {"label": "smuggled", "scopes": ["ceremonies"]}),
        ("tenants.membership", {"username": "owner-a", "role": Role.ANALYST}),
        ("passkeys.signingkey", {}),
    ],
)
def test_add_with_another_tenants_id_is_refused(world, login, model, fields):
    client = login(world["owner_a"])
    bravo = world["bravo"]
    manager = {"tenants.apikey": ApiKey, "tenants.membership": Membership, "passkeys.signingkey": SigningKey}[model]
    before = manager.objects.filter(tenant=bravo).count()

    form = client.get(url(model, "add")).context["adminform"].form
    response = client.post(url(model, "add"), {"tenant": str(bravo.pk), **fields})

    assert set(form.fields["tenant"].queryset) == {world["alpha"]}
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        assert "tenant" in response.context["adminform"].form.errors
    assert manager.objects.filter(tenant=bravo).count() == before


def test_nudge_policy_add_offers_only_own_tenants(world, login):
    form = login(world["owner_a"]).get(url("analytics.nudgepolicy", "add")).context["adminform"].form

    assert set(form.fields["tenant"].queryset) == {world["alpha"]}


def test_actions_ignore_another_tenants_selected_rows(world, login):
    client = login(world["owner_a"])
    changelist = url("tenants.apikey", "changelist")
    theirs = world["b"]["tenants.apikey"]

    client.post(changelist, {"action": "revoke", "_selected_action": [theirs.pk]})
    client.post(
        url("passkeys.credential", "changelist"),
        {"action": "delete_selected", "_selected_action": [world["b"]["passkeys.credential"].pk], "post": "yes"},
    )
    client.post(
        url("passkeys.signingkey", "changelist"),
        {"action": "rotate", "_selected_action": [world["b"]["passkeys.signingkey"].pk]},
    )

    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert Credential.objects.filter(pk=world["b"]["passkeys.credential"].pk).exists()
    assert SigningKey.objects.filter(tenant=world["bravo"]).count() == 1


def test_actions_act_only_where_the_role_allows_writing(world, make_member, login):
    """Admin of Alpha but analyst of Bravo: both keys are listed, only Alpha's can be revoked."""
    mixed = make_member("mixed", world["alpha"], Role.ADMIN)
    Membership.objects.create(user=mixed, tenant=world["bravo"], role=Role.ANALYST)
    client = login(mixed)
    ours, theirs = world["a"]["tenants.apikey"], world["b"]["tenants.apikey"]
    assert {ours.pk, theirs.pk} <= listed_pks(client.get(url("tenants.apikey", "changelist")))

    client.post(url("tenants.apikey", "changelist"), {"action": "revoke", "_selected_action": [ours.pk, theirs.pk]})

    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.revoked_at is not None
    assert theirs.revoked_at is None


def test_delete_selected_spares_rows_of_a_tenant_where_the_user_only_reads(world, make_member, login):
    mixed = make_member("mixed", world["alpha"], Role.ADMIN)
    Membership.objects.create(user=mixed, tenant=world["bravo"], role=Role.ANALYST)
    ours, theirs = world["a"]["passkeys.credential"], world["b"]["passkeys.credential"]

    login(mixed).post(
        url("passkeys.credential", "changelist"),
        {"action": "delete_selected", "_selected_action": [ours.pk, theirs.pk], "post": "yes"},
    )

    assert not Credential.objects.filter(pk=ours.pk).exists()
    assert Credential.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("model", MODELS)
def test_rows_of_a_tenant_where_the_user_only_reads_stay_read_only(world, make_member, login, model):
    """Admin of Alpha, analyst of Bravo: Bravo's rows open, but cannot be changed or deleted."""
    mixed = make_member("mixed", world["alpha"], Role.ADMIN)
    Membership.objects.create(user=mixed, tenant=world["bravo"], role=Role.ANALYST)
    client = login(mixed)
    theirs = world["b"][model]

    page = client.get(url(model, "change", theirs.pk))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert not page.context["has_delete_permission"]
    assert client.post(url(model, "change", theirs.pk), {}).status_code == 403
    assert client.post(url(model, "delete", theirs.pk), {"post": "yes"}).status_code == 403
    assert type(theirs).objects.filter(pk=theirs.pk).exists()


def test_saving_refuses_a_row_of_a_tenant_the_user_cannot_write(world, make_member):
    """Behind the form's tenant choices: a row pointed at another tenant is never saved."""
    request = RequestFactory().post("/admin/")
    request.user = world["owner_a"]
    key = ApiKey(tenant=world["bravo"], prefix="psk_forged", key_hash="0" * 64, scopes=["ceremonies"])

    with pytest.raises(PermissionDenied):
        admin.site._registry[NudgePolicy].save_model(request, NudgePolicy(tenant=world["bravo"]), None, False)
    with pytest.raises(PermissionDenied):
        admin.site._registry[ApiKey].save_model(request, key, None, False)
    assert not ApiKey.objects.filter(prefix="psk_forged").exists()


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owner_and_admin_delete_their_tenants_credentials(world, make_member, login, role):
    client = login(make_member("writer-a", world["alpha"], role))
    credential = world["a"]["passkeys.credential"]

    response = client.post(url("passkeys.credential", "delete", credential.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Credential.objects.filter(pk=credential.pk).exists()


def test_deleting_a_passkey_user_erases_their_credentials(world, login):
    user = world["a"]["passkeys.passkeyuser"]

    login(world["owner_a"]).post(url("passkeys.passkeyuser", "delete", user.pk), {"post": "yes"})

    assert not PasskeyUser.objects.filter(pk=user.pk).exists()
    assert not Credential.objects.filter(user_id=user.pk).exists()


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_only_a_superuser_creates_or_deletes_tenants(world, make_member, login, role):
    client = login(make_member("writer-a", world["alpha"], role))
    root = login(make_member("root", is_superuser=True))

    assert client.get(url("tenants.tenant", "add")).status_code == 403
    assert client.post(url("tenants.tenant", "delete", world["alpha"].pk), {"post": "yes"}).status_code == 403
    assert root.get(url("tenants.tenant", "add")).status_code == 200
    assert Tenant.objects.filter(pk=world["alpha"].pk).exists()


def test_events_are_never_edited_in_the_admin(world, login):
    client = login(world["owner_a"])
    event = world["a"]["analytics.event"]

    assert client.post(url("analytics.event", "change", event.pk), {"user_id": "forged"}).status_code == 403
    assert Event.objects.get(pk=event.pk).user_id != "forged"


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_signing_key_rotation_from_the_admin(world, make_member, login, role):
    client = login(make_member("writer-a", world["alpha"], role))
    old = world["a"]["passkeys.signingkey"]

    client.post(url("passkeys.signingkey", "changelist"), {"action": "rotate", "_selected_action": [old.pk]})
    client.post(url("passkeys.signingkey", "add"), {"tenant": str(world["alpha"].pk)})

    keys = SigningKey.objects.filter(tenant=world["alpha"])
    assert keys.count() == 3
    assert keys.filter(retired_at__isnull=True).count() == 1
    assert keys.get(pk=old.pk).retired_at is not None
