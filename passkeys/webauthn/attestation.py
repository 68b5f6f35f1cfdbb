"""§7.1 steps 21-24: verify an attestation statement by its format, always; then say whether a trusted root (the
tenant's own, or the FIDO metadata's for the model) anchors it.

The formats are registered here, explicitly: python-fido2's own verifiers plus those it lacks (formats/).
"""

from __future__ import annotations

import functools
import uuid
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fido2.attestation import (
    AndroidSafetynetAttestation,
    AppleAttestation,
    Attestation,
    AttestationResult,
    AttestationType,
    FidoU2FAttestation,
    NoneAttestation,
    PackedAttestation,
    TpmAttestation,
    UnsupportedAttestation,
)
from fido2.webauthn import AttestationObject, AuthenticatorData

from core.errors import ErrorCode

from ..errors import PasskeyError
from .chains import chains_to
from .formats.android_key import AndroidKeyAttestation

if TYPE_CHECKING:
    from .metadata import Metadata

# The verdicts (passkeys.models.AttestationVerdict's values).
NONE, SELF, VERIFIED, UNTRUSTED = "none", "self", "verified", "untrusted"

# Every attestation statement format the service verifies (§8): a format not listed is attestation_invalid.
FORMATS: tuple[type[Attestation], ...] = (
    NoneAttestation,
    PackedAttestation,
    FidoU2FAttestation,
    AppleAttestation,
    TpmAttestation,
    AndroidSafetynetAttestation,
    AndroidKeyAttestation,
)


def format_verifier(fmt: object) -> Attestation:
    """§7.1 step 21: the verifier of the format named by fmt (case-sensitive); one that refuses if none is."""
    for cls in FORMATS:
        if cls.FORMAT == fmt:
            return cls()
    return UnsupportedAttestation(fmt)


@functools.lru_cache(maxsize=64)
def tenant_attestation_roots(pem: str) -> tuple[bytes, ...]:
    """The tenant's trusted roots as DER; a PEM that cannot be read trusts nothing (never everything)."""
    if not pem.strip():
        return ()
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise PasskeyError(
            "the tenant's attestation roots cannot be read", code=ErrorCode.ATTESTATION_UNTRUSTED
        ) from None
    return tuple(cert.public_bytes(Encoding.DER) for cert in certificates)


def attestation_verify(
    *,
    attestation_object: AttestationObject,
    client_data_hash: bytes,
    roots_pem: str,
    metadata: Metadata | None = None,
) -> str:
    """§7.1 steps 21-24: the statement verified by its format (a failure is attestation_invalid), then its verdict:
    "none", "self", "verified" (the chain ends at one of the tenant's roots or at the metadata's roots for this
    model, every certificate valid now) or "untrusted". A tenant with roots of its own trusts nothing else: any
    other verdict is refused with attestation_untrusted; policy on the verdict is the caller's."""
    fmt = attestation_object.fmt
    auth_data = attestation_object.auth_data
    try:
        result = format_verifier(fmt).verify(attestation_object.att_stmt, auth_data, client_data_hash)
    except Exception as exc:  # format verifiers raise InvalidData, AssertionError, NotImplementedError, …
        raise PasskeyError(f"{fmt!r} attestation failed: {exc}", code=ErrorCode.ATTESTATION_INVALID) from None
    roots = tenant_attestation_roots(roots_pem)
    verdict = _verdict(result, auth_data, roots=roots, metadata=metadata)
    if roots and verdict != VERIFIED:
        raise PasskeyError("the attestation does not chain to a trusted root", code=ErrorCode.ATTESTATION_UNTRUSTED)
    return verdict


def _verdict(
    result: AttestationResult, auth_data: AuthenticatorData, *, roots: tuple[bytes, ...], metadata: Metadata | None
) -> str:
    if result.attestation_type == AttestationType.NONE:
        return NONE
    if not result.trust_path:  # self attestation: the credential key signed its own statement
        return SELF
    if any(chains_to(result.trust_path, root) for root in roots):
        return VERIFIED
    credential_data = auth_data.credential_data
    aaguid = uuid.UUID(bytes=bytes(credential_data.aaguid)) if credential_data else uuid.UUID(int=0)
    if metadata is not None and metadata.root_for(result.trust_path, aaguid) is not None:
        return VERIFIED
    return UNTRUSTED
