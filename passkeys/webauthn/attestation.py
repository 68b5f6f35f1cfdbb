"""§7.1 steps 21-24: verify an attestation statement by its format, always; trust it only by the tenant's roots.

The formats are registered here, explicitly: python-fido2's own verifiers plus those it lacks (formats/).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fido2.attestation import (
    AndroidSafetynetAttestation,
    AppleAttestation,
    Attestation,
    AttestationResult,
    AttestationVerifier,
    FidoU2FAttestation,
    NoneAttestation,
    PackedAttestation,
    TpmAttestation,
    UnsupportedAttestation,
    UntrustedAttestation,
    verify_x509_chain,
)
from fido2.webauthn import AttestationObject, AuthenticatorData

from core.errors import ErrorCode

from ..errors import PasskeyError
from .formats.android_key import AndroidKeyAttestation

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


def chains_to(trust_path: list[bytes], root: bytes) -> bool:
    """Signatures link leaf to root, and every certificate is valid now (the library checks only signatures)."""
    if not trust_path:  # self and none attestation name no certificate at all
        return False
    chain = trust_path + [root]
    try:
        verify_x509_chain(chain)
        now = datetime.now(tz=UTC)
        certificates = [x509.load_der_x509_certificate(der) for der in chain]
    except Exception:  # noqa: BLE001 - any failure means "not this root"
        return False
    return all(c.not_valid_before_utc <= now <= c.not_valid_after_utc for c in certificates)


class TenantRootsVerifier(AttestationVerifier):
    """python-fido2's verifier over FORMATS, trusting a chain only to one of the tenant's roots, every certificate
    valid now. Roots that cannot be read trust nothing (attestation_untrusted), never everything."""

    def __init__(self, roots_pem: str) -> None:
        super().__init__([cls() for cls in FORMATS])
        self.roots_pem = roots_pem

    def ca_lookup(self, attestation_result: AttestationResult, auth_data: AuthenticatorData) -> bytes | None:
        # §7.1 step 23: the trust anchors are the tenant's; step 24: one of them must anchor the whole, current chain.
        roots = tenant_attestation_roots(self.roots_pem)
        return next((root for root in roots if chains_to(attestation_result.trust_path, root)), None)


def attestation_verify(*, attestation_object: AttestationObject, client_data_hash: bytes, roots_pem: str) -> None:
    """§7.1 steps 21-24. Without roots the tenant has no trust policy, but the statement is still verified."""
    fmt = attestation_object.fmt
    try:
        if roots_pem.strip():
            TenantRootsVerifier(roots_pem).verify_attestation(attestation_object, client_data_hash)
        else:  # §7.1 step 22 alone
            format_verifier(fmt).verify(attestation_object.att_stmt, attestation_object.auth_data, client_data_hash)
    except PasskeyError:
        raise
    except UntrustedAttestation:
        raise PasskeyError(
            "the attestation does not chain to a trusted root", code=ErrorCode.ATTESTATION_UNTRUSTED
        ) from None
    except Exception as exc:  # format verifiers raise InvalidData, AssertionError, NotImplementedError, …
        raise PasskeyError(f"{fmt!r} attestation failed: {exc}", code=ErrorCode.ATTESTATION_INVALID) from None
