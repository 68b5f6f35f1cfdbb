"""§7.1 Registering a New Credential: every step that needs no database, in the spec's order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fido2 import cbor
from fido2.cose import CoseKey
from fido2.webauthn import AttestedCredentialData, AuthenticatorData

from core.errors import ErrorCode
from tenants.models import Tenant

from .attestation import attestation_verify
from .checks import CONDITIONAL, Ceremony, check_authenticator_data, check_client_data, check_not_expired, fail
from .metadata import Metadata
from .parsing import ParsedResponse

MAX_CREDENTIAL_ID_BYTES = 1023


@dataclass(frozen=True)
class VerifiedRegistration:
    """What the service stores of a credential that passed §7.1."""

    credential_id: bytes
    public_key: bytes  # COSE_Key as CBOR
    algorithm: int
    sign_count: int
    aaguid: uuid.UUID
    attestation_format: str
    backup_eligible: bool
    backed_up: bool
    user_verified: bool
    transports: list[str]
    attachment: str | None
    discoverable: bool | None
    prf_enabled: bool
    attestation: str  # the verdict: none, self, verified, untrusted


def _check_public_key(key: CoseKey) -> None:
    """The key must be well-formed for its algorithm: curve, size, point on the curve."""
    alg = key.ALGORITHM
    try:
        if alg == -7:
            if key[1] != 2 or key[-1] != 1 or len(key[-2]) != 32 or len(key[-3]) != 32:
                raise ValueError("ES256 needs an EC2 key on P-256")
            ec.EllipticCurvePublicNumbers(
                int.from_bytes(key[-2], "big"), int.from_bytes(key[-3], "big"), ec.SECP256R1()
            ).public_key()
        elif alg == -8:
            if key[1] != 1 or key[-1] != 6:
                raise ValueError("EdDSA needs an OKP key on Ed25519")
            ed25519.Ed25519PublicKey.from_public_bytes(key[-2])
        elif alg == -257:
            n = int.from_bytes(key[-1], "big")
            if key[1] != 3 or n.bit_length() < 2048:
                raise ValueError("RS256 needs an RSA key of at least 2048 bits")
            rsa.RSAPublicNumbers(int.from_bytes(key[-2], "big"), n).public_key()
        else:
            raise ValueError(f"algorithm {alg} is not supported")
    except (KeyError, TypeError, ValueError) as exc:
        raise fail(ErrorCode.UNSUPPORTED_ALGORITHM, f"the credential public key is not valid: {exc}") from None


def _attested_credential(parsed: ParsedResponse, auth_data: AuthenticatorData) -> AttestedCredentialData:
    """The AT flag's attested credential data, naming the credential the response's rawId names."""
    credential_data = auth_data.credential_data
    if credential_data is None:
        raise fail(ErrorCode.VALIDATION_ERROR, "authenticatorData carries no attested credential data")
    if credential_data.credential_id != parsed.raw_id:
        raise fail(ErrorCode.VALIDATION_ERROR, "rawId does not match the attested credential id")
    return credential_data


def registration_verify(
    *, tenant: Tenant, parsed: ParsedResponse, pending: Ceremony, metadata: Metadata | None = None
) -> VerifiedRegistration:
    """§7.1 steps 5-25 for a registration response and the pending ceremony it answers.

    Steps 5-6 (clientDataJSON) and 12 (the attestation object's CBOR) were done by parsing; step 26 (the id is not
    registered yet) needs the database: registration_finish's INSERT refuses it by a unique constraint.
    """
    check_not_expired(pending)
    # Steps 7-10: type, challenge, origin, crossOrigin/topOrigin.
    check_client_data(parsed, expected_type="webauthn.create", pending=pending, tenant=tenant)
    # Step 11: hash, the SHA-256 of clientDataJSON: parsed.client_data.hash, used in step 22.
    attestation_object = parsed.response.response.attestation_object
    auth_data = attestation_object.auth_data
    # Steps 13-16: rpIdHash, UP unless the ceremony is a conditional create, UV when required, BS only with BE.
    # A conditional challenge issued before the tenant turned automatic upgrades off gets no relaxation either.
    conditional_create = pending.mediation == CONDITIONAL and tenant.automatic_upgrades
    check_authenticator_data(auth_data, pending=pending, tenant=tenant, conditional_create=conditional_create)
    # Steps 17-18: BE and BS inform no registration policy; they are stored with the credential.
    credential_data = _attested_credential(parsed, auth_data)
    # Step 19: the key's algorithm is one the options offered, and the key is valid for it.
    public_key = credential_data.public_key
    if public_key.get(3) not in pending.algorithms:
        raise fail(ErrorCode.UNSUPPORTED_ALGORITHM, f"algorithm {public_key.get(3)} was not offered")
    _check_public_key(public_key)
    # Step 20: extension outputs: credProps.rk and prf.enabled are advisory and stored; others are ignored.
    # Steps 21-24: the statement verified by its format; its verdict from the tenant's roots or the FIDO metadata.
    verdict = attestation_verify(
        attestation_object=attestation_object,
        client_data_hash=parsed.client_data.hash,
        roots_pem=tenant.attestation_roots,
        metadata=metadata,
    )
    # Step 25: credentialId is at most 1023 bytes.
    if len(credential_data.credential_id) > MAX_CREDENTIAL_ID_BYTES:
        raise fail(ErrorCode.VALIDATION_ERROR, "credential id is longer than 1023 bytes")
    return VerifiedRegistration(
        credential_id=credential_data.credential_id,
        public_key=cbor.encode(public_key),
        algorithm=public_key[3],
        sign_count=auth_data.counter,
        aaguid=uuid.UUID(bytes=bytes(credential_data.aaguid)),
        attestation_format=attestation_object.fmt,
        backup_eligible=auth_data.is_backup_eligible(),
        backed_up=auth_data.is_backed_up(),
        user_verified=auth_data.is_user_verified(),
        transports=parsed.transports,
        attachment=parsed.attachment,
        discoverable=parsed.discoverable,
        prf_enabled=parsed.prf_enabled,
        attestation=verdict,
    )
