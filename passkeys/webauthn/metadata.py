"""The FIDO Metadata Service (MDS3), through python-fido2's fido2.mds3: verify a BLOB against the metadata root,
and answer what a registration asks of the metadata (which roots anchor this model, what it is called, its status).
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fido2.mds3 import MdsAttestationVerifier, MetadataBlobPayload, MetadataBlobPayloadEntry, parse_blob
from fido2.utils import websafe_decode
from fido2.webauthn import Aaguid

from core.errors import DomainError

from .chains import chains_to

# Statuses that say a model can no longer be trusted (FIDO MDS3 §3.1.4): under "enforce" a registration with such
# a model is refused and the logins of its credentials too.
COMPROMISED = frozenset(
    {
        "REVOKED",
        "USER_VERIFICATION_BYPASS",
        "ATTESTATION_KEY_COMPROMISE",
        "USER_KEY_REMOTE_COMPROMISE",
        "USER_KEY_PHYSICAL_COMPROMISE",
    }
)
MAX_BLOB_BYTES = 64 * 1024 * 1024  # the FIDO BLOB is about 7 MB in 2026
MAX_BLOB_NO = 2**31 - 1  # the column's range
UNKNOWN_STATUS = "UNKNOWN"  # a status this python-fido2 does not know (a newer MDS): kept, never a crash


class MetadataRefused(DomainError):
    """A BLOB that does not verify, or does not parse as MDS3: nothing is imported."""


@dataclass(frozen=True)
class VerifiedBlob:
    no: int
    next_update: date
    legal_header: str
    payload: dict[str, Any]  # as the BLOB carried it, for storing
    metadata: Metadata


def metadata_root_der(pem: bytes) -> bytes:
    """The metadata root certificate (PEM) as DER; an unreadable file is a configuration error, said plainly."""
    try:
        return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    except ValueError as exc:
        raise MetadataRefused(f"The metadata root certificate cannot be read: {exc}") from None


def metadata_blob_verify(blob: bytes, *, root_der: bytes) -> VerifiedBlob:
    """The BLOB's x5c chain must end at the metadata root, every certificate valid today, and its RS256/ES256
    signature must verify (fido2.mds3.parse_blob); then its payload parses as MDS3."""
    if len(blob) > MAX_BLOB_BYTES:
        raise MetadataRefused(f"The BLOB is larger than {MAX_BLOB_BYTES} bytes.")
    try:
        blob = blob.strip()
        header = json.loads(websafe_decode(blob.split(b".")[0]))
        chain = [x509.load_der_x509_certificate(_standard_b64(der)).public_bytes(Encoding.DER) for der in header["x5c"]]
        payload = parse_blob(blob, root_der)
    except Exception as exc:  # noqa: BLE001 - a BLOB is untrusted input: every failure is a refusal
        reason = str(exc) or type(exc).__name__
        raise MetadataRefused(f"The BLOB does not verify against the metadata root: {reason}") from None
    if not chains_to(chain, root_der):
        raise MetadataRefused("The BLOB's certificate chain is not valid today.")
    text = websafe_decode(blob.split(b".")[1]).decode("utf-8", "replace")
    if "\\u0000" in text or "\x00" in text:  # PostgreSQL's jsonb cannot hold NUL
        raise MetadataRefused("The BLOB verified, but its payload contains NUL characters.")
    try:
        if not 0 <= int(payload.no) <= MAX_BLOB_NO:
            raise ValueError(f"no {payload.no} is out of range")
        metadata = Metadata(payload)
    except Exception as exc:  # noqa: BLE001 - signed, but not a payload the service can use
        raise MetadataRefused(f"The BLOB verified, but its payload is not usable MDS3: {exc}") from None
    return VerifiedBlob(
        no=payload.no,
        next_update=payload.next_update,
        legal_header=payload.legal_header,
        payload=json.loads(text),
        metadata=metadata,
    )


def _standard_b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


@dataclass(frozen=True)
class ModelInfo:
    """What the metadata says of one authenticator model."""

    description: str
    status: str  # the latest status report's status; "" without reports


class Metadata:
    """A verified payload, indexed once: trust roots per model (python-fido2's MdsAttestationVerifier, which refuses
    chains through a compromised attestation key) and each model's latest status. Every entry is kept, a revoked
    one too: its chain still verifies, and the policy refuses it by its latest status (a model certified again after
    a revocation is trusted again, where the library's default filter would drop it for any REVOKED report)."""

    def __init__(self, payload: MetadataBlobPayload) -> None:
        self.no = payload.no
        self.verifier = MdsAttestationVerifier(payload, entry_filter=None)
        self._models: dict[uuid.UUID, ModelInfo] = {}
        for entry in payload.entries:
            if not entry.aaguid:
                continue
            aaguid, info = uuid.UUID(bytes=bytes(entry.aaguid)), _model_info(entry)
            held = self._models.get(aaguid)
            # Two entries for one model: the first stands, unless only the second reports a compromise.
            if held is None or (info.status in COMPROMISED and held.status not in COMPROMISED):
                self._models[aaguid] = info

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Metadata:
        """A payload verified when it was imported, read back without verifying the BLOB again."""
        return cls(MetadataBlobPayload.from_dict(payload))

    def model(self, aaguid: uuid.UUID) -> ModelInfo | None:
        return self._models.get(aaguid)

    def statuses(self) -> dict[uuid.UUID, str]:
        return {aaguid: info.status for aaguid, info in self._models.items()}

    def root_for(self, trust_path: list[bytes], aaguid: uuid.UUID) -> bytes | None:
        """The metadata root that anchors this attestation chain for this model, every certificate valid now; None
        also when the model names itself by no AAGUID (its status could not be followed) or an entry's roots do
        not parse (a signed BLOB may still carry a certificate this cryptography refuses)."""
        if aaguid.int == 0:
            return None
        try:
            root = self.verifier.ca_lookup(_TrustPath(trust_path), _AuthData(aaguid))
        except Exception:  # noqa: BLE001 - an unreadable root trusts nothing
            return None
        return root if root is not None and chains_to(trust_path, root) else None


def _model_info(entry: MetadataBlobPayloadEntry) -> ModelInfo:
    """The latest report by effectiveDate; an undated compromise report counts as the latest (the safe reading)."""
    statuses = [(report.effective_date or date.min, _status(report)) for report in entry.status_reports]
    undated_compromise = [status for day, status in statuses if day == date.min and status in COMPROMISED]
    latest = max(statuses, key=lambda dated: dated[0])[1] if statuses else ""
    statement = entry.metadata_statement
    description = statement.description if statement and isinstance(statement.description, str) else ""
    return ModelInfo(description=description[:200], status=undated_compromise[-1] if undated_compromise else latest)


def _status(report: Any) -> str:
    return str(getattr(report.status, "value", None) or UNKNOWN_STATUS)


@dataclass(frozen=True)
class _TrustPath:
    """The part of an AttestationResult MdsAttestationVerifier.ca_lookup reads."""

    trust_path: list[bytes]


class _AuthData:
    """The part of AuthenticatorData MdsAttestationVerifier.ca_lookup reads: the AAGUID (zero: look up by chain)."""

    def __init__(self, aaguid: uuid.UUID) -> None:
        self.credential_data = _CredentialData(Aaguid(aaguid.bytes))


@dataclass(frozen=True)
class _CredentialData:
    aaguid: Aaguid
