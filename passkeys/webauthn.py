"""The one module that imports python-fido2.

It builds a `Fido2Server` per tenant configuration, parses browser responses once, and adds the
checks the library leaves to its caller (exact origins, cross-origin, backup flags, algorithm
and key validity, attestation always verified) so that each failure maps to one contract code.
"""

from __future__ import annotations

import functools
import json
import re
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fido2.utils
from cryptography import x509
from cryptography.hazmat.primitives import constant_time
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from fido2 import cbor
from fido2.attestation import Attestation, AttestationResult, verify_x509_chain
from fido2.cose import CoseKey
from fido2.server import Fido2Server
from fido2.utils import sha256, websafe_encode
from fido2.webauthn import (
    AttestationConveyancePreference,
    AttestedCredentialData,
    AuthenticationResponse,
    AuthenticatorAttachment,
    AuthenticatorData,
    CollectedClientData,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialParameters,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
    PublicKeyCredentialUserEntity,
    RegistrationResponse,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from tenants.models import DEFAULT_ALGORITHMS, Tenant
from tenants.validation import SUPPORTED_ALGORITHMS

from . import android_key  # noqa: F401 - registers the android-key format python-fido2 lacks
from .errors import PasskeyError

# python-fido2 2.2.1 resolves the type hints of a class on every parse, uncached: about 85 % of
# authenticate_complete. They never change at run time, so resolve each class once.
fido2.utils.get_type_hints = functools.cache(typing.get_type_hints)

MAX_CREDENTIAL_ID_BYTES = 1023
TRANSPORTS = frozenset({"usb", "nfc", "ble", "smart-card", "hybrid", "internal"})
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class ParsedResponse:
    """A browser's credential.toJSON(), parsed once."""

    response: RegistrationResponse | AuthenticationResponse
    client_data: CollectedClientData
    client_data_members: dict[str, Any]
    transports: list[str]

    @property
    def challenge(self) -> str:
        return websafe_encode(self.client_data.challenge)

    @property
    def raw_id(self) -> bytes:
        return self.response.raw_id


@dataclass(frozen=True)
class VerifiedRegistration:
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


@dataclass(frozen=True)
class VerifiedAuthentication:
    credential_id: bytes
    sign_count: int
    user_verified: bool
    backup_eligible: bool
    backed_up: bool


def _fail(code: str, detail: str) -> PasskeyError:
    return PasskeyError(detail, code=code)


# --- servers and options -------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _server(
    rp_id: str, rp_name: str, origins: frozenset[str], algorithms: tuple[int, ...], attestation: str, timeout_ms: int
) -> Fido2Server:
    # Exact match: the library's default accepts any subdomain of the rp id on any port and
    # refuses android:apk-key-hash: origins.
    server = Fido2Server(
        PublicKeyCredentialRpEntity(id=rp_id, name=rp_name),
        attestation=AttestationConveyancePreference(attestation),
        verify_origin=origins.__contains__,
    )
    server.allowed_algorithms = [
        PublicKeyCredentialParameters(type=PublicKeyCredentialType.PUBLIC_KEY, alg=alg) for alg in algorithms
    ]
    server.timeout = timeout_ms
    return server


def tenant_algorithms(tenant: Tenant) -> tuple[int, ...]:
    """The tenant's algorithms the service can verify, in its order; the defaults if a row holds none.

    Settings are validated when saved; this keeps a row written around that validation from
    turning every ceremony of the tenant into a server error.
    """
    stored = tenant.algorithms if isinstance(tenant.algorithms, list) else []
    usable = tuple(dict.fromkeys(alg for alg in stored if type(alg) is int and alg in SUPPORTED_ALGORITHMS))
    return usable or tuple(DEFAULT_ALGORITHMS)


def server_for(tenant: Tenant) -> Fido2Server:
    return _server(
        tenant.rp_id,
        tenant.rp_name,
        frozenset(tenant.origins),
        tenant_algorithms(tenant),
        tenant.attestation,
        tenant.challenge_timeout * 1000,
    )


def _descriptors(credentials: list[tuple[bytes, list[str]]]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            type=PublicKeyCredentialType.PUBLIC_KEY, id=credential_id, transports=transports or None
        )
        for credential_id, transports in credentials
    ]


def registration_options(
    *,
    tenant: Tenant,
    user_handle: bytes,
    username: str,
    display_name: str,
    exclude: list[tuple[bytes, list[str]]],
    resident_key: str,
    user_verification: str,
    authenticator_attachment: str | None,
) -> tuple[dict[str, Any], str]:
    """PublicKeyCredentialCreationOptionsJSON and its base64url challenge."""
    options, state = server_for(tenant).register_begin(
        PublicKeyCredentialUserEntity(id=user_handle, name=username, display_name=display_name),
        credentials=_descriptors(exclude),
        resident_key_requirement=ResidentKeyRequirement(resident_key),
        user_verification=UserVerificationRequirement(user_verification),
        authenticator_attachment=AuthenticatorAttachment(authenticator_attachment)
        if authenticator_attachment
        else None,
        extensions={"credProps": True},
    )
    return dict(options.public_key), state["challenge"]


def authentication_options(
    *, tenant: Tenant, allow: list[tuple[bytes, list[str]]] | None, user_verification: str
) -> tuple[dict[str, Any], str]:
    """PublicKeyCredentialRequestOptionsJSON and its base64url challenge."""
    options, state = server_for(tenant).authenticate_begin(
        credentials=None if allow is None else _descriptors(allow),
        user_verification=UserVerificationRequirement(user_verification),
    )
    return dict(options.public_key), state["challenge"]


# --- parsing -------------------------------------------------------------------------------


def _require_b64url(container: Mapping[str, Any], name: str, *, optional: bool = False) -> None:
    # The library's decoder silently drops characters outside the alphabet; reject them instead.
    value = container.get(name)
    if value is None and optional:
        return
    if not isinstance(value, str) or not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise _fail("validation_error", f"{name} must be base64url without padding")


def _parse(data: Any, cls: type[RegistrationResponse] | type[AuthenticationResponse], binary: tuple[str, ...]):
    if not isinstance(data, Mapping) or not isinstance(data.get("response"), Mapping):
        raise _fail("validation_error", "credential must be the object credential.toJSON() returns")
    if data.get("type") != "public-key":
        raise _fail("validation_error", "credential type must be public-key")
    _require_b64url(data, "id")
    _require_b64url(data, "rawId")
    if data["id"] != data["rawId"]:
        raise _fail("validation_error", "id must equal rawId")
    response = data["response"]
    for name in binary:
        _require_b64url(response, name, optional=name == "userHandle")
    try:
        parsed = cls.from_dict(data)
        client_data = parsed.response.client_data
        members = json.loads(client_data)
    except Exception as exc:  # the library raises many types on hostile input; all are bad input
        raise _fail("validation_error", f"credential could not be parsed: {exc}") from None
    if not isinstance(members.get("type"), str) or not isinstance(members.get("origin"), str):
        raise _fail("validation_error", "clientDataJSON must carry type and origin strings")
    transports = response.get("transports")
    transports = (
        [t for t in transports if isinstance(t, str) and t in TRANSPORTS] if isinstance(transports, list) else []
    )
    return ParsedResponse(
        response=parsed, client_data=client_data, client_data_members=members, transports=transports[:8]
    )


def registration_parse(data: Any) -> ParsedResponse:
    return _parse(data, RegistrationResponse, ("clientDataJSON", "attestationObject"))


def authentication_parse(data: Any) -> ParsedResponse:
    return _parse(data, AuthenticationResponse, ("clientDataJSON", "authenticatorData", "signature", "userHandle"))


def user_handle_of(parsed: ParsedResponse) -> bytes | None:
    return parsed.response.response.user_handle


# --- checks shared by both ceremonies ------------------------------------------------------


def _check_client_data(parsed: ParsedResponse, *, expected_type: str, tenant: Tenant) -> None:
    client_data = parsed.client_data
    # §7.1 step 7 / §7.2 step 11: type.
    if client_data.type != expected_type:
        raise _fail("type_mismatch", f"clientDataJSON.type must be {expected_type}")
    # §7.1 step 9 / §7.2 step 13: origin, compared exactly against the tenant's list.
    if client_data.origin not in tenant.origins:
        raise _fail("origin_not_allowed", f"origin {client_data.origin!r} is not allowed for this relying party")
    # §7.1 step 10 / §7.2 step 14: crossOrigin and topOrigin, refused unless the tenant allows them.
    cross_origin = parsed.client_data_members.get("crossOrigin", False)
    top_origin = parsed.client_data_members.get("topOrigin")
    if cross_origin is not False or top_origin is not None:
        if not tenant.allow_cross_origin or (tenant.top_origins and top_origin not in tenant.top_origins):
            raise _fail("cross_origin_not_allowed", "ceremonies from a cross-origin frame are not allowed")


def _check_authenticator_data(auth_data: AuthenticatorData, *, tenant: Tenant, uv_required: bool) -> None:
    # §7.1 step 13 / §7.2 step 15: rpIdHash.
    if not constant_time.bytes_eq(sha256(tenant.rp_id.encode()), auth_data.rp_id_hash):
        raise _fail("rp_id_mismatch", "authenticatorData.rpIdHash is not the hash of this relying party's id")
    # §7.1 step 14 / §7.2 step 16: user present.
    if not auth_data.is_user_present():
        raise _fail("user_presence_required", "the authenticator did not report user presence")
    # §7.1 step 15 / §7.2 step 17: user verified, when required.
    if uv_required and not auth_data.is_user_verified():
        raise _fail("user_verification_required", "user verification is required")
    # §7.1 step 16 / §7.2 step 18: BS may only be set when BE is.
    if auth_data.is_backed_up() and not auth_data.is_backup_eligible():
        raise _fail("invalid_backup_flags", "backup state is set but backup eligibility is not")


def _state(pending_challenge: str, user_verification: str) -> dict[str, Any]:
    return {"challenge": pending_challenge, "user_verification": UserVerificationRequirement(user_verification)}


# --- registration --------------------------------------------------------------------------


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
        raise _fail("unsupported_algorithm", f"the credential public key is not valid: {exc}") from None


def _verify_attestation(parsed: ParsedResponse, *, tenant: Tenant) -> AttestationResult:
    """§7.1 steps 19-21: verify the statement by its format always; trust only by tenant policy."""
    attestation_object = parsed.response.response.attestation_object
    verifier = Attestation.for_type(attestation_object.fmt)
    try:
        result = verifier().verify(attestation_object.att_stmt, attestation_object.auth_data, parsed.client_data.hash)
    except Exception as exc:  # format verifiers raise InvalidData, AssertionError, NotImplementedError, …
        raise _fail("attestation_invalid", f"{attestation_object.fmt!r} attestation failed: {exc}") from None
    roots = tenant_attestation_roots(tenant.attestation_roots)
    if roots and not any(_chains_to(result.trust_path, root) for root in roots):
        raise _fail("attestation_untrusted", "the attestation does not chain to a trusted root")
    return result


def _chains_to(trust_path: list[bytes], root: bytes) -> bool:
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


@functools.lru_cache(maxsize=64)
def tenant_attestation_roots(pem: str) -> tuple[bytes, ...]:
    """The tenant's trusted roots as DER; a PEM that cannot be read trusts nothing (never everything)."""
    if not pem.strip():
        return ()
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise _fail("attestation_untrusted", "the tenant's attestation roots cannot be read") from None
    return tuple(cert.public_bytes(Encoding.DER) for cert in certificates)


def registration_verify(
    *, tenant: Tenant, parsed: ParsedResponse, challenge: str, user_verification: str, algorithms: list[int]
) -> VerifiedRegistration:
    """§7.1: verify a registration response against its pending ceremony."""
    _check_client_data(parsed, expected_type="webauthn.create", tenant=tenant)
    attestation_object = parsed.response.response.attestation_object
    auth_data = attestation_object.auth_data
    _check_authenticator_data(auth_data, tenant=tenant, uv_required=user_verification == "required")
    credential_data = auth_data.credential_data
    if credential_data is None:
        raise _fail("validation_error", "authenticatorData carries no attested credential data")
    if len(credential_data.credential_id) > MAX_CREDENTIAL_ID_BYTES:
        raise _fail("validation_error", "credential id is longer than 1023 bytes")
    if credential_data.credential_id != parsed.raw_id:
        raise _fail("validation_error", "rawId does not match the attested credential id")
    # §7.1 step 18: the key's algorithm must be one the options offered, and the key valid for it.
    public_key = credential_data.public_key
    if public_key.get(3) not in algorithms:
        raise _fail("unsupported_algorithm", f"algorithm {public_key.get(3)} was not offered")
    _check_public_key(public_key)
    _verify_attestation(parsed, tenant=tenant)
    try:
        server_for(tenant).register_complete(_state(challenge, user_verification), parsed.response)
    except Exception as exc:  # everything it checks was checked above; anything left is bad input
        raise _fail("validation_error", f"registration rejected: {exc}") from None
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
    )


# --- authentication ------------------------------------------------------------------------


def authentication_verify(
    *,
    tenant: Tenant,
    parsed: ParsedResponse,
    challenge: str,
    user_verification: str,
    public_key: bytes,
    aaguid: uuid.UUID,
    backup_eligible: bool,
) -> VerifiedAuthentication:
    """§7.2 steps 11-21: verify an assertion with the stored public key and backup eligibility."""
    _check_client_data(parsed, expected_type="webauthn.get", tenant=tenant)
    auth_data = parsed.response.response.authenticator_data
    _check_authenticator_data(auth_data, tenant=tenant, uv_required=user_verification == "required")
    # §7.2 step 18: BE is a permanent property of the credential record; an assertion that disagrees
    # with the stored value is not from the authenticator that registered it, or that one misbehaves.
    if auth_data.is_backup_eligible() != backup_eligible:
        raise _fail("invalid_backup_flags", "backup eligibility differs from the registered credential's")
    stored = AttestedCredentialData.create(aaguid.bytes, parsed.raw_id, CoseKey.parse(cbor.decode(public_key)))
    try:
        server_for(tenant).authenticate_complete(_state(challenge, user_verification), [stored], parsed.response)
    except Exception:  # the checks above passed, so what fails here is the signature
        raise _fail("signature_invalid", "the assertion signature does not verify") from None
    return VerifiedAuthentication(
        credential_id=parsed.raw_id,
        sign_count=auth_data.counter,
        user_verified=auth_data.is_user_verified(),
        backup_eligible=auth_data.is_backup_eligible(),
        backed_up=auth_data.is_backed_up(),
    )
