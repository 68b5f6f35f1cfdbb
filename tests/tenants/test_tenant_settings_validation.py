"""Tenant settings cannot break the service: one check (tenants/validation.py) refuses every invalid
setting in the service, the admin and create_tenant alike, and keeps rate limits inside the operator's bounds."""

from __future__ import annotations

import datetime
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from tenants.models import AuditEntry, Membership, Role, Tenant
from tenants.services import tenant_create, tenant_update
from tenants.validation import TenantSettingsInvalid, tenant_settings_validate
from tests.tenants.test_admin_tenant_settings import form_data, settings_url

VECTORS = Path(__file__).resolve().parent.parent / "passkeys" / "vectors"
YUBICO_ROOT = (VECTORS / "yubico_u2f_root_ca_457200631.pem").read_text()
APPLE_ROOT = (VECTORS / "apple_webauthn_root_ca.pem").read_text()
YUBIKEY = "cb69481e-8ff7-4039-93ec-0a2729a154a8"


def certificate_pem(*, ca: bool | None = True, expired: bool = False) -> str:
    """A self-signed P-256 certificate: a CA (ca=True), a leaf (False) or one without basicConstraints (None)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA" if ca else "Test leaf")])
    now = datetime.datetime.now(datetime.UTC)
    start, end = (now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)) if expired else (
        now - datetime.timedelta(days=1), now + datetime.timedelta(days=365))  # fmt: skip
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def private_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


BROKEN_PEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"

# (field, value as the services take it). Each is refused everywhere; `field` is the one named.
INVALID: list[tuple[str, Any]] = [
    ("rp_id", "https://example.com"),
    ("rp_id", "example.com:443"),
    ("rp_id", "exa mple.com"),
    ("rp_id", "-example.com"),
    ("rp_id", "127.0.0.1"),
    ("rp_id", ""),
    ("origins", []),
    ("origins", ["http://example.com"]),
    ("origins", ["https://example.com/path"]),
    ("origins", ["https://example.com:99999"]),
    ("origins", ["ftp://example.com"]),
    ("origins", ["https://exa mple.com"]),
    ("origins", ["https://10.0.0.1"]),
    ("origins", ["android:apk-key-hash:"]),
    ("origins", ["android:apk-key-hash:not base64!"]),
    ("attestation_roots", "not a certificate"),
    ("attestation_roots", BROKEN_PEM),
    ("attestation_roots", "leaf"),  # made per test below: a certificate that is not a CA
    ("attestation_roots", "no-constraints"),
    ("attestation_roots", "expired"),
    ("attestation_roots", "private-key"),
    ("algorithms", []),
    ("algorithms", ["x"]),
    ("algorithms", [-7, -7]),
    ("algorithms", [-999]),
    ("algorithms", [True]),
    ("algorithms", [-7.0]),  # equal to -7, but the ceremonies keep integers only: it would widen the policy
    ("algorithms", [[-7]]),
    ("algorithms", [{"alg": -7}]),
    ("algorithms", "ES256"),
    ("challenge_timeout", 5),
    ("challenge_timeout", 3601),
    ("user_verification", "sometimes"),
    ("resident_key", "maybe"),
    ("attestation", "all"),
    ("allowed_aaguids", ["not-a-uuid"]),
    ("rate_limit_per_key", 0),
    ("rate_limit_per_key", 10**9),
    ("rate_limit_per_user", 0),
    ("rate_limit_per_user", 10**6),
    ("event_retention_days", 0),
    ("event_retention_days", 100_000),
]


def realised(field: str, value: Any) -> Any:
    """Certificates are made fresh (an expired one must be expired now)."""
    if field != "attestation_roots":
        return value
    made = {
        "leaf": lambda: certificate_pem(ca=False),
        "no-constraints": lambda: certificate_pem(ca=None),
        "expired": lambda: certificate_pem(expired=True),
        "private-key": lambda: YUBICO_ROOT + private_key_pem(),
    }
    return made[value]() if value in made else value


def case_id(case: tuple[str, Any]) -> str:
    return f"{case[0]}={str(case[1])[:24]}"


VALID = {
    "name": "Acme",
    "rp_id": "Acme.Example",
    "rp_name": "Acme sign-in",
    "origins": ["https://acme.example", "https://LOGIN.acme.example:443", "android:apk-key-hash:" + "A" * 43],
    "allow_cross_origin": True,
    "top_origins": ["https://portal.example"],
    "user_verification": "required",
    "resident_key": "preferred",
    "attestation": "direct",
    "attestation_roots": YUBICO_ROOT + APPLE_ROOT,
    "algorithms": [-7, -257],
    "challenge_timeout": 120,
    "allowed_aaguids": [YUBIKEY.upper(), YUBIKEY],
    "rate_limit_per_key": 600,
    "rate_limit_per_user": 20,
    "event_retention_days": 30,
}


# --- the service --------------------------------------------------------------------------


def test_a_valid_tenant_is_created_with_normalised_settings(db):
    fields = {key: value for key, value in VALID.items() if key not in ("name", "rp_id", "origins", "rp_name")}
    tenant = tenant_create(name="Acme", rp_id=VALID["rp_id"], origins=VALID["origins"], rp_name="Acme", **fields)

    tenant.refresh_from_db()
    assert tenant.rp_id == "acme.example"
    assert tenant.origins == ["https://acme.example", "https://login.acme.example", VALID["origins"][2]]
    assert tenant.allowed_aaguids == [YUBIKEY]
    assert tenant.algorithms == [-7, -257] and tenant.top_origins == ["https://portal.example"]
    assert len(x509.load_pem_x509_certificates(tenant.attestation_roots.encode())) == 2


@pytest.mark.parametrize("case", INVALID, ids=case_id)
def test_the_service_refuses_each_invalid_setting_and_stores_nothing(db, case):
    field, value = case
    values = {**VALID, field: realised(field, value)}

    with pytest.raises(TenantSettingsInvalid) as refused:
        tenant_settings_validate(values)
    with pytest.raises(TenantSettingsInvalid):
        tenant_create(**{"name": "Acme", "rp_id": "acme.example", "origins": ["https://acme.example"],
                         field: values[field]})  # fmt: skip

    assert field in refused.value.errors and field in refused.value.detail
    assert refused.value.code == "validation_error" and refused.value.status == 400
    assert not Tenant.objects.exists()


@pytest.mark.parametrize("case", INVALID, ids=case_id)
def test_tenant_update_refuses_each_invalid_setting_and_changes_nothing(tenant, case):
    field, value = case
    before = {field: getattr(Tenant.objects.get(pk=tenant.pk), field)}

    with pytest.raises(TenantSettingsInvalid) as refused:
        tenant_update(tenant=tenant, **{field: realised(field, value)})

    assert field in refused.value.errors
    assert getattr(Tenant.objects.get(pk=tenant.pk), field) == before[field]


def test_cross_origin_needs_its_top_origins_listed(tenant):
    with pytest.raises(TenantSettingsInvalid) as refused:
        tenant_update(tenant=tenant, allow_cross_origin=True)

    assert list(refused.value.errors) == ["top_origins"]
    tenant_update(tenant=tenant, allow_cross_origin=True, top_origins=["https://portal.example"])
    assert Tenant.objects.get(pk=tenant.pk).allow_cross_origin


def test_top_origins_are_web_origins_only(tenant):
    with pytest.raises(TenantSettingsInvalid) as refused:
        tenant_update(tenant=tenant, allow_cross_origin=True, top_origins=["android:apk-key-hash:" + "A" * 43])
    assert list(refused.value.errors) == ["top_origins"]


def test_every_refused_field_is_named_at_once(db):
    with pytest.raises(TenantSettingsInvalid) as refused:
        tenant_settings_validate({**VALID, "algorithms": [], "rp_id": "https://x", "rate_limit_per_key": 0})
    assert set(refused.value.errors) == {"algorithms", "rp_id", "rate_limit_per_key"}


def test_tenant_update_is_audited_with_old_and_new_values(tenant):
    tenant_update(tenant=tenant, algorithms=[-7], rate_limit_per_user=10)

    entry = AuditEntry.objects.get(tenant=tenant, action="tenant.updated")
    assert entry.changes == {"algorithms": [[-8, -7, -257], [-7]], "rate_limit_per_user": [30, 10]}


# --- operator bounds on the rate limits ---------------------------------------------------


def test_default_bounds_refuse_switching_a_rate_limit_off(tenant):
    for field in ("rate_limit_per_key", "rate_limit_per_user"):
        with pytest.raises(TenantSettingsInvalid) as refused:
            tenant_update(tenant=tenant, **{field: 0})
        assert "turns the limit off" in refused.value.errors[field][0]


def test_operator_bounds_are_enforced_at_their_edges(tenant, settings):
    settings.RATE_LIMIT_PER_KEY_MIN, settings.RATE_LIMIT_PER_KEY_MAX = 100, 1000
    settings.RATE_LIMIT_PER_USER_MIN, settings.RATE_LIMIT_PER_USER_MAX = 5, 50

    for field, low, high in (("rate_limit_per_key", 100, 1000), ("rate_limit_per_user", 5, 50)):
        for refused in (low - 1, high + 1):
            with pytest.raises(TenantSettingsInvalid):
                tenant_update(tenant=tenant, **{field: refused})
        tenant_update(tenant=tenant, **{field: low})
        tenant_update(tenant=tenant, **{field: high})
        assert getattr(Tenant.objects.get(pk=tenant.pk), field) == high


def test_an_operator_may_allow_rate_limits_off(tenant, settings):
    settings.RATE_LIMIT_PER_KEY_MIN = settings.RATE_LIMIT_PER_USER_MIN = 0

    tenant_update(tenant=tenant, rate_limit_per_key=0, rate_limit_per_user=0)

    tenant.refresh_from_db()
    assert (tenant.rate_limit_per_key, tenant.rate_limit_per_user) == (0, 0)


# --- the admin ----------------------------------------------------------------------------


@pytest.fixture
def owner(tenant) -> Client:
    user = get_user_model().objects.create_user("owner-user", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=Role.OWNER)
    client = Client()
    client.force_login(user)
    return client


def as_form_value(field: str, value: Any) -> Any:
    if field in ("origins", "top_origins", "allowed_aaguids"):
        return "\n".join(value)
    if field == "algorithms":
        return json.dumps(value)
    return value


def admin_save(client: Client, tenant: Tenant, **changes: Any):
    data = form_data(client.get(settings_url(tenant)))
    for field, value in changes.items():
        if field == "allow_cross_origin":
            data.pop(field, None)
            if value:
                data[field] = "on"
        else:
            data[field] = as_form_value(field, value)
    return client.post(settings_url(tenant), data)


@pytest.mark.parametrize("case", INVALID, ids=case_id)
def test_the_admin_refuses_each_invalid_setting(owner, tenant, case):
    field, value = case
    before = Tenant.objects.filter(pk=tenant.pk).values().get()

    response = admin_save(owner, tenant, **{field: realised(field, value)})

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Tenant.objects.filter(pk=tenant.pk).values().get() == before


def test_the_admin_refuses_cross_origin_without_top_origins(owner, tenant):
    response = admin_save(owner, tenant, allow_cross_origin=True, top_origins=[])

    assert response.status_code == 200
    assert "top_origins" in response.context["adminform"].form.errors
    assert not Tenant.objects.get(pk=tenant.pk).allow_cross_origin


def test_the_admin_saves_a_valid_tenant_normalised(owner, tenant):
    changes = {key: value for key, value in VALID.items() if key != "name"}

    response = admin_save(owner, tenant, **changes)

    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant.refresh_from_db()
    assert (tenant.rp_id, tenant.allowed_aaguids, tenant.algorithms) == ("acme.example", [YUBIKEY], [-7, -257])
    assert tenant.origins[1] == "https://login.acme.example"
    assert tenant.allow_cross_origin and tenant.top_origins == ["https://portal.example"]


def test_the_admin_applies_the_operator_bounds(owner, tenant, settings):
    settings.RATE_LIMIT_PER_USER_MAX = 50

    refused = admin_save(owner, tenant, rate_limit_per_user="51")
    saved = admin_save(owner, tenant, rate_limit_per_user="50")

    assert "rate_limit_per_user" in refused.context["adminform"].form.errors
    assert saved.status_code == 302
    assert Tenant.objects.get(pk=tenant.pk).rate_limit_per_user == 50


def test_a_bad_value_written_around_validation_is_reported_at_the_next_save(owner, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(attestation_roots=BROKEN_PEM)  # e.g. a script's queryset.update

    response = admin_save(owner, tenant, challenge_timeout="120")

    assert "attestation_roots" in response.context["adminform"].form.errors
    assert Tenant.objects.get(pk=tenant.pk).challenge_timeout == 300


def test_the_superusers_add_form_refuses_invalid_settings(db):
    root = get_user_model().objects.create_superuser("root", "root@example.com", None)
    client = Client()
    client.force_login(root)
    data = form_data(client.get(reverse("admin:tenants_tenant_add")))
    data.update(name="Delta", rp_name="Delta", rp_id="delta.example", origins="https://delta.example",
                algorithms="[]")  # fmt: skip

    response = client.post(reverse("admin:tenants_tenant_add"), data)

    assert "algorithms" in response.context["adminform"].form.errors
    assert not Tenant.objects.filter(rp_id="delta.example").exists()


# --- create_tenant ------------------------------------------------------------------------


def command_flags(field: str, value: Any, tmp_path: Path) -> list[str]:
    if field == "attestation_roots":
        pem = tmp_path / "roots.pem"
        pem.write_text(value)
        return ["--attestation-roots", str(pem)]
    if field in ("origins", "top_origins", "allowed_aaguids", "algorithms"):
        if not isinstance(value, list):
            value = [value]
        flag = {"origins": "--origin", "top_origins": "--top-origin", "allowed_aaguids": "--allowed-aaguid",
                "algorithms": "--algorithm"}[field]  # fmt: skip
        return [part for item in value for part in (flag, str(item))]
    return [f"--{field.replace('_', '-')}", str(value)]


def create_tenant(*flags: str) -> dict:
    out = StringIO()
    call_command("create_tenant", "Acme", *flags, stdout=out)
    return json.loads(out.getvalue())


# The command cannot say some of these at all (an empty list, a bool, a string where a list goes);
# those stay with the service's tests above.
COMMAND_INVALID = [
    case for case in INVALID
    if case[1] != [] and case[1] != [True] and case[1] != "ES256" and case[0] != "rp_id"
]  # fmt: skip


@pytest.mark.parametrize("case", COMMAND_INVALID, ids=case_id)
def test_create_tenant_refuses_each_invalid_setting_with_a_clear_message(db, tmp_path, case):
    field, value = case
    flags = command_flags(field, realised(field, value), tmp_path)
    if field != "origins":
        flags += ["--origin", "https://acme.example"]

    with pytest.raises(CommandError) as refused:
        create_tenant("--rp-id", "acme.example", *flags)

    assert field in str(refused.value) or "invalid int value" in str(refused.value)
    assert not Tenant.objects.exists()


@pytest.mark.parametrize("rp_id", ["https://acme.example", "acme.example:443", "127.0.0.1", "acme-.example"])
def test_create_tenant_refuses_an_invalid_rp_id(db, rp_id):
    with pytest.raises(CommandError, match="rp_id"):
        create_tenant(f"--rp-id={rp_id}", "--origin", "https://acme.example")
    assert not Tenant.objects.exists()


def test_create_tenant_refuses_cross_origin_without_top_origins(db):
    with pytest.raises(CommandError, match="top_origins"):
        create_tenant("--rp-id", "acme.example", "--origin", "https://acme.example", "--allow-cross-origin")
    assert not Tenant.objects.exists()


def test_create_tenant_refuses_a_rate_limit_past_the_operator_bound(db, settings):
    settings.RATE_LIMIT_PER_KEY_MAX = 1000
    with pytest.raises(CommandError, match="rate_limit_per_key: Between 1 and 1000"):
        create_tenant("--rp-id", "acme.example", "--origin", "https://acme.example", "--rate-limit-per-key", "1001")


def test_create_tenant_sets_every_valid_setting(db, tmp_path):
    roots = tmp_path / "roots.pem"
    roots.write_text(YUBICO_ROOT)
    printed = create_tenant(
        "--rp-id", "acme.example", "--origin", "https://acme.example",
        "--allow-cross-origin", "--top-origin", "https://portal.example",
        "--algorithm", "-7", "--algorithm", "-8", "--attestation-roots", str(roots),
        "--allowed-aaguid", YUBIKEY, "--user-verification", "required", "--resident-key", "preferred",
        "--attestation", "direct", "--rate-limit-per-key", "600", "--rate-limit-per-user", "10",
        "--event-retention-days", "90",
    )  # fmt: skip

    tenant = Tenant.objects.get(pk=printed["tenant_id"])
    assert tenant.allow_cross_origin and tenant.top_origins == ["https://portal.example"]
    assert (tenant.algorithms, tenant.allowed_aaguids, tenant.attestation) == ([-7, -8], [YUBIKEY], "direct")
    assert (tenant.user_verification, tenant.resident_key) == ("required", "preferred")
    assert (tenant.rate_limit_per_key, tenant.rate_limit_per_user, tenant.event_retention_days) == (600, 10, 90)
    assert tenant.attestation_roots.strip() == YUBICO_ROOT.strip()


def test_create_tenant_names_an_unreadable_roots_file(db, tmp_path):
    with pytest.raises(CommandError, match="attestation-roots"):
        create_tenant("--rp-id", "acme.example", "--origin", "https://acme.example",
                      "--attestation-roots", str(tmp_path / "missing.pem"))  # fmt: skip


@pytest.mark.parametrize("value", ["no", 0, None])
def test_automatic_upgrades_must_be_a_boolean(tenant, value):
    with pytest.raises(TenantSettingsInvalid) as refused:
        tenant_update(tenant=tenant, automatic_upgrades=value)

    assert "automatic_upgrades" in refused.value.errors
    assert Tenant.objects.get(pk=tenant.pk).automatic_upgrades is True


def test_the_admin_turns_automatic_upgrades_off(owner, tenant):
    data = form_data(owner.get(settings_url(tenant)))
    data.pop("automatic_upgrades", None)  # an unticked checkbox is not sent

    owner.post(settings_url(tenant), data)

    assert Tenant.objects.get(pk=tenant.pk).automatic_upgrades is False
