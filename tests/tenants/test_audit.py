"""The audit log: each audited action, from the admin and from the API, records one entry with
the right actor, tenant and IP; the log is tenant-scoped and never editable in the admin."""

from __future__ import annotations

import json
import os
import uuid
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from passkeys.services import credential_import, user_delete
from passkeys.tokens import signing_key_rotate
from tenants.models import ActorType, ApiKey, AuditAction, AuditEntry, Membership, Role
from tenants.services import api_key_issue, api_key_revoke
from tests.support.api import PasskeyApi

MIDDLEWARE = "tenants.middleware.AuditContextMiddleware"
ADMIN_IP, API_IP = "203.0.113.9", "198.51.100.4"


@pytest.fixture(autouse=True)
def _audit_middleware(settings):
    """The audit context comes from this middleware (listed in settings.MIDDLEWARE)."""
    if MIDDLEWARE not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]


@pytest.fixture
def owner(tenant):
    user = get_user_model().objects.create_user("olivia", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=Role.OWNER)
    return user


@pytest.fixture
def admin_client(owner) -> Client:
    client = Client(REMOTE_ADDR=ADMIN_IP)
    client.force_login(owner)
    return client


@pytest.fixture
def api_key(tenant) -> tuple[ApiKey, PasskeyApi]:
    issued = api_key_issue(tenant=tenant, label="backend")
    return issued.api_key, PasskeyApi(APIClient(REMOTE_ADDR=API_IP), issued.secret, tenant)


@pytest.fixture
def credential(tenant):
    return credential_import(
        tenant=tenant,
        user_id="alice",
        credential_id=os.urandom(16),
        public_key=b"\xa1\x01\x02",
        algorithm=-7,
        aaguid=uuid.uuid4(),
        backup_eligible=True,
        backed_up=True,
        name="Alice's phone",
    )


class Recorded:
    """The entries written since it was made; `only(action)` insists there is exactly one."""

    def __init__(self) -> None:
        self.after = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def only(self, action: str) -> AuditEntry:
        entries = list(AuditEntry.objects.filter(id__gt=self.after))
        assert [entry.action for entry in entries] == [action]
        return entries[0]


def assert_by_admin(entry: AuditEntry, owner, tenant) -> None:
    assert (entry.actor_type, entry.actor, entry.actor_user_id) == (ActorType.USER, owner.username, owner.pk)
    assert (entry.tenant_id, entry.tenant_name, entry.ip) == (tenant.pk, tenant.name, ADMIN_IP)


def assert_by_api_key(entry: AuditEntry, key: ApiKey, tenant) -> None:
    assert (entry.actor_type, entry.actor, entry.actor_user_id) == (ActorType.API_KEY, key.prefix, None)
    assert (entry.tenant_id, entry.ip) == (tenant.pk, API_IP)


def admin_url(model: str, view: str, *args: object) -> str:
    return reverse(f"admin:{model.replace('.', '_')}_{view}", args=args)


# --- from the admin ------------------------------------------------------------------------


def test_admin_key_creation_is_recorded_without_the_secret(admin_client, owner, tenant):
    recorded = Recorded()

    page = admin_client.post(
        admin_url("tenants.apikey", "add"), {"tenant": str(tenant.pk), "label": "ci", "scopes": ["ceremonies"]}
    )

    entry = recorded.only(AuditAction.API_KEY_CREATED)
    assert_by_admin(entry, owner, tenant)
    key = ApiKey.objects.get(label="ci")
    assert key.prefix in entry.target
    assert entry.changes["scopes"] == [None, ["ceremonies"]]
    logged = json.dumps([entry.target, entry.changes])
    assert page.context["secret"] not in logged and key.key_hash not in logged


def test_admin_key_revocation_is_recorded(admin_client, owner, tenant, api_key):
    key, _ = api_key
    recorded = Recorded()

    admin_client.post(admin_url("tenants.apikey", "changelist"), {"action": "revoke", "_selected_action": [key.pk]})

    entry = recorded.only(AuditAction.API_KEY_REVOKED)
    assert_by_admin(entry, owner, tenant)
    assert key.prefix in entry.target


def test_revoking_a_revoked_key_records_nothing(tenant, api_key):
    key, _ = api_key
    api_key_revoke(api_key=key)
    recorded = Recorded()

    api_key_revoke(api_key=key)

    assert not AuditEntry.objects.filter(id__gt=recorded.after).exists()


def test_admin_signing_key_rotation_is_recorded(admin_client, owner, tenant):
    old = signing_key_rotate(tenant=tenant)
    recorded = Recorded()

    admin_client.post(
        admin_url("passkeys.signingkey", "changelist"), {"action": "rotate", "_selected_action": [old.pk]}
    )

    entry = recorded.only(AuditAction.SIGNING_KEY_ROTATED)
    assert_by_admin(entry, owner, tenant)
    assert entry.changes["kid"][0] == old.kid and entry.changes["kid"][1] != old.kid


def test_admin_credential_deletion_is_recorded(admin_client, owner, tenant, credential):
    recorded = Recorded()

    admin_client.post(admin_url("passkeys.credential", "delete", credential.pk), {"post": "yes"})

    entry = recorded.only(AuditAction.CREDENTIAL_DELETED)
    assert_by_admin(entry, owner, tenant)
    assert "Alice's phone" in entry.target and "alice" in entry.target


def test_admin_user_deletion_is_recorded(admin_client, owner, tenant, credential):
    recorded = Recorded()

    admin_client.post(admin_url("passkeys.passkeyuser", "delete", credential.user.pk), {"post": "yes"})

    entry = recorded.only(AuditAction.USER_DELETED)
    assert_by_admin(entry, owner, tenant)
    assert entry.target == "User alice" and entry.changes == {"credentials": [1, 0]}


def test_admin_membership_change_is_recorded(admin_client, owner, tenant):
    get_user_model().objects.create_user("newcomer", is_staff=True)
    recorded = Recorded()

    admin_client.post(
        admin_url("tenants.membership", "add"), {"tenant": str(tenant.pk), "username": "newcomer", "role": "analyst"}
    )

    entry = recorded.only(AuditAction.MEMBERSHIP_CREATED)
    assert_by_admin(entry, owner, tenant)
    assert entry.changes == {"role": [None, "analyst"]}


# --- from the API and from the command line ------------------------------------------------


def test_api_credential_deletion_is_recorded_with_the_key_as_actor(tenant, api_key, credential):
    key, api = api_key
    recorded = Recorded()

    credential_id = api.get("/v1/users/alice/credentials").json()["credentials"][0]["id"]
    assert api.delete(f"/v1/credentials/{credential_id}").status_code == 204

    assert_by_api_key(recorded.only(AuditAction.CREDENTIAL_DELETED), key, tenant)


def test_api_user_deletion_is_recorded_with_the_key_as_actor(tenant, api_key, credential):
    key, api = api_key
    recorded = Recorded()

    assert api.delete("/v1/users/alice").status_code == 204

    entry = recorded.only(AuditAction.USER_DELETED)
    assert_by_api_key(entry, key, tenant)
    assert entry.changes == {"credentials": [1, 0]}


def test_first_signing_key_made_during_a_login_is_the_systems_doing(tenant, api_key):
    _, api = api_key
    recorded = Recorded()

    assert api.client.get(f"/v1/tenants/{tenant.pk}/jwks.json").status_code == 200

    entry = recorded.only(AuditAction.SIGNING_KEY_ROTATED)
    assert (entry.actor_type, entry.actor) == (ActorType.SYSTEM, "first signing key")


def test_command_and_service_calls_outside_a_request_are_recorded_as_system(tenant):
    recorded = Recorded()

    call_command("create_api_key", str(tenant.pk), "--label", "ops", stdout=StringIO())

    entry = recorded.only(AuditAction.API_KEY_CREATED)
    assert entry.actor_type == ActorType.SYSTEM and entry.ip is None and entry.actor_user_id is None


def test_a_failed_deletion_records_nothing(tenant, api_key):
    _, api = api_key
    recorded = Recorded()

    assert api.delete("/v1/credentials/AAAA").status_code == 404

    assert not AuditEntry.objects.filter(id__gt=recorded.after).exists()


# --- reading the log in the admin ----------------------------------------------------------


@pytest.fixture
def other_tenants_admin(make_tenant) -> tuple[Client, object]:
    bravo = make_tenant(name="Bravo", rp_id="bravo.example")
    user = get_user_model().objects.create_user("bob", is_staff=True)
    Membership.objects.create(user=user, tenant=bravo, role=Role.OWNER)
    client = Client()
    client.force_login(user)
    return client, bravo


def test_another_tenants_admin_never_sees_the_entries(tenant, other_tenants_admin, credential):
    client, bravo = other_tenants_admin
    user_delete(tenant=tenant, user_id="alice")
    ours = AuditEntry.objects.filter(tenant=tenant)
    assert ours.count() >= 2

    listed = client.get(admin_url("tenants.auditentry", "changelist"))
    shown = {entry.pk for entry in listed.context["cl"].result_list}

    assert shown and not shown & set(ours.values_list("pk", flat=True))
    assert all(AuditEntry.objects.get(pk=pk).tenant_id == bravo.pk for pk in shown)
    for entry in ours:
        assert client.get(admin_url("tenants.auditentry", "change", entry.pk)).status_code == 404
    assert b"alice" not in listed.content


@pytest.mark.parametrize("who", ["owner", "superuser"])
def test_entries_are_never_editable_or_deletable_in_the_admin(tenant, owner, who):
    user = owner if who == "owner" else get_user_model().objects.create_superuser("root", "root@example.com", None)
    client = Client()
    client.force_login(user)
    entry = AuditEntry.objects.filter(tenant=tenant).first()
    changelist = admin_url("tenants.auditentry", "changelist")

    shown = client.get(admin_url("tenants.auditentry", "change", entry.pk))
    assert shown.status_code == 200 and not shown.context["has_change_permission"]
    assert client.post(admin_url("tenants.auditentry", "change", entry.pk), {"actor": "forged"}).status_code == 403
    assert client.post(admin_url("tenants.auditentry", "delete", entry.pk), {"post": "yes"}).status_code == 403
    assert client.get(admin_url("tenants.auditentry", "add")).status_code == 403
    action_form = client.get(changelist).context["action_form"]  # None: no action at all
    assert action_form is None or "delete_selected" not in dict(action_form.fields["action"].choices)
    client.post(changelist, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})
    assert AuditEntry.objects.get(pk=entry.pk).actor == entry.actor


def test_the_log_filters_by_action_actor_and_time(admin_client, tenant, api_key, credential):
    key, api = api_key
    api.delete("/v1/users/alice")
    changelist = admin_url("tenants.auditentry", "changelist")

    by_action = admin_client.get(changelist, {"action": AuditAction.USER_DELETED})
    by_actor = admin_client.get(changelist, {"actor": key.prefix})
    this_year = admin_client.get(changelist, {"occurred_at__year": timezone.now().year})
    long_ago = admin_client.get(changelist, {"occurred_at__year": 2000})

    assert {e.action for e in by_action.context["cl"].result_list} == {AuditAction.USER_DELETED}
    assert {e.actor for e in by_actor.context["cl"].result_list} == {key.prefix}
    assert len(this_year.context["cl"].result_list) == AuditEntry.objects.filter(tenant=tenant).count()
    assert list(long_ago.context["cl"].result_list) == []


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [(0, "192.0.2.66", API_IP), (1, "192.0.2.66, 192.0.2.10", "192.0.2.10"), (1, "", API_IP)],
)
def test_the_ip_is_the_peer_unless_our_own_proxies_forwarded_it(
    tenant, credential, settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    issued = api_key_issue(tenant=tenant)
    client = APIClient(REMOTE_ADDR=API_IP, HTTP_X_FORWARDED_FOR=forwarded)
    recorded = Recorded()

    client.delete("/v1/users/alice", HTTP_AUTHORIZATION=f"Bearer {issued.secret}")

    assert recorded.only(AuditAction.USER_DELETED).ip == expected
