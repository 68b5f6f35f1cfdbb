"""Test-only FIDO Metadata Service (MDS3): a metadata PKI, signed BLOBs and entries, no network.

Shaped like the real service at https://mds3.fidoalliance.org/: the BLOB is a compact JWS signed
RS256 whose header carries ``x5c`` = [signer certificate, standard base64 DER]; the root that
issued the signer is not in ``x5c`` but is the trust anchor the relying party pins. Payload and
entries are spelled exactly as the MDS3 JSON spells them (camelCase), so what parses here parses
the real BLOB too (see ``tests/support/test_mds_builder.py``, which checks it with python-fido2).
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

LEGAL_HEADER = (
    "Retrieval and use of this BLOB indicates acceptance of the appropriate agreement located at "
    "https://fidoalliance.org/metadata/metadata-legal-terms/"
)
DEFAULT_STATUSES: tuple[tuple[str, str], ...] = (("FIDO_CERTIFIED_L1", "2024-01-15"),)
ROOT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Passkey Service Test MDS"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Test MDS3 Root CA"),
    ]
)
SIGNER_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Passkey Service Test MDS"),
        x509.NameAttribute(NameOID.COMMON_NAME, "mds3.test.invalid"),
    ]
)
_DER = serialization.Encoding.DER


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWS compact serialization spells each part."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _validity(expired: bool) -> tuple[datetime.datetime, datetime.datetime]:
    now = datetime.datetime.now(datetime.UTC)
    if expired:
        return now - datetime.timedelta(days=730), now - datetime.timedelta(days=1)
    return now - datetime.timedelta(days=1), now + datetime.timedelta(days=3650)


def _issue_signer(
    root_key: rsa.RSAPrivateKey, root_cert: x509.Certificate, *, expired: bool
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """An end-entity BLOB signing certificate under ``root_cert``."""
    key = _rsa_key()
    not_before, not_after = _validity(expired)
    cert = (
        x509.CertificateBuilder()
        .subject_name(SIGNER_NAME)
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return key, cert


def _key_usage(*, digital_signature: bool = False, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _self_signed_root(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, name: x509.Name) -> x509.Certificate:
    not_before, not_after = _validity(False)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


@dataclass(frozen=True)
class MdsPki:
    """A metadata root CA (RSA-2048, self-signed, CA:true) and the RSA-2048 BLOB signer it issued."""

    root_key: rsa.RSAPrivateKey = field(repr=False)
    root_cert: x509.Certificate
    signer_key: rsa.RSAPrivateKey = field(repr=False)
    signer_cert: x509.Certificate

    @classmethod
    def create(cls, *, signer_expired: bool = False, root_name: x509.Name = ROOT_NAME) -> MdsPki:
        """A fresh PKI; ``signer_expired`` makes the signer's notAfter yesterday (the root stays valid)."""
        root_key = _rsa_key()
        root_cert = _self_signed_root(root_key, root_name)
        signer_key, signer_cert = _issue_signer(root_key, root_cert, expired=signer_expired)
        return cls(root_key, root_cert, signer_key, signer_cert)

    def foreign(self) -> MdsPki:
        """An unrelated PKI whose root copies this root's subject name: only the key tells them apart."""
        return MdsPki.create(root_name=self.root_cert.subject)

    def with_signer(self, *, expired: bool = False) -> MdsPki:
        """The same root with a newly issued signer (e.g. an expired one that still chains to the anchor)."""
        signer_key, signer_cert = _issue_signer(self.root_key, self.root_cert, expired=expired)
        return MdsPki(self.root_key, self.root_cert, signer_key, signer_cert)

    def root_der(self) -> bytes:
        """The trust anchor, DER (what ``fido2.mds3.parse_blob(trust_root=...)`` takes)."""
        return self.root_cert.public_bytes(_DER)

    def root_pem(self) -> bytes:
        """The trust anchor, PEM (how the FIDO Alliance publishes its root)."""
        return self.root_cert.public_bytes(serialization.Encoding.PEM)

    def signer_der(self) -> bytes:
        """The BLOB signing certificate, DER."""
        return self.signer_cert.public_bytes(_DER)

    def blob(self, payload: Mapping[str, Any], *, header: Mapping[str, Any] | None = None) -> bytes:
        """The compact JWS ``b64url(header).b64url(payload).b64url(RS256 signature)``.

        ``header`` members replace the default ``alg``/``typ``/``x5c`` (e.g. ``{"x5c": []}``).
        """
        head = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(self.signer_der()).decode()]}
        head.update(header or {})
        signing_input = f"{b64url(_json(head))}.{b64url(_json(payload))}".encode()
        signature = self.signer_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input + b"." + b64url(signature).encode()


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def tamper_payload(blob: bytes, payload: Mapping[str, Any]) -> bytes:
    """``blob`` with its payload replaced and its header and signature kept (a forged BLOB)."""
    header, _, signature = blob.split(b".")
    return b".".join([header, b64url(_json(payload)).encode(), signature])


def metadata_statement(
    aaguid: uuid.UUID | str,
    *,
    description: str,
    root_certificates_der: Iterable[bytes],
    **overrides: Any,
) -> dict[str, Any]:
    """A FIDO2 MetadataStatement (MDS3 JSON spelling); ``overrides`` are camelCase members to replace."""
    aaguid = str(uuid.UUID(str(aaguid)))
    statement: dict[str, Any] = {
        "legalHeader": "Submission of this statement and retrieval and use of this statement indicates "
        "acceptance of the appropriate agreement located at https://fidoalliance.org/metadata/metadata-legal-terms/.",
        "aaguid": aaguid,
        "description": description,
        "authenticatorVersion": 50100,
        "protocolFamily": "fido2",
        "schema": 3,
        "upv": [{"major": 1, "minor": 0}],
        "authenticationAlgorithms": ["secp256r1_ecdsa_sha256_raw"],
        "publicKeyAlgAndEncodings": ["cose"],
        "attestationTypes": ["basic_full"],
        "userVerificationDetails": [[{"userVerificationMethod": "presence_internal"}]],
        "keyProtection": ["hardware", "secure_element"],
        "isKeyRestricted": True,
        "matcherProtection": ["on_chip"],
        "cryptoStrength": 128,
        "attachmentHint": ["external", "wired"],
        "tcDisplay": [],
        "attestationRootCertificates": [base64.b64encode(der).decode() for der in root_certificates_der],
        "authenticatorGetInfo": {
            "versions": ["FIDO_2_0", "FIDO_2_1"],
            "extensions": ["credProtect", "hmac-secret"],
            "aaguid": aaguid.replace("-", ""),
            "options": {"rk": True, "up": True, "plat": False, "clientPin": True},
            "maxMsgSize": 1200,
            "pinUvAuthProtocols": [2, 1],
            "transports": ["usb"],
            "algorithms": [{"type": "public-key", "alg": -7}],
        },
    }
    statement.update(overrides)
    return statement


def entry(
    aaguid: uuid.UUID | str,
    *,
    description: str,
    root_certificates_der: Iterable[bytes],
    statuses: Sequence[tuple[str, str]] = DEFAULT_STATUSES,
    time_of_last_status_change: str | None = None,
    statement: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One MetadataBlobPayloadEntry (MDS3 JSON spelling).

    ``statuses`` are (status, effectiveDate ISO) pairs in report order; ``time_of_last_status_change``
    defaults to the latest effective date. ``statement`` members override the metadataStatement's.
    """
    aaguid = str(uuid.UUID(str(aaguid)))
    reports = [{"status": status, "effectiveDate": effective} for status, effective in statuses]
    last_change = time_of_last_status_change or max((e for _, e in statuses), default="2024-01-15")
    return {
        "aaguid": aaguid,
        "metadataStatement": metadata_statement(
            aaguid, description=description, root_certificates_der=root_certificates_der, **(statement or {})
        ),
        "statusReports": reports,
        "timeOfLastStatusChange": last_change,
    }


def payload(no: int, entries: Sequence[Mapping[str, Any]], next_update: str = "2027-01-01") -> dict[str, Any]:
    """A MetadataBLOBPayload: ``no`` is the BLOB serial number a relying party must see increase."""
    return {"legalHeader": LEGAL_HEADER, "no": no, "nextUpdate": next_update, "entries": list(entries)}


@functools.cache
def bulk_root_der() -> bytes:
    """One P-256 attestation root shared by every bulk entry (a key per entry would dominate the time)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Bulk Attestation Root")])
    return _self_signed_root(ec.generate_private_key(ec.SECP256R1()), name).public_bytes(_DER)


def entries_bulk(
    n: int,
    *,
    statuses: Sequence[tuple[str, str]] = DEFAULT_STATUSES,
    root_certificates_der: Iterable[bytes] | None = None,
) -> list[dict[str, Any]]:
    """``n`` entries with distinct random AAGUIDs and descriptions ("Bulk Authenticator 0", ...)."""
    roots = list(root_certificates_der) if root_certificates_der is not None else [bulk_root_der()]
    return [
        entry(uuid.uuid4(), description=f"Bulk Authenticator {i}", root_certificates_der=roots, statuses=statuses)
        for i in range(n)
    ]
