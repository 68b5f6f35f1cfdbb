"""Real authenticators' attestation statements verify by their format, fail when touched, and obey trust policy.

The vectors in tests/passkeys/vectors/ are complete RegistrationResponseJSON captures published in
duo-labs/py_webauthn's tests (each file names its source); the root certificates are the vendors' published
roots (each .pem names where it was copied from). They are driven through the adapter exactly as
registration_finish does, against an unsaved tenant whose rp id and origin are the capture's.
"""

from __future__ import annotations

import datetime
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fido2 import cbor
from fido2.attestation import verify_x509_chain
from fido2.utils import sha256, websafe_decode, websafe_encode

from passkeys import webauthn
from passkeys.challenges import PendingCeremony
from passkeys.errors import PasskeyError
from tenants.models import Tenant
from tests.support.authenticator import make_attestation_chain

VECTORS = Path(__file__).parent / "vectors"
ALGORITHMS = [-8, -7, -257]

# vector: (fmt, aaguid, COSE algorithm, signCount, UV flag), read off each capture's authenticator data.
EXPECTED = {
    "packed_yubikey_firefox": ("packed", "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73", -7, 52, True),
    "fido_u2f_yubikey_firefox": ("fido-u2f", "00000000-0000-0000-0000-000000000000", -7, 0, False),
    "apple_passkey": ("apple", "f24a8e70-d0d3-f82c-2937-32523cc4de5a", -7, 0, True),
    "tpm_surface_pro_4": ("tpm", "08987058-cadc-4b81-b6e1-30de50dcbe96", -257, 0, True),
    "android_safetynet": ("android-safetynet", "b93fd961-f2e6-462f-b122-82002247de78", -7, 0, True),
    "android_key_fido_conformance": ("android-key", "550e4b54-aa47-409f-9a95-1ab76c130131", -7, 96, False),
}
SIGNED_FORMATS = [name for name in EXPECTED if name != "android_key_fido_conformance"]
ROOTS = {
    "packed_yubikey_firefox": "yubico_u2f_root_ca_457200631.pem",
    "fido_u2f_yubikey_firefox": "yubico_u2f_root_ca_457200631.pem",
    "apple_passkey": "apple_webauthn_root_ca.pem",
    "tpm_surface_pro_4": "microsoft_tpm_root_ca_2014.pem",
}
IN_DATE_CHAINS = ["packed_yubikey_firefox", "fido_u2f_yubikey_firefox"]  # Yubico's leaves are valid until 2050
EXPIRED_CHAINS = ["apple_passkey", "tpm_surface_pro_4"]  # Apple's leaf lived 3 days in 2021; the TPM's to 2025


def _base64url(value: str) -> str:
    # py_webauthn accepts standard base64 and some captures use it; toJSON() emits base64url without padding.
    return websafe_encode(websafe_decode(value.replace("+", "-").replace("/", "_").rstrip("=")))


def _vector(name: str) -> dict[str, Any]:
    vector = json.loads((VECTORS / f"{name}.json").read_text())
    response = vector["credential"]["response"]
    for member in ("clientDataJSON", "attestationObject"):
        response[member] = _base64url(response[member])
    return vector


def _root_pem(name: str) -> str:
    return (VECTORS / ROOTS[name]).read_text()


def _unrelated_root_pem() -> str:
    root_der, _, _ = make_attestation_chain(bytes(16))
    return x509.load_der_x509_certificate(root_der).public_bytes(Encoding.PEM).decode()


def _register(
    vector: dict[str, Any], *, credential: dict[str, Any] | None = None, roots: str = ""
) -> webauthn.VerifiedRegistration:
    """What registration_finish does once it holds the pending ceremony, for the capture's relying party."""
    tenant = Tenant(
        name="Vectors",
        rp_id=vector["rp_id"],
        rp_name="Vectors",
        origins=[vector["origin"]],
        algorithms=ALGORITHMS,
        attestation="direct",
        attestation_roots=roots,
    )
    pending = PendingCeremony(
        tenant_id="", ceremony="", challenge=vector["challenge"], user_verification="preferred",
        expires_at=time.time() + 300, algorithms=ALGORITHMS,
    )  # fmt: skip
    return webauthn.registration_verify(
        tenant=tenant, parsed=webauthn.registration_parse(credential or vector["credential"]), pending=pending
    )


def _flip(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def _tampered(vector: dict[str, Any]) -> dict[str, Any]:
    """The capture with one byte of its attestation signature flipped; nothing else changes.

    apple has no signature: the leaf certificate's nonce extension (sha256(authData || clientDataHash)) is
    what binds it, so flip a byte of that. android-safetynet signs a JWS: flip a byte of its signature.
    """
    credential = vector["credential"]
    response = credential["response"]
    attestation = cbor.decode(websafe_decode(response["attestationObject"]))
    stmt = attestation["attStmt"]
    if "sig" in stmt:
        stmt["sig"] = _flip(stmt["sig"])
    elif attestation["fmt"] == "apple":
        leaf = stmt["x5c"][0]
        nonce = sha256(attestation["authData"] + sha256(websafe_decode(response["clientDataJSON"])))
        assert leaf.count(nonce) == 1
        stmt["x5c"] = [leaf.replace(nonce, _flip(nonce)), *stmt["x5c"][1:]]
    else:
        assert attestation["fmt"] == "android-safetynet"
        signed, signature = stmt["response"].rsplit(b".", 1)
        stmt["response"] = signed + b"." + websafe_encode(_flip(websafe_decode(signature))).encode()
    tampered = websafe_encode(cbor.encode(attestation))
    assert tampered != response["attestationObject"]
    return {**credential, "response": {**response, "attestationObject": tampered}}


@pytest.mark.parametrize("name", EXPECTED)
def test_registration_verifies_real_attestation_of_each_format(name):
    vector = _vector(name)
    fmt, aaguid, algorithm, sign_count, user_verified = EXPECTED[name]

    verified = _register(vector)

    assert verified.attestation_format == fmt
    assert verified.aaguid == uuid.UUID(aaguid)
    assert verified.algorithm == algorithm
    assert verified.credential_id == websafe_decode(vector["credential"]["rawId"])
    assert verified.sign_count == sign_count
    assert verified.user_verified is user_verified
    assert cbor.decode(verified.public_key)[3] == algorithm


@pytest.mark.parametrize("name", SIGNED_FORMATS)
def test_registration_rejects_attestation_with_a_flipped_byte(name):
    vector = _vector(name)

    with pytest.raises(PasskeyError) as failure:
        _register(vector, credential=_tampered(vector))

    assert failure.value.code == "attestation_invalid"
    assert EXPECTED[name][0] in failure.value.detail


@pytest.mark.parametrize("name", IN_DATE_CHAINS)
def test_trust_policy_accepts_attestation_chaining_to_a_configured_root(name):
    vector = _vector(name)

    verified = _register(vector, roots=_root_pem(name))
    # An unrelated root listed first does not stop the real one from being tried.
    also_verified = _register(vector, roots=_unrelated_root_pem() + _root_pem(name))

    assert verified.attestation_format == also_verified.attestation_format == EXPECTED[name][0]


@pytest.mark.parametrize("name", ROOTS)
def test_trust_policy_rejects_attestation_not_chaining_to_a_configured_root(name):
    vector = _vector(name)
    other_vendor = next(pem for other, pem in ROOTS.items() if pem != ROOTS[name])

    for roots in (_unrelated_root_pem(), (VECTORS / other_vendor).read_text()):
        with pytest.raises(PasskeyError) as failure:
            _register(vector, roots=roots)
        assert failure.value.code == "attestation_untrusted"


@pytest.mark.parametrize("name", EXPIRED_CHAINS)
def test_trust_policy_rejects_attestation_chain_with_an_expired_certificate(name):
    vector = _vector(name)
    stmt = cbor.decode(websafe_decode(vector["credential"]["response"]["attestationObject"]))["attStmt"]
    root = x509.load_pem_x509_certificate(_root_pem(name).encode())
    chain = [*stmt["x5c"], root.public_bytes(Encoding.DER)]
    verify_x509_chain(chain)  # the signatures do chain to the vendor's root: only the dates are wrong
    now = datetime.datetime.now(datetime.UTC)
    assert any(x509.load_der_x509_certificate(der).not_valid_after_utc < now for der in stmt["x5c"])

    with pytest.raises(PasskeyError) as failure:
        _register(vector, roots=_root_pem(name))

    assert failure.value.code == "attestation_untrusted"
