"""BLOBs that verify but are hostile or odd, and imports that race: found by a hostile review, each held here.

A signed BLOB is still input: its payload must never crash the command or a later registration, a compromise it
reports must not be hidden by an odd shape, and an older BLOB must never be applied after a newer one."""

from __future__ import annotations

import threading
import time
import uuid
from io import StringIO

import pytest
from cryptography import x509
from django.core.management import CommandError, call_command
from django.db import connection

from passkeys.models import Credential, MetadataBlob
from passkeys.services import metadata as metadata_service
from passkeys.services.metadata import metadata_import
from tests.support import mds
from tests.support.api import assert_problem
from tests.support.authenticator import SoftAuthenticator

AAGUID = uuid.UUID("2fc0579f-8113-47ea-b116-bb5a8db9202a")


def _enforcing(make_tenant, make_api):
    return make_api(make_tenant(attestation="direct", attestation_policy="enforce"))


def _command(pki, tmp_path, entries, no: int = 1) -> None:
    path = tmp_path / "blob.jwt"
    path.write_bytes(pki.blob(mds.payload(no, entries)))
    call_command("mds_import", str(path), stdout=StringIO())


def test_a_root_certificate_that_does_not_parse_makes_the_chain_untrusted_never_a_500(pki, make_tenant, make_api):
    metadata_import(pki.blob(mds.payload(1, [mds.entry(AAGUID, description="Key", root_certificates_der=[b"junk"])])))
    api = make_api(make_tenant(attestation="direct", attestation_policy="monitor"))

    response = api.register(SoftAuthenticator(attestation="packed", aaguid=AAGUID.bytes))

    assert response.status_code == 201, response.content
    assert response.json()["credential"]["attestation"] == "untrusted"


def test_a_model_naming_itself_by_key_identifier_only_is_not_verified_under_enforce(pki, make_tenant, make_api):
    """Zero AAGUID: python-fido2 finds the entry by the leaf's key identifier, but the service follows statuses by
    AAGUID and could not refuse it once revoked, so such a chain is not `verified` (here: a revoked U2F model)."""
    authenticator = SoftAuthenticator(attestation="packed", aaguid=bytes(16))
    leaf = x509.load_der_x509_certificate(authenticator.attestation_cert_der)
    key_id = x509.SubjectKeyIdentifier.from_public_key(leaf.public_key()).digest.hex()
    entry = mds.entry(
        uuid.uuid4(), description="Revoked U2F key", root_certificates_der=[authenticator.attestation_root_der],
        statuses=[("FIDO_CERTIFIED", "2020-01-01"), ("REVOKED", "2024-01-01")],
    )  # fmt: skip
    del entry["aaguid"], entry["metadataStatement"]["aaguid"], entry["metadataStatement"]["authenticatorGetInfo"]
    entry["attestationCertificateKeyIdentifiers"] = [key_id]
    entry["metadataStatement"]["attestationCertificateKeyIdentifiers"] = [key_id]
    entry["metadataStatement"]["protocolFamily"] = "u2f"
    metadata_import(pki.blob(mds.payload(1, [entry])))

    assert_problem(_enforcing(make_tenant, make_api).register(authenticator), 400, "attestation_untrusted")
    assert not Credential.objects.exists()


def test_a_compromise_in_either_of_two_entries_for_one_model_stands(pki, make_tenant, make_api):
    authenticator = SoftAuthenticator(attestation="packed", aaguid=AAGUID.bytes)
    roots = [authenticator.attestation_root_der]
    revoked = mds.entry(AAGUID, description="Key", root_certificates_der=roots, statuses=[("REVOKED", "2024-01-01")])
    fine = mds.entry(AAGUID, description="Key", root_certificates_der=roots)
    metadata_import(pki.blob(mds.payload(1, [revoked, fine])))

    assert_problem(_enforcing(make_tenant, make_api).register(authenticator), 400, "authenticator_not_allowed")


def test_an_undated_compromise_report_counts_as_the_latest(pki, make_tenant, make_api):
    authenticator = SoftAuthenticator(attestation="packed", aaguid=AAGUID.bytes)
    entry = mds.entry(AAGUID, description="Key", root_certificates_der=[authenticator.attestation_root_der])
    entry["statusReports"] = [{"status": "FIDO_CERTIFIED", "effectiveDate": "2020-01-01"}, {"status": "REVOKED"}]
    metadata_import(pki.blob(mds.payload(1, [entry])))

    assert_problem(_enforcing(make_tenant, make_api).register(authenticator), 400, "authenticator_not_allowed")


def test_a_status_this_library_does_not_know_is_kept_not_a_crash(pki, tmp_path, make_tenant, make_api):
    entry = mds.entry(AAGUID, description="Key", root_certificates_der=[mds.bulk_root_der()])
    entry["statusReports"] = [{"status": "NEW_STATUS_2027", "effectiveDate": "2024-01-01"}]

    _command(pki, tmp_path, [entry])

    assert MetadataBlob.objects.get().no == 1
    credential = make_api(make_tenant()).register(SoftAuthenticator(aaguid=AAGUID.bytes)).json()["credential"]
    assert credential["authenticator_status"] == "UNKNOWN"


def test_a_description_that_is_not_text_names_nothing_and_crashes_nothing(pki, tmp_path, make_tenant, make_api):
    entry = mds.entry(AAGUID, description="Key", root_certificates_der=[mds.bulk_root_der()])
    entry["metadataStatement"]["description"] = 12345

    _command(pki, tmp_path, [entry])

    credential = make_api(make_tenant()).register(SoftAuthenticator(aaguid=AAGUID.bytes)).json()["credential"]
    assert credential["authenticator_status"] == "FIDO_CERTIFIED_L1"


@pytest.mark.parametrize(
    "spoil, no",
    [
        (lambda entry: entry["metadataStatement"].update(description="Evil\u0000Key"), 1),  # jsonb refuses NUL
        (lambda entry: entry.update(statusReports=[{"status": "REVOKED", "effectiveDate": 20240101}]), 1),
        (lambda entry: entry.update(statusReports={"status": "REVOKED"}), 1),
        (lambda entry: None, 2**31),  # beyond the column
    ],
    ids=["NUL", "date not text", "reports not a list", "no out of range"],
)
def test_a_signed_payload_the_service_cannot_use_is_a_clear_refusal(pki, tmp_path, spoil, no):
    entry = mds.entry(AAGUID, description="Key", root_certificates_der=[mds.bulk_root_der()])
    spoil(entry)

    with pytest.raises(CommandError, match="BLOB"):
        _command(pki, tmp_path, [entry], no=no)
    assert not MetadataBlob.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first_import", [False, True], ids=["a BLOB held", "none held"])
def test_an_older_blob_is_never_applied_after_a_newer_one_it_raced(
    mds_root, make_tenant, make_api, monkeypatch, first_import
):
    pki = mds_root
    authenticator = SoftAuthenticator(attestation="packed", aaguid=AAGUID.bytes)
    roots = [authenticator.attestation_root_der]
    certified = mds.entry(AAGUID, description="Key", root_certificates_der=roots)
    revoked = mds.entry(
        AAGUID, description="Key", root_certificates_der=roots,
        statuses=[("FIDO_CERTIFIED", "2024-01-01"), ("REVOKED", "2025-01-01")],
    )  # fmt: skip
    if not first_import:
        metadata_import(pki.blob(mds.payload(4, [certified])))
    assert make_api(make_tenant(attestation="direct", attestation_policy="monitor")).register(authenticator)
    applied = metadata_service._statuses_apply

    def slowly(metadata):  # the newer import holds its transaction open while the older one arrives
        if metadata.no == 6:
            time.sleep(1.0)
        return applied(metadata)

    monkeypatch.setattr(metadata_service, "_statuses_apply", slowly)
    outcomes = {}

    def run(no, entry, delay):
        time.sleep(delay)
        try:
            metadata_import(pki.blob(mds.payload(no, [entry])))
            outcomes[no] = "imported"
        except metadata_service.MetadataNotNewer:
            outcomes[no] = "not newer"
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(6, revoked, 0)),
        threading.Thread(target=run, args=(5, certified, 0.3)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == {6: "imported", 5: "not newer"}
    assert MetadataBlob.objects.order_by("-no").first().no == 6
    assert Credential.objects.get().authenticator_status == "REVOKED"
