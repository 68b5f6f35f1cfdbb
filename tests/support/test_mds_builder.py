"""Check the test MDS3 kit against python-fido2 itself, so a BLOB it builds is one a real parser accepts."""

from __future__ import annotations

import base64
import datetime
import json
import os
import uuid

import pytest
from cryptography import exceptions, x509
from fido2.attestation import InvalidSignature
from fido2.mds3 import AuthenticatorStatus, MdsAttestationVerifier, parse_blob
from fido2.webauthn import Aaguid, AttestationObject

from .authenticator import SoftAuthenticator, b64url_decode, b64url_encode, sha256
from .mds import LEGAL_HEADER, MdsPki, bulk_root_der, entries_bulk, entry, payload, tamper_payload

AAGUID = uuid.UUID("2fc0579f-8113-47ea-b116-bb5a8db9202a")


@pytest.fixture(scope="module")
def pki() -> MdsPki:
    return MdsPki.create()


@pytest.fixture(scope="module")
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator(attestation="packed", aaguid=AAGUID.bytes, attachment="cross-platform")


def register(authenticator: SoftAuthenticator) -> tuple[AttestationObject, bytes]:
    """A packed registration from the soft authenticator: (attestation object, clientDataJSON hash)."""
    options = {
        "rp": {"id": "example.com", "name": "Example"},
        "user": {"id": b64url_encode(b"user-1"), "name": "alice", "displayName": "Alice"},
        "challenge": b64url_encode(os.urandom(32)),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
    }
    response = authenticator.create(options)["response"]
    attestation = AttestationObject(b64url_decode(response["attestationObject"]))
    return attestation, sha256(b64url_decode(response["clientDataJSON"]))


def listed(authenticator: SoftAuthenticator, *statuses: tuple[str, str]) -> dict:
    assert authenticator.attestation_root_der is not None
    kwargs = {"statuses": statuses} if statuses else {}
    return entry(AAGUID, description="Soft Key", root_certificates_der=[authenticator.attestation_root_der], **kwargs)


def jws_part(blob: bytes, index: int) -> dict:
    return json.loads(b64url_decode(blob.split(b".")[index].decode()))


def test_parse_blob_accepts_blob_under_its_root_and_parses_entries(pki):
    statuses = [("FIDO_CERTIFIED_L1", "2023-05-01"), ("UPDATE_AVAILABLE", "2024-02-10")]
    sent = entry(AAGUID, description="Soft Key", root_certificates_der=[pki.root_der()], statuses=statuses)

    parsed = parse_blob(pki.blob(payload(42, [sent], next_update="2027-03-01")), trust_root=pki.root_der())

    assert (parsed.legal_header, parsed.no, parsed.next_update) == (LEGAL_HEADER, 42, datetime.date(2027, 3, 1))
    [got] = parsed.entries
    assert got.aaguid == Aaguid(AAGUID.bytes)
    assert got.time_of_last_status_change == datetime.date(2024, 2, 10)
    assert [(r.status, r.effective_date) for r in got.status_reports] == [
        (AuthenticatorStatus.FIDO_CERTIFIED_L1, datetime.date(2023, 5, 1)),
        (AuthenticatorStatus.UPDATE_AVAILABLE, datetime.date(2024, 2, 10)),
    ]
    statement = got.metadata_statement
    assert statement is not None
    assert (statement.description, statement.aaguid, statement.schema) == ("Soft Key", got.aaguid, 3)
    assert statement.attestation_root_certificates == [pki.root_der()]


def test_blob_header_carries_signer_in_standard_base64_and_not_the_root(pki):
    header = jws_part(pki.blob(payload(1, [])), 0)

    assert header["alg"] == "RS256"
    assert [base64.b64decode(c, validate=True) for c in header["x5c"]] == [pki.signer_der()]
    assert pki.root_der() not in [base64.b64decode(c) for c in header["x5c"]]


def test_root_is_a_self_signed_rsa_ca_and_pem_matches_der(pki):
    root = x509.load_pem_x509_certificate(pki.root_pem())

    assert root == x509.load_der_x509_certificate(pki.root_der())
    assert root.subject == root.issuer
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert root.public_key().key_size == 2048
    assert pki.signer_cert.issuer == root.subject


def test_parse_blob_rejects_blob_signed_under_a_foreign_root(pki):
    foreign = pki.foreign()
    assert foreign.root_cert.subject == pki.root_cert.subject  # same name, different key

    with pytest.raises(InvalidSignature):
        parse_blob(foreign.blob(payload(1, [])), trust_root=pki.root_der())
    with pytest.raises(InvalidSignature):
        parse_blob(pki.blob(payload(1, [])), trust_root=foreign.root_der())


def test_parse_blob_rejects_tampered_payload(pki):
    blob = pki.blob(payload(7, entries_bulk(2)))
    forged = tamper_payload(blob, payload(8, entries_bulk(2)))

    assert forged.split(b".")[0::2] == blob.split(b".")[0::2]
    with pytest.raises(exceptions.InvalidSignature):
        parse_blob(forged, trust_root=pki.root_der())


def test_expired_signer_chains_to_the_root_and_python_fido2_does_not_check_dates(pki):
    expired = pki.with_signer(expired=True)
    assert expired.signer_cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC)
    assert expired.root_der() == pki.root_der()

    # parse_blob checks signatures only: the service must reject the expired signer itself.
    parsed = parse_blob(expired.blob(payload(3, [])), trust_root=pki.root_der())

    assert parsed.no == 3
    assert MdsPki.create(signer_expired=True).signer_cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC)


def test_verifier_finds_entry_by_aaguid(pki, authenticator):
    parsed = parse_blob(pki.blob(payload(1, [*entries_bulk(3), listed(authenticator)])), trust_root=pki.root_der())

    found = MdsAttestationVerifier(parsed).find_entry_by_aaguid(Aaguid(AAGUID.bytes))

    assert found is not None and found.metadata_statement.description == "Soft Key"


def test_verifier_find_entry_returns_entry_for_packed_registration_under_listed_root(pki, authenticator):
    parsed = parse_blob(pki.blob(payload(1, [listed(authenticator)])), trust_root=pki.root_der())
    attestation, client_data_hash = register(authenticator)

    found = MdsAttestationVerifier(parsed).find_entry(attestation, client_data_hash)

    assert found is not None and found.aaguid == Aaguid(AAGUID.bytes)


def test_verifier_find_entry_returns_none_when_batch_root_not_listed(pki, authenticator):
    other_root = entry(AAGUID, description="Soft Key", root_certificates_der=[bulk_root_der()])
    parsed = parse_blob(pki.blob(payload(1, [other_root])), trust_root=pki.root_der())
    attestation, client_data_hash = register(authenticator)

    assert MdsAttestationVerifier(parsed).find_entry(attestation, client_data_hash) is None


def test_default_verifier_filters_out_revoked_entry(pki, authenticator):
    revoked = listed(authenticator, ("FIDO_CERTIFIED_L1", "2023-05-01"), ("REVOKED", "2024-06-01"))
    parsed = parse_blob(pki.blob(payload(2, [revoked])), trust_root=pki.root_der())
    attestation, client_data_hash = register(authenticator)

    verifier = MdsAttestationVerifier(parsed)
    assert verifier.find_entry_by_aaguid(Aaguid(AAGUID.bytes)) is None
    assert verifier.find_entry(attestation, client_data_hash) is None
    # The same entry without the default filter is found: the REVOKED report is what excluded it.
    assert MdsAttestationVerifier(parsed, entry_filter=None).find_entry(attestation, client_data_hash) is not None


def test_entries_bulk_builds_a_thousand_distinct_entries_that_parse(pki):
    entries = entries_bulk(1000)

    parsed = parse_blob(pki.blob(payload(5, entries)), trust_root=pki.root_der())

    assert len({e.aaguid for e in parsed.entries}) == 1000
    assert {e.metadata_statement.attestation_root_certificates[0] for e in parsed.entries} == {bulk_root_der()}
