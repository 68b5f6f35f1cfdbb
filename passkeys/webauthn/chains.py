"""X.509 chains, as attestation statements and the metadata BLOB carry them: trusted only when whole and current."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from fido2.attestation import verify_x509_chain


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
