"""The android-key verifier (WebAuthn Level 3 §8.4): the real FIDO conformance capture, and synthetic certificates
that each break one rule of the key description extension."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fido2 import cbor
from fido2.attestation import Attestation, AttestationType, InvalidData, InvalidSignature
from fido2.cose import ES256
from fido2.utils import sha256, websafe_decode, websafe_encode
from fido2.webauthn import AttestationObject, AttestedCredentialData, AuthenticatorData
from pyasn1.codec.der import encoder
from pyasn1.type import tag, univ

from passkeys import webauthn
from passkeys.challenges import PendingCeremony
from passkeys.errors import PasskeyError
from passkeys.webauthn.formats.android_key import OID_KEY_DESCRIPTION, AndroidKeyAttestation, parse_key_description
from tenants.models import Tenant

VECTOR = Path(__file__).parent / "vectors" / "android_key_fido_conformance.json"
KM_ORIGIN_IMPORTED, KM_PURPOSE_VERIFY = 2, 3


def _b64(value: str) -> bytes:
    return websafe_decode(value.replace("+", "-").replace("/", "_").rstrip("="))


def _flip(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


@pytest.fixture
def vector() -> dict[str, Any]:
    return json.loads(VECTOR.read_text())


@pytest.fixture
def capture(vector) -> tuple[dict[str, Any], AuthenticatorData, bytes]:
    """(attStmt, authData, clientDataHash) of the real capture."""
    response = vector["credential"]["response"]
    attestation = AttestationObject(_b64(response["attestationObject"]))
    return dict(attestation.att_stmt), attestation.auth_data, sha256(_b64(response["clientDataJSON"]))


def _verify(statement: dict[str, Any], auth_data: AuthenticatorData, client_data_hash: bytes):
    return webauthn.format_verifier("android-key").verify(statement, auth_data, client_data_hash)


def _pending(challenge: str) -> PendingCeremony:
    return PendingCeremony(
        tenant_id="", ceremony="", challenge=challenge, user_verification="preferred",
        expires_at=time.time() + 300, algorithms=[-8, -7, -257],
    )  # fmt: skip


# --- the real capture ------------------------------------------------------------------------------------------


def test_the_adapter_registers_the_format_explicitly():
    assert AndroidKeyAttestation in webauthn.FORMATS
    assert type(webauthn.format_verifier("android-key")) is AndroidKeyAttestation
    assert Attestation.for_type("android-key") is AndroidKeyAttestation  # python-fido2's own lookup agrees


def test_real_capture_verifies_as_basic_with_its_chain(capture):
    statement, auth_data, client_data_hash = capture

    result = _verify(statement, auth_data, client_data_hash)

    assert result.attestation_type == AttestationType.BASIC
    assert result.trust_path == statement["x5c"] and len(result.trust_path) == 2


def test_real_capture_key_description_is_software_enforced(capture):
    statement, _, client_data_hash = capture
    leaf = x509.load_der_x509_certificate(statement["x5c"][0])

    challenge, software, tee = parse_key_description(
        leaf.extensions.get_extension_for_oid(OID_KEY_DESCRIPTION).value.value
    )

    # The conformance key claims TEE enforcement: origin and purpose are in teeEnforced; softwareEnforced holds
    # only fields the verifier does not read (creationDateTime, attestationApplicationId).
    assert challenge == client_data_hash
    assert software == {}
    assert sorted(tee) == [1, 702] and int(tee[702]) == 0 and [int(p) for p in tee[1]] == [2]


def test_real_capture_registers_through_the_adapter(vector):
    tenant = Tenant(
        name="Vectors",
        rp_id=vector["rp_id"],
        rp_name="Vectors",
        origins=[vector["origin"]],
        algorithms=[-8, -7, -257],
        attestation="direct",
        attestation_roots="",
    )
    credential = vector["credential"]
    for member in ("clientDataJSON", "attestationObject"):
        credential["response"][member] = websafe_encode(_b64(credential["response"][member]))

    verified = webauthn.registration_verify(
        tenant=tenant,
        parsed=webauthn.registration_parse(credential),
        pending=_pending(vector["challenge"]),
    )

    assert verified.attestation_format == "android-key"
    assert verified.sign_count == 96

    attestation = cbor.decode(websafe_decode(credential["response"]["attestationObject"]))
    attestation["attStmt"]["sig"] = _flip(attestation["attStmt"]["sig"])
    credential["response"]["attestationObject"] = websafe_encode(cbor.encode(attestation))
    with pytest.raises(PasskeyError) as failure:
        webauthn.registration_verify(
            tenant=tenant,
            parsed=webauthn.registration_parse(credential),
            pending=_pending(vector["challenge"]),
        )
    assert failure.value.code == "attestation_invalid" and "android-key" in failure.value.detail


def test_real_capture_with_a_flipped_signature_byte_is_rejected(capture):
    statement, auth_data, client_data_hash = capture

    with pytest.raises(InvalidSignature):
        _verify({**statement, "sig": _flip(statement["sig"])}, auth_data, client_data_hash)


def test_real_capture_with_another_certificate_first_is_rejected(capture):
    # The intermediate's key is not the credential key, so it did not make sig (step 2 fails before step 3).
    statement, auth_data, client_data_hash = capture
    swapped = {**statement, "x5c": statement["x5c"][::-1]}

    with pytest.raises(InvalidSignature):
        _verify(swapped, auth_data, client_data_hash)


def test_real_capture_with_another_client_data_hash_is_rejected(capture):
    statement, auth_data, client_data_hash = capture

    with pytest.raises(InvalidSignature):
        _verify(statement, auth_data, _flip(client_data_hash))


@pytest.mark.parametrize(
    "change",
    [
        {"x5c": None},
        {"alg": None},
        {"sig": None},
        {"x5c": []},
        {"x5c": ["not bytes"]},
        {"x5c": [b"not a certificate"]},
        {"alg": "-7"},
        {"alg": True},
        {"alg": -257},  # an RS256 algorithm for the leaf's EC key
    ],
    ids=repr,
)
def test_malformed_statement_is_invalid_data(capture, change):
    statement, auth_data, client_data_hash = capture
    broken = {k: v for k, v in {**statement, **change}.items() if v is not None}

    with pytest.raises(InvalidData):
        _verify(broken, auth_data, client_data_hash)


# --- synthetic certificates ------------------------------------------------------------------------------------


def _explicit(number: int, value: Any) -> Any:
    return value.subtype(explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, number))


def _authorization_list(
    *, purpose: list[int] | None = None, origin: int | None = None, all_apps: bool = False, extra: Any = None
) -> univ.Sequence:
    fields: list[Any] = [] if extra is None else [extra]
    if purpose is not None:
        purposes = _explicit(1, univ.SetOf(componentType=univ.Integer()))  # subtype() would drop components
        for index, value in enumerate(purpose):
            purposes.setComponentByPosition(index, univ.Integer(value))
        fields.append(purposes)
    fields.append(_explicit(2, univ.Integer(3)))  # algorithm: EC — a field the verifier does not read
    if all_apps:
        fields.append(_explicit(600, univ.Null("")))
    if origin is not None:
        fields.append(_explicit(702, univ.Integer(origin)))
    fields.append(_explicit(709, univ.OctetString(b"application id")))  # attestationApplicationId: ignored
    sequence = univ.Sequence()
    for index, value in enumerate(fields):
        sequence.setComponentByPosition(index, value)
    return sequence


EMPTY = univ.Sequence()  # an AuthorizationList with no fields, as a software-only key's teeEnforced
IMPLICIT_ALL_APPS = univ.Null("").subtype(implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, 600))


def _key_description(challenge: bytes, software: univ.Sequence, tee: univ.Sequence) -> bytes:
    description = univ.Sequence()
    fields = [univ.Integer(3), univ.Enumerated(1), univ.Integer(4), univ.Enumerated(1)]
    fields += [univ.OctetString(challenge), univ.OctetString(b""), software, tee]
    for index, value in enumerate(fields):
        description.setComponentByPosition(index, value)
    return encoder.encode(description)


def _certificate(subject_key, issuer_key, extension: bytes | None) -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Android Keystore Key")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Synthetic Attestation CA")]))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if extension is not None:
        builder = builder.add_extension(x509.UnrecognizedExtension(OID_KEY_DESCRIPTION, extension), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(Encoding.DER)


def _synthetic(
    *,
    challenge: bytes | None = None,
    software: univ.Sequence | None = None,
    tee: univ.Sequence | None = None,
    extension: bytes | None | bool = True,
    credential_key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[dict[str, Any], AuthenticatorData, bytes]:
    """A statement whose leaf certifies the attested key, with the given key description (default: a valid one)."""
    attested_key = ec.generate_private_key(ec.SECP256R1())
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    client_data_hash = sha256(b'{"type":"webauthn.create"}')
    if extension is True:
        software = _authorization_list() if software is None else software
        tee = _authorization_list(purpose=[2], origin=0) if tee is None else tee
        extension = _key_description(client_data_hash if challenge is None else challenge, software, tee)
    leaf = _certificate(attested_key, issuer_key, extension or None)
    root = _certificate(issuer_key, issuer_key, None)
    public_key = ES256.from_cryptography_key((credential_key or attested_key).public_key())
    auth_data = AuthenticatorData.create(
        sha256(b"example.com"),
        AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.AT,
        0,
        AttestedCredentialData.create(bytes(16), b"credential-id", public_key),
    )
    signature = attested_key.sign(auth_data + client_data_hash, ec.ECDSA(hashes.SHA256()))
    return {"alg": -7, "sig": signature, "x5c": [leaf, root]}, auth_data, client_data_hash


@pytest.mark.parametrize(
    "lists",
    [
        {},  # everything in teeEnforced
        {"software": _authorization_list(purpose=[2], origin=0), "tee": _authorization_list()},  # software-only key
        {"software": _authorization_list(purpose=[2], origin=0), "tee": EMPTY},  # software-only, empty teeEnforced
        {"tee": _authorization_list(purpose=[KM_PURPOSE_VERIFY, 2], origin=0)},  # SIGN among other purposes
        {"software": _authorization_list(origin=0), "tee": _authorization_list(purpose=[2])},  # split over lists
    ],
    ids=["tee", "software", "software-empty-tee", "sign-and-verify", "split"],
)
def test_synthetic_key_description_verifies(lists):
    statement, auth_data, client_data_hash = _synthetic(**lists)

    result = _verify(statement, auth_data, client_data_hash)

    assert result.attestation_type == AttestationType.BASIC
    assert result.trust_path == statement["x5c"]


CHALLENGE, ALL_APPS, ORIGIN, PURPOSE, DER = "attestationChallenge", "allApplications", "origin", "PURPOSE", "DER"


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        pytest.param({"challenge": sha256(b"another ceremony")}, CHALLENGE, id="wrong-challenge"),
        pytest.param({"software": _authorization_list(all_apps=True)}, ALL_APPS, id="allApplications-software"),
        pytest.param({"tee": _authorization_list(purpose=[2], origin=0, all_apps=True)}, ALL_APPS, id="allApps-tee"),
        pytest.param({"tee": _authorization_list(purpose=[2], origin=KM_ORIGIN_IMPORTED)}, ORIGIN, id="imported"),
        pytest.param({"tee": _authorization_list(purpose=[2])}, ORIGIN, id="origin-absent"),
        # teeEnforced wins over softwareEnforced: an imported key is not rescued by a software claim.
        pytest.param(
            {"software": _authorization_list(origin=0), "tee": _authorization_list(purpose=[2], origin=2)},
            ORIGIN,
            id="tee-origin-wins",
        ),
        pytest.param({"tee": _authorization_list(purpose=[KM_PURPOSE_VERIFY], origin=0)}, PURPOSE, id="verify-only"),
        pytest.param({"tee": _authorization_list(purpose=[], origin=0)}, PURPOSE, id="purpose-empty"),
        pytest.param({"tee": _authorization_list(origin=0)}, PURPOSE, id="purpose-absent"),
        pytest.param({"software": EMPTY, "tee": EMPTY}, ORIGIN, id="both-lists-empty"),
        # A field the verifier reads, wrongly encoded (here allApplications IMPLICIT), is refused, not skipped.
        pytest.param({"software": _authorization_list(extra=IMPLICIT_ALL_APPS)}, DER, id="allApps-implicit"),
        pytest.param(
            {"tee": _authorization_list(purpose=[2], origin=0, extra=_explicit(702, univ.Integer(0)))},
            "repeats",
            id="repeated-field",
        ),
        pytest.param({"extension": None}, "no Android key description", id="no-extension"),
        pytest.param({"extension": b"\x30\x03\x02\x01"}, DER, id="truncated-extension"),
        pytest.param({"extension": b"\x30\x03\x02\x01\x02"}, DER, id="not-a-key-description"),
        # Step 3: the leaf certifies (and signed with) a key other than the credential's.
        pytest.param(
            {"credential_key": ec.generate_private_key(ec.SECP256R1())}, "not the credential", id="another-key"
        ),
    ],
)
def test_synthetic_rule_violation_is_invalid_data(broken, reason):
    statement, auth_data, client_data_hash = _synthetic(**broken)

    with pytest.raises(InvalidData, match=reason):
        _verify(statement, auth_data, client_data_hash)


def test_leaf_key_of_another_type_than_the_credential_key_is_invalid_data():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    statement, auth_data, client_data_hash = _synthetic()
    leaf = x509.load_der_x509_certificate(statement["x5c"][0])
    extension = leaf.extensions.get_extension_for_oid(OID_KEY_DESCRIPTION).value.value
    rsa_leaf = _certificate(rsa_key, rsa_key, extension)
    signature = rsa_key.sign(auth_data + client_data_hash, padding.PKCS1v15(), hashes.SHA256())

    with pytest.raises(InvalidData):
        _verify({"alg": -257, "sig": signature, "x5c": [rsa_leaf]}, auth_data, client_data_hash)
