"""The tenant's authenticator policy (DESIGN.md v1.1, "Authenticator policy and the FIDO Metadata Service").

credential_kinds (any / device_bound / synced) reads the BE flag; attestation_policy (none / monitor / enforce)
reads the attestation verdict and the model's latest status in the imported FIDO metadata. Every registration
records what it learned (attestation, authenticator_name, authenticator_status), whatever the policy; a refusal is a
400 problem and stores nothing: no Credential row, no passkey.created webhook.
"""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from io import StringIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import CommandError, call_command

from passkeys.models import Credential
from passkeys.services.metadata import metadata_import
from tenants.models import Tenant
from tenants.services import tenant_create, tenant_update
from tenants.validation import TenantSettingsInvalid, tenant_settings_validate
from tests.support import mds
from tests.support.api import assert_problem
from tests.support.authenticator import OID_FIDO_GEN_CE_AAGUID, SoftAuthenticator
from webhooks.models import Delivery, EventType
from webhooks.services import endpoint_create

AAGUID = uuid.UUID("2fc0579f-8113-47ea-b116-bb5a8db9202a")
OTHER_AAGUID = uuid.UUID("6d44ba9b-f6ec-2e49-b930-0c8fe920cb73")
APPLE_PASSWORDS = uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")
COMPROMISED = (
    "REVOKED",
    "USER_VERIFICATION_BYPASS",
    "ATTESTATION_KEY_COMPROMISE",
    "USER_KEY_REMOTE_COMPROMISE",
    "USER_KEY_PHYSICAL_COMPROMISE",
)



@pytest.fixture
def publish(pki):
    """Import a BLOB (newer each call) listing `entries`, as `manage.py mds_import` would."""
    counter = iter(range(1, 1000))

    def publish(*entries: dict) -> None:
        metadata_import(pki.blob(mds.payload(next(counter), list(entries))))

    return publish


@pytest.fixture
def policy_api(make_tenant, make_api):
    """The API of a tenant asking for direct attestation, with the given policy and kinds, and an endpoint that
    logs passkey.created (never sent: the tests read the delivery log)."""

    def make(attestation_policy: str = "none", credential_kinds: str = "any", **fields):
        tenant = make_tenant(
            attestation="direct", attestation_policy=attestation_policy, credential_kinds=credential_kinds, **fields
        )
        endpoint_create(tenant=tenant, url="http://127.0.0.1:9/hooks", event_types=[EventType.PASSKEY_CREATED])
        return make_api(tenant)

    return make


def packed(aaguid: uuid.UUID = AAGUID, **flags) -> SoftAuthenticator:
    return SoftAuthenticator(attestation="packed", aaguid=aaguid.bytes, **flags)


def listing(authenticator: SoftAuthenticator, *, description: str = "Test Key 5", statuses=mds.DEFAULT_STATUSES):
    """The metadata entry of the authenticator's model, anchored at its own attestation root."""
    aaguid = uuid.UUID(bytes=authenticator.aaguid)
    return mds.entry(
        aaguid, description=description, root_certificates_der=[authenticator.attestation_root_der], statuses=statuses
    )


def registered(api, authenticator: SoftAuthenticator, user_id: str = "alice") -> dict:
    response = api.register(authenticator, user_id)
    assert response.status_code == 201, response.content
    return response.json()["credential"]


def refused(api, authenticator: SoftAuthenticator, code: str, user_id: str = "alice") -> dict:
    """The registration is a 400 problem with `code` that stored nothing."""
    body = assert_problem(api.register(authenticator, user_id), 400, code)
    assert not Credential.objects.filter(tenant=api.tenant).exists()
    assert not Delivery.objects.filter(event_type=EventType.PASSKEY_CREATED).exists()
    return body


def verdict(credential: dict) -> tuple[str, str, str | None]:
    return credential["attestation"], credential["authenticator_name"], credential["authenticator_status"]


def new_attestation_chain(
    authenticator: SoftAuthenticator, *, expired: str | None = None, aaguid_extension: bool = True
) -> SoftAuthenticator:
    """Give a packed authenticator a new attestation root and leaf; `expired` ("leaf" or "root") lapsed yesterday.
    Signatures and the packed certificate requirements still hold (the AAGUID extension is optional in §8.2.1)."""
    now = datetime.datetime.now(datetime.UTC)
    past = (now - datetime.timedelta(days=400), now - datetime.timedelta(days=1))
    valid = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=365))
    org = [x509.NameAttribute(NameOID.COUNTRY_NAME, "US"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Other CA")]
    root_name = x509.Name([*org, x509.NameAttribute(NameOID.COMMON_NAME, "Other Root")])
    leaf_name = x509.Name(
        [
            *org,
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Other Attestation"),
        ]
    )
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def build(subject, key, validity, ca: bool):
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(root_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(validity[0])
            .not_valid_after(validity[1])
            .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        )

    root = build(root_name, root_key, past if expired == "root" else valid, True).sign(root_key, hashes.SHA256())
    leaf = build(leaf_name, leaf_key, past if expired == "leaf" else valid, False)
    if aaguid_extension:
        extension = x509.UnrecognizedExtension(OID_FIDO_GEN_CE_AAGUID, b"\x04\x10" + authenticator.aaguid)
        leaf = leaf.add_extension(extension, critical=False)
    leaf = leaf.sign(root_key, hashes.SHA256())
    der = serialization.Encoding.DER
    authenticator.attestation_root_der = root.public_bytes(der)
    authenticator.attestation_cert_der = leaf.public_bytes(der)
    authenticator._attestation_key = leaf_key  # the soft authenticator signs packed statements with this key
    return authenticator


# --- credential_kinds: backup eligibility (BE) decides -------------------------------------------------------------


@pytest.mark.parametrize("backed_up", [False, True])
def test_device_bound_refuses_a_backup_eligible_credential(policy_api, backed_up):
    api = policy_api(credential_kinds="device_bound")
    refused(api, SoftAuthenticator(backup_eligible=True, backed_up=backed_up), "authenticator_not_allowed")


def test_device_bound_accepts_a_credential_without_backup_eligibility(policy_api):
    api = policy_api(credential_kinds="device_bound")
    credential = registered(api, SoftAuthenticator(backup_eligible=False, backed_up=False))
    assert (credential["backup_eligible"], credential["backed_up"]) == (False, False)


def test_synced_refuses_a_credential_without_backup_eligibility(policy_api):
    api = policy_api(credential_kinds="synced")
    refused(api, SoftAuthenticator(backup_eligible=False, backed_up=False), "authenticator_not_allowed")


@pytest.mark.parametrize("backed_up", [False, True])
def test_synced_accepts_a_backup_eligible_credential_backed_up_or_not_yet(policy_api, backed_up):
    api = policy_api(credential_kinds="synced")
    credential = registered(api, SoftAuthenticator(backup_eligible=True, backed_up=backed_up))
    assert credential["backup_eligible"] is True


def test_any_kind_accepts_both(policy_api):
    api = policy_api(credential_kinds="any")
    registered(api, SoftAuthenticator(backup_eligible=False, backed_up=False), "alice")
    registered(api, SoftAuthenticator(backup_eligible=True, backed_up=True), "bob")
    assert Credential.objects.count() == 2


def test_device_bound_registers_the_allowed_kind_after_refusing_another(policy_api):
    api = policy_api(credential_kinds="device_bound")
    refused(api, SoftAuthenticator(backup_eligible=True), "authenticator_not_allowed")
    registered(api, SoftAuthenticator(backup_eligible=False, backed_up=False))
    assert Delivery.objects.filter(event_type=EventType.PASSKEY_CREATED).count() == 1


def test_credential_kinds_apply_under_enforce_too(pki, publish, policy_api):
    authenticator = packed(backup_eligible=True, backed_up=True)
    publish(listing(authenticator))
    api = policy_api(attestation_policy="enforce", credential_kinds="device_bound")
    refused(api, authenticator, "authenticator_not_allowed")


# --- attestation_policy "none": accept anything, still record what was learned -------------------------------------


def test_none_policy_accepts_every_attestation_and_records_its_verdict(pki, publish, policy_api):
    listed = packed()
    publish(listing(listed), listing(packed(OTHER_AAGUID), description="Other Key"))
    api = policy_api(attestation_policy="none")

    assert verdict(registered(api, listed, "verified")) == ("verified", "Test Key 5", "FIDO_CERTIFIED_L1")
    # The other model's entry names another root: this chain proves nothing.
    stranger = packed(OTHER_AAGUID)
    assert verdict(registered(api, stranger, "untrusted")) == ("untrusted", "Other Key", "FIDO_CERTIFIED_L1")
    self_attested = SoftAuthenticator(attestation="packed-self", aaguid=AAGUID.bytes)
    assert verdict(registered(api, self_attested, "self")) == ("self", "Test Key 5", "FIDO_CERTIFIED_L1")
    assert verdict(registered(api, SoftAuthenticator(), "none")) == ("none", "", None)


def test_none_policy_accepts_a_revoked_model_and_records_its_status(pki, publish, policy_api):
    authenticator = packed()
    publish(listing(authenticator, statuses=[("FIDO_CERTIFIED_L1", "2024-01-15"), ("REVOKED", "2026-01-10")]))
    api = policy_api(attestation_policy="none")

    credential = registered(api, authenticator)
    assert (credential["authenticator_name"], credential["authenticator_status"]) == ("Test Key 5", "REVOKED")
    assert Credential.objects.get().authenticator_status == "REVOKED"


# --- attestation_policy "monitor": verify and record, refuse nothing -----------------------------------------------


def test_monitor_registers_an_untrusted_chain_and_says_so(pki, publish, policy_api):
    publish(listing(packed()))  # the model is listed, under a root this authenticator's chain does not reach
    api = policy_api(attestation_policy="monitor")

    credential = registered(api, packed())
    assert verdict(credential) == ("untrusted", "Test Key 5", "FIDO_CERTIFIED_L1")
    assert Credential.objects.get().attestation == "untrusted"
    assert Delivery.objects.filter(event_type=EventType.PASSKEY_CREATED).count() == 1


@pytest.mark.parametrize("status", COMPROMISED)
def test_monitor_registers_a_compromised_model_with_its_status(pki, publish, policy_api, status):
    """A revoked model too: its chain still verifies against its root; the status is what says it is revoked."""
    authenticator = packed()
    publish(listing(authenticator, statuses=[("FIDO_CERTIFIED_L1", "2024-01-15"), (status, "2026-01-10")]))
    api = policy_api(attestation_policy="monitor")

    assert verdict(registered(api, authenticator)) == ("verified", "Test Key 5", status)


def test_a_chain_through_a_reported_compromised_attestation_key_is_untrusted(pki, publish, policy_api):
    """An ATTESTATION_KEY_COMPROMISE report naming this very certificate: its chain proves nothing any more (the
    report without a certificate, above, leaves the chain verified)."""
    authenticator = packed()
    reported = listing(
        authenticator, statuses=[("FIDO_CERTIFIED_L1", "2024-01-15"), ("ATTESTATION_KEY_COMPROMISE", "2026-01-10")]
    )
    reported["statusReports"][-1]["certificate"] = base64.b64encode(authenticator.attestation_cert_der).decode()
    publish(reported)
    api = policy_api(attestation_policy="monitor")

    assert verdict(registered(api, authenticator)) == ("untrusted", "Test Key 5", "ATTESTATION_KEY_COMPROMISE")


def test_monitor_records_self_and_none_attestation(pki, publish, policy_api):
    publish(listing(packed()))
    api = policy_api(attestation_policy="monitor")
    self_attested = SoftAuthenticator(attestation="packed-self", aaguid=AAGUID.bytes)
    assert registered(api, self_attested, "alice")["attestation"] == "self"
    assert registered(api, SoftAuthenticator(), "bob")["attestation"] == "none"


# --- attestation_policy "enforce" ------------------------------------------------------------------------------------


def test_enforce_accepts_a_chain_to_the_models_metadata_root(pki, publish, policy_api):
    authenticator = packed()
    publish(listing(authenticator))
    api = policy_api(attestation_policy="enforce")

    assert verdict(registered(api, authenticator)) == ("verified", "Test Key 5", "FIDO_CERTIFIED_L1")
    assert Delivery.objects.filter(event_type=EventType.PASSKEY_CREATED).count() == 1


def test_enforce_refuses_a_chain_to_another_root_than_the_models(pki, publish, policy_api):
    publish(listing(packed()))  # same AAGUID, another vendor's root: an AAGUID claim is not a proof
    api = policy_api(attestation_policy="enforce")
    refused(api, packed(), "attestation_untrusted")


def test_enforce_refuses_a_chain_anchored_by_another_models_root(pki, publish, policy_api):
    """The root must be one listed for the AAGUID the authenticator claims, not any root in the BLOB."""
    other = new_attestation_chain(packed(OTHER_AAGUID), aaguid_extension=False)
    publish(listing(packed()), listing(other, description="Other Key"))
    claimant = packed()  # claims AAGUID, attests with the other model's certificate
    claimant.attestation_cert_der, claimant._attestation_key = other.attestation_cert_der, other._attestation_key
    api = policy_api(attestation_policy="enforce")

    refused(api, claimant, "attestation_untrusted")
    assert registered(api, other, "bob")["attestation"] == "verified"  # the chain itself is good, for its model


def test_enforce_refuses_self_attestation(pki, publish, policy_api):
    publish(listing(packed()))
    api = policy_api(attestation_policy="enforce")
    refused(api, SoftAuthenticator(attestation="packed-self", aaguid=AAGUID.bytes), "attestation_untrusted")


def test_enforce_refuses_none_attestation(pki, publish, policy_api):
    publish(listing(packed()))
    api = policy_api(attestation_policy="enforce")
    refused(api, SoftAuthenticator(attestation="none", aaguid=AAGUID.bytes), "attestation_untrusted")


def test_enforce_refuses_everything_without_metadata_or_roots(db, policy_api):
    api = policy_api(attestation_policy="enforce")
    refused(api, packed(), "attestation_untrusted")


@pytest.mark.parametrize("status", COMPROMISED)
def test_enforce_refuses_a_model_whose_latest_status_is_a_compromise(pki, publish, policy_api, status):
    authenticator = packed()
    publish(listing(authenticator, statuses=[("FIDO_CERTIFIED_L1", "2024-01-15"), (status, "2026-01-10")]))
    api = policy_api(attestation_policy="enforce")

    body = refused(api, authenticator, "authenticator_not_allowed")
    assert status in body["detail"]


def test_enforce_takes_the_latest_report_by_date_not_by_position(pki, publish, policy_api):
    authenticator = packed()
    publish(
        listing(
            authenticator, statuses=[("USER_VERIFICATION_BYPASS", "2026-01-10"), ("FIDO_CERTIFIED_L1", "2024-01-15")]
        )
    )
    api = policy_api(attestation_policy="enforce")
    refused(api, authenticator, "authenticator_not_allowed")


@pytest.mark.parametrize("status", COMPROMISED)
def test_enforce_accepts_a_model_certified_again_after_a_compromise(pki, publish, policy_api, status):
    """The latest status report wins: a model re-certified after a compromise registers again."""
    authenticator = packed()
    statuses = [("FIDO_CERTIFIED_L1", "2023-01-15"), (status, "2024-06-01"), ("FIDO_CERTIFIED_L2", "2025-03-01")]
    publish(listing(authenticator, statuses=statuses))
    api = policy_api(attestation_policy="enforce")

    assert verdict(registered(api, authenticator)) == ("verified", "Test Key 5", "FIDO_CERTIFIED_L2")


@pytest.mark.parametrize("status", ["UPDATE_AVAILABLE", "NOT_FIDO_CERTIFIED", "SELF_ASSERTION_SUBMITTED"])
def test_enforce_accepts_a_model_whose_latest_status_is_not_a_compromise(pki, publish, policy_api, status):
    authenticator = packed()
    publish(listing(authenticator, statuses=[("FIDO_CERTIFIED_L1", "2024-01-15"), (status, "2026-01-10")]))
    api = policy_api(attestation_policy="enforce")
    assert registered(api, authenticator)["authenticator_status"] == status


def test_enforce_accepts_the_tenants_own_roots_without_any_blob(db, policy_api):
    authenticator = packed()
    root_pem = x509.load_der_x509_certificate(authenticator.attestation_root_der).public_bytes(
        serialization.Encoding.PEM
    )
    api = policy_api(attestation_policy="enforce", attestation_roots=root_pem.decode())

    credential = registered(api, authenticator)
    assert credential["attestation"] == "verified"
    assert credential["authenticator_status"] is None


def test_enforce_accepts_the_tenants_own_roots_for_a_model_the_blob_does_not_list(pki, publish, policy_api):
    publish(listing(packed(OTHER_AAGUID), description="Other Key"))
    authenticator = packed()
    root_pem = x509.load_der_x509_certificate(authenticator.attestation_root_der).public_bytes(
        serialization.Encoding.PEM
    )
    api = policy_api(attestation_policy="enforce", attestation_roots=root_pem.decode())
    assert registered(api, authenticator)["attestation"] == "verified"


@pytest.mark.parametrize("expired", ["leaf", "root"])
def test_an_expired_attestation_certificate_is_untrusted(pki, publish, policy_api, expired):
    authenticator = new_attestation_chain(packed(), expired=expired)
    publish(listing(authenticator))
    refused(policy_api(attestation_policy="enforce", name="Enforcing"), authenticator, "attestation_untrusted")
    monitor = policy_api(attestation_policy="monitor", name="Monitoring")
    assert registered(monitor, authenticator)["attestation"] == "untrusted"


def test_the_expired_certificate_helper_verifies_when_nothing_is_expired(pki, publish, policy_api):
    """The control for the test above: the same construction, every certificate valid, is verified."""
    authenticator = new_attestation_chain(packed())
    publish(listing(authenticator))
    assert registered(policy_api(attestation_policy="enforce"), authenticator)["attestation"] == "verified"


# --- what a credential says: attestation, authenticator_name, authenticator_status ---------------------------------


def test_without_any_blob_registrations_work_and_record_their_verdict(db, policy_api):
    for policy in ("none", "monitor"):
        api = policy_api(attestation_policy=policy, name=policy)
        assert verdict(registered(api, packed())) == ("untrusted", "", None)
        assert verdict(registered(api, SoftAuthenticator(attestation="packed-self"), "bob")) == ("self", "", None)
        assert verdict(registered(api, SoftAuthenticator(), "carol")) == ("none", "", None)


def test_the_name_comes_from_the_aaguid_list_when_the_metadata_has_no_entry(pki, publish, policy_api):
    api = policy_api()
    apple = SoftAuthenticator(aaguid=APPLE_PASSWORDS.bytes)
    assert verdict(registered(api, apple, "before")) == ("none", "Apple Passwords", None)

    publish(listing(packed(OTHER_AAGUID), description="Other Key"))
    credential = registered(api, apple, "after")
    assert verdict(credential) == ("none", "Apple Passwords", None)
    assert credential["provider_name"] == "Apple Passwords"


def test_the_metadata_description_names_the_authenticator(pki, publish, policy_api):
    authenticator = packed(APPLE_PASSWORDS)
    publish(listing(authenticator, description="Apple Passwords, as the FIDO metadata calls it"))
    credential = registered(policy_api(), authenticator)
    assert credential["authenticator_name"] == "Apple Passwords, as the FIDO metadata calls it"


def test_the_credential_list_shows_verdict_name_and_status(pki, publish, policy_api):
    authenticator = packed()
    publish(listing(authenticator))
    api = policy_api(attestation_policy="monitor")
    registered(api, authenticator, "alice")
    registered(api, SoftAuthenticator(), "bob")

    [alice] = api.get("/v1/users/alice/credentials").json()["credentials"]
    [bob] = api.get("/v1/users/bob/credentials").json()["credentials"]
    assert verdict(alice) == ("verified", "Test Key 5", "FIDO_CERTIFIED_L1")
    assert verdict(bob) == ("none", "", None)
    assert "authenticator_status" in bob  # null, not left out


# --- logins: a compromised model's credentials stop signing in under enforce only ----------------------------------


@pytest.mark.parametrize("status", COMPROMISED)
def test_enforce_refuses_logins_of_a_model_newly_reported_compromised(pki, publish, policy_api, status):
    authenticator = packed()
    publish(listing(authenticator))
    api = policy_api(attestation_policy="enforce")
    registered(api, authenticator)
    assert api.login(authenticator, "alice").status_code == 200
    before = Credential.objects.values("sign_count", "last_used_at").get()

    publish(listing(authenticator, statuses=[("FIDO_CERTIFIED_L1", "2024-01-15"), (status, "2026-01-10")]))

    body = assert_problem(api.login(authenticator, "alice"), 400, "authenticator_not_allowed")
    assert status in body["detail"]
    assert Credential.objects.values("sign_count", "last_used_at").get() == before  # the refusal changed nothing


@pytest.mark.parametrize("policy", ["none", "monitor"])
@pytest.mark.parametrize("status", ["REVOKED", "USER_KEY_PHYSICAL_COMPROMISE"])
def test_logins_of_a_compromised_model_go_on_under_monitor_and_none(pki, publish, policy_api, policy, status):
    authenticator = packed()
    publish(listing(authenticator))
    api = policy_api(attestation_policy=policy)
    registered(api, authenticator)

    publish(listing(authenticator, statuses=[("FIDO_CERTIFIED_L1", "2024-01-15"), (status, "2026-01-10")]))

    assert Credential.objects.get().authenticator_status == status
    assert api.login(authenticator, "alice").status_code == 200


def test_enforce_lets_logins_resume_once_the_model_is_certified_again(pki, publish, policy_api):
    authenticator = packed()
    publish(listing(authenticator))
    api = policy_api(attestation_policy="enforce")
    registered(api, authenticator)
    compromised = [("FIDO_CERTIFIED_L1", "2024-01-15"), ("USER_VERIFICATION_BYPASS", "2025-01-10")]
    publish(listing(authenticator, statuses=compromised))
    assert_problem(api.login(authenticator, "alice"), 400, "authenticator_not_allowed")

    publish(listing(authenticator, statuses=[*compromised, ("FIDO_CERTIFIED_L2", "2026-01-10")]))

    assert Credential.objects.get().authenticator_status == "FIDO_CERTIFIED_L2"
    assert api.login(authenticator, "alice").status_code == 200


def test_enforce_keeps_logins_of_a_model_with_a_non_compromise_status_change(pki, publish, policy_api):
    authenticator = packed()
    publish(listing(authenticator))
    api = policy_api(attestation_policy="enforce")
    registered(api, authenticator)

    publish(listing(authenticator, statuses=[("FIDO_CERTIFIED_L1", "2024-01-15"), ("UPDATE_AVAILABLE", "2026-01-10")]))

    assert Credential.objects.get().authenticator_status == "UPDATE_AVAILABLE"
    assert api.login(authenticator, "alice").status_code == 200


# --- settings: validation and create_tenant ------------------------------------------------------------------------


def _settings(**changes) -> dict:
    values = {
        "name": "Example",
        "rp_id": "example.com",
        "origins": ["https://example.com"],
        "attestation": "direct",
        "attestation_policy": "none",
        "credential_kinds": "any",
    }
    return {**values, **changes}


def test_new_tenants_default_to_no_policy_and_any_kind(db):
    tenant = tenant_create(name="Example", rp_id="example.com", origins=["https://example.com"])
    assert (tenant.attestation_policy, tenant.credential_kinds) == ("none", "any")


@pytest.mark.parametrize("policy", ["none", "monitor", "enforce"])
@pytest.mark.parametrize("kinds", ["any", "device_bound", "synced"])
def test_every_policy_and_kind_validates(policy, kinds):
    cleaned = tenant_settings_validate(_settings(attestation_policy=policy, credential_kinds=kinds))
    assert (cleaned["attestation_policy"], cleaned["credential_kinds"]) == (policy, kinds)


def test_enforce_with_attestation_none_is_refused():
    with pytest.raises(TenantSettingsInvalid) as caught:
        tenant_settings_validate(_settings(attestation_policy="enforce", attestation="none"))
    assert set(caught.value.errors) == {"attestation_policy"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("attestation_policy", "strict"),
        ("attestation_policy", "ENFORCE"),
        ("attestation_policy", ""),
        ("attestation_policy", None),
        ("credential_kinds", "platform"),
        ("credential_kinds", "device-bound"),
        ("credential_kinds", 1),
    ],
)
def test_unknown_policy_or_kinds_values_are_refused(field, value):
    with pytest.raises(TenantSettingsInvalid) as caught:
        tenant_settings_validate(_settings(**{field: value}))
    assert field in caught.value.errors


def test_tenant_update_refuses_enforce_without_attestation_and_changes_nothing(make_tenant):
    tenant = make_tenant()  # attestation "none" by default
    with pytest.raises(TenantSettingsInvalid):
        tenant_update(tenant=tenant, attestation_policy="enforce")
    assert Tenant.objects.get(pk=tenant.pk).attestation_policy == "none"

    tenant_update(tenant=tenant, attestation="direct", attestation_policy="enforce")
    with pytest.raises(TenantSettingsInvalid):
        tenant_update(tenant=tenant, attestation="none")
    stored = Tenant.objects.get(pk=tenant.pk)
    assert (stored.attestation, stored.attestation_policy) == ("direct", "enforce")


def test_tenant_update_refuses_unknown_values(make_tenant):
    tenant = make_tenant()
    with pytest.raises(TenantSettingsInvalid):
        tenant_update(tenant=tenant, credential_kinds="hardware")
    with pytest.raises(TenantSettingsInvalid):
        tenant_update(tenant=tenant, attestation_policy="audit")
    stored = Tenant.objects.get(pk=tenant.pk)
    assert (stored.attestation_policy, stored.credential_kinds) == ("none", "any")


def _create_tenant(*flags: str) -> Tenant:
    out = StringIO()
    call_command("create_tenant", "Example", "--rp-id", "example.com", "--origin", "https://example.com", *flags,
                 stdout=out)  # fmt: skip
    return Tenant.objects.get(pk=json.loads(out.getvalue())["tenant_id"])


def test_create_tenant_sets_policy_and_kinds(db):
    enforcing = _create_tenant("--attestation", "direct", "--attestation-policy", "enforce", "--credential-kinds",
                               "device_bound")  # fmt: skip
    assert (enforcing.attestation, enforcing.attestation_policy, enforcing.credential_kinds) == (
        "direct", "enforce", "device_bound"
    )  # fmt: skip
    monitoring = _create_tenant("--attestation-policy", "monitor", "--credential-kinds", "synced")
    assert (monitoring.attestation_policy, monitoring.credential_kinds) == ("monitor", "synced")


def test_create_tenant_defaults_to_none_and_any(db):
    tenant = _create_tenant()
    assert (tenant.attestation_policy, tenant.credential_kinds) == ("none", "any")


@pytest.mark.parametrize(
    "flags",
    [
        ("--attestation-policy", "enforce"),  # attestation stays "none"
        ("--attestation", "none", "--attestation-policy", "enforce"),
        ("--attestation-policy", "strict"),
        ("--credential-kinds", "platform"),
    ],
)
def test_create_tenant_refuses_bad_policy_settings_and_creates_nothing(db, flags):
    with pytest.raises(CommandError):
        _create_tenant(*flags)
    assert not Tenant.objects.exists()
