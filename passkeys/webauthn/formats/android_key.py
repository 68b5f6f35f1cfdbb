"""The "android-key" attestation statement format (WebAuthn Level 3 §8.4), which python-fido2 does not verify.

The adapter uses it because passkeys.webauthn.attestation.FORMATS lists it. Trust in the chain (x5c to a Google
root) is the caller's policy, as for every format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature as _InvalidSignature
from cryptography.hazmat.primitives.constant_time import bytes_eq
from fido2.attestation import Attestation, AttestationResult, AttestationType, InvalidData, InvalidSignature
from fido2.attestation.base import catch_builtins
from fido2.cose import CoseKey
from fido2.webauthn import AuthenticatorData
from pyasn1.codec.der import decoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import namedtype, tag, univ

__all__ = ["OID_KEY_DESCRIPTION", "AndroidKeyAttestation", "parse_key_description"]

OID_KEY_DESCRIPTION = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.1.17")
# AuthorizationList field tags (Android Keystore KeyDescription schema) and the values §8.4 requires.
TAG_PURPOSE, TAG_ALL_APPLICATIONS, TAG_ORIGIN = 1, 600, 702
KM_PURPOSE_SIGN, KM_ORIGIN_GENERATED = 2, 0
# Errors that fido2's CoseKey raises for a key of the wrong type (from_cryptography_key asserts the type).
_KEY_ERRORS = (AssertionError, AttributeError, TypeError, NotImplementedError)


def _explicit(number: int, spec: Any) -> Any:
    return spec.subtype(explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, number))


class _AuthorizationList(univ.SequenceOf):
    # SEQUENCE of dozens of OPTIONAL [n] EXPLICIT fields, more with each Android release: each is kept as its raw TLV
    # and only those §8.4 reads are decoded (by _FIELDS). pyasn1's schema-less decoding would keep the tags but
    # breaks on empty SEQUENCE/SET values, e.g. a software-only key's empty teeEnforced.
    componentType = univ.Any()


class _KeyDescription(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("attestationVersion", univ.Integer()),
        namedtype.NamedType("attestationSecurityLevel", univ.Enumerated()),
        namedtype.NamedType("keymasterVersion", univ.Integer()),  # keyMintVersion since attestation version 100
        namedtype.NamedType("keymasterSecurityLevel", univ.Enumerated()),
        namedtype.NamedType("attestationChallenge", univ.OctetString()),
        namedtype.NamedType("uniqueId", univ.OctetString()),
        namedtype.NamedType("softwareEnforced", _AuthorizationList()),
        namedtype.NamedType("teeEnforced", _AuthorizationList()),
    )


_FIELDS = {  # purpose [1] SET OF INTEGER, allApplications [600] NULL, origin [702] INTEGER, all EXPLICIT
    TAG_PURPOSE: _explicit(TAG_PURPOSE, univ.SetOf(componentType=univ.Integer())),
    TAG_ALL_APPLICATIONS: _explicit(TAG_ALL_APPLICATIONS, univ.Null()),
    TAG_ORIGIN: _explicit(TAG_ORIGIN, univ.Integer()),
}


def _tag_number(tlv: bytes) -> int:
    """The number of a context-specific tag from its DER identifier octets (X.690 §8.1.2), high numbers included."""
    if tlv[0] & 0xC0 != 0x80:
        raise InvalidData("AuthorizationList field is not context-tagged")
    if tlv[0] & 0x1F != 0x1F:
        return tlv[0] & 0x1F
    number = 0
    for octet in tlv[1:]:
        number = number << 7 | octet & 0x7F
        if not octet & 0x80:
            return number
    raise InvalidData("AuthorizationList field has a truncated tag")


def _decode(der: bytes, spec: Any) -> Any:
    try:
        value, rest = decoder.decode(der, asn1Spec=spec)
    except PyAsn1Error as exc:
        raise InvalidData(f"Android key description is not valid DER: {exc}") from None
    if rest:
        raise InvalidData("Android key description has trailing data")
    return value


def _authorization_list(fields: Any) -> dict[int, Any]:
    """The fields §8.4 reads, decoded, by tag number; other fields are only checked to be tagged once."""
    numbers = [_tag_number(bytes(field)) for field in fields]
    if len(set(numbers)) != len(numbers):
        raise InvalidData("AuthorizationList repeats a field")
    # A wrongly encoded field that §8.4 reads (not EXPLICIT, wrong type) is an error, never skipped.
    return {n: _decode(bytes(field), _FIELDS[n]) for n, field in zip(numbers, fields, strict=True) if n in _FIELDS}


@catch_builtins
def parse_key_description(der: bytes) -> tuple[bytes, dict[int, Any], dict[int, Any]]:
    """(attestationChallenge, softwareEnforced, teeEnforced) of a KeyDescription; raises InvalidData.

    Each list maps those of TAG_PURPOSE, TAG_ALL_APPLICATIONS and TAG_ORIGIN it holds to their pyasn1 values.
    """
    description = _decode(der, _KeyDescription())
    return (
        bytes(description["attestationChallenge"]),
        _authorization_list(description["softwareEnforced"]),
        _authorization_list(description["teeEnforced"]),
    )


class AndroidKeyAttestation(Attestation):
    """§8.4 Android Key Attestation: sig by the credential key itself, certified by Android Keystore in x5c."""

    FORMAT = "android-key"

    @catch_builtins
    def verify(
        self, statement: Mapping[str, Any], auth_data: AuthenticatorData, client_data_hash: bytes
    ) -> AttestationResult:
        # Step 1: attStmt = {alg: COSEAlgorithmIdentifier, sig: bytes, x5c: [ credCert: bytes, * caCert: bytes ]}.
        alg, sig, x5c = statement.get("alg"), statement.get("sig"), statement.get("x5c")
        if not isinstance(alg, int) or isinstance(alg, bool) or not isinstance(sig, bytes):
            raise InvalidData("android-key statement needs an integer alg and a byte string sig")
        if not isinstance(x5c, list) or not x5c or not all(isinstance(der, bytes) for der in x5c):
            raise InvalidData("android-key statement needs x5c, a non-empty list of DER certificates")
        if auth_data.credential_data is None:
            raise InvalidData("authenticator data carries no attested credential data")
        certificate = x509.load_der_x509_certificate(x5c[0])
        certificate_key = certificate.public_key()

        # Step 2: sig is a signature over authenticatorData || clientDataHash by x5c[0]'s key, with alg.
        try:
            signer = CoseKey.for_alg(alg).from_cryptography_key(certificate_key)
        except _KEY_ERRORS:
            raise InvalidData(f"the attestation certificate's key cannot be used with algorithm {alg}") from None
        try:
            signer.verify(auth_data + client_data_hash, sig)
        except _InvalidSignature:
            raise InvalidSignature("android-key signature does not verify") from None

        # Step 3: x5c[0]'s public key is the credentialPublicKey (same key parameters: kty, crv/x/y, n/e...).
        credential_key = auth_data.credential_data.public_key
        try:
            certified = type(credential_key).from_cryptography_key(certificate_key)
            if any(credential_key.get(k) != v for k, v in certified.items() if k != 3):
                raise ValueError
        except (*_KEY_ERRORS, ValueError):
            raise InvalidData("the attestation certificate's key is not the credential public key") from None

        # Step 4: the KeyDescription's attestationChallenge is identical to clientDataHash.
        try:
            extension = certificate.extensions.get_extension_for_oid(OID_KEY_DESCRIPTION).value
        except x509.ExtensionNotFound:
            raise InvalidData("the attestation certificate has no Android key description extension") from None
        if not isinstance(extension, x509.UnrecognizedExtension):
            raise InvalidData("unexpected Android key description extension type")
        challenge, software, tee = parse_key_description(extension.value)
        if not bytes_eq(challenge, client_data_hash):
            raise InvalidData("attestationChallenge is not the clientDataHash")

        # Step 5: allApplications is on neither list: the credential MUST be scoped to the RP ID.
        if TAG_ALL_APPLICATIONS in software or TAG_ALL_APPLICATIONS in tee:
            raise InvalidData("the key is usable by all applications (allApplications present)")
        # For origin and purpose the spec lets an RP that does not insist on TEE-only keys use the union of
        # teeEnforced and softwareEnforced. We do (software-backed keys, e.g. emulators, are accepted): each field is
        # read from teeEnforced when present there, otherwise from softwareEnforced. Purpose must *contain* SIGN:
        # Keystore keys may also allow e.g. VERIFY, which does not weaken the credential.
        origin, purpose = (tee.get(t, software.get(t)) for t in (TAG_ORIGIN, TAG_PURPOSE))
        if origin is None or int(origin) != KM_ORIGIN_GENERATED:
            raise InvalidData("the key was not generated in Android Keystore (origin != KM_ORIGIN_GENERATED)")
        if purpose is None or KM_PURPOSE_SIGN not in {int(value) for value in purpose}:
            raise InvalidData("the key's purpose does not include KM_PURPOSE_SIGN")

        # Step 6: attestation type Basic, trust path x5c.
        return AttestationResult(AttestationType.BASIC, x5c)
