"""Software WebAuthn authenticator + client for tests.

Plays both the browser and the authenticator: consumes WebAuthn Level 3 JSON
options (``PublicKeyCredentialCreationOptionsJSON`` /
``PublicKeyCredentialRequestOptionsJSON``) and returns exactly what a browser's
``PublicKeyCredential.toJSON()`` returns, built from real keys, real attestation
objects and real signatures. Keyword-only knobs on :meth:`SoftAuthenticator.create`
and :meth:`SoftAuthenticator.get` tamper with one aspect of a response at a time.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import hmac
import json
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID
from fido2 import cbor
from fido2.cose import ES256, RS256, CoseKey, EdDSA
from fido2.utils import websafe_decode, websafe_encode

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


class Sentinel(enum.Enum):
    """Marker values for knobs where ``None`` already means something (JSON null)."""

    OMIT = "omit"
    DEFAULT = "default"


OMIT = Sentinel.OMIT  # leave the JSON member out entirely
FLAG_UP, FLAG_UV, FLAG_BE, FLAG_BS, FLAG_AT, FLAG_ED = 1, 4, 8, 16, 64, 128
OID_FIDO_GEN_CE_AAGUID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")
ATTESTATIONS = ("none", "packed-self", "packed")
_COSE: dict[int, type[CoseKey]] = {-7: ES256, -8: EdDSA, -257: RS256}
_DEFAULT_ALGS = (-7, -257)  # WebAuthn default when pubKeyCredParams is empty


class Knobs(TypedDict, total=False):
    """Tamper knobs shared by ``create()`` and ``get()`` (None = not set)."""

    client_data_type: str  # override "webauthn.create" / "webauthn.get"
    challenge: str  # base64url challenge written into clientDataJSON
    cross_origin: bool
    top_origin: str  # adds "topOrigin" to clientDataJSON
    extra_client_data: Mapping[str, Any]  # members appended to clientDataJSON
    rp_id: str  # rp id hashed into authenticatorData (not used to pick credentials)
    up: bool  # flag overrides for this response only
    uv: bool
    be: bool
    bs: bool
    raw_id: str  # override "rawId" in the JSON only


def b64url_encode(data: bytes) -> str:
    """Base64url-encode without padding."""
    return websafe_encode(data)


def b64url_decode(data: str) -> bytes:
    """Base64url-decode, tolerating missing padding."""
    return websafe_decode(data)


def sha256(data: bytes) -> bytes:
    """SHA-256 digest."""
    return hashlib.sha256(data).digest()


def generate_key(alg: int) -> PrivateKey:
    """New private key for -7 (P-256), -8 (Ed25519) or -257 (RSA-2048)."""
    if alg == -7:
        return ec.generate_private_key(ec.SECP256R1())
    if alg == -8:
        return ed25519.Ed25519PrivateKey.generate()
    if alg == -257:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unsupported COSE algorithm {alg}")


def sign(key: PrivateKey, data: bytes) -> bytes:
    """Sign like an authenticator: ES256 (DER), EdDSA, or RS256 (PKCS#1 v1.5)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _corrupt(sig: bytes) -> bytes:
    """Flip the low bit of the last byte (a DER ECDSA signature stays well-formed)."""
    return sig[:-1] + bytes([sig[-1] ^ 0x01])


def _cose_to_spki(cose: Mapping[Any, Any]) -> bytes | None:
    """DER SubjectPublicKeyInfo of a COSE key map, or None if it is not a valid key."""
    try:
        kty, crv = cose.get(1), cose.get(-1)
        pub: Any
        if kty == 2:
            curve = {1: ec.SECP256R1(), 2: ec.SECP384R1(), 3: ec.SECP521R1()}[crv]
            x, y = (int.from_bytes(cose[k], "big") for k in (-2, -3))
            pub = ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
        elif kty == 1 and crv == 6:
            pub = ed25519.Ed25519PublicKey.from_public_bytes(cose[-2])
        elif kty == 3:
            n, e = (int.from_bytes(cose[k], "big") for k in (-1, -2))
            pub = rsa.RSAPublicNumbers(e, n).public_key()
        else:
            return None
    except (KeyError, TypeError, ValueError):
        return None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return pub.public_bytes(serialization.Encoding.DER, spki)


def _cert(subject: x509.Name, issuer: x509.Name, key: PrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
    )


def make_attestation_chain(aaguid: bytes) -> tuple[bytes, bytes, PrivateKey]:
    """Root CA -> FIDO packed attestation leaf: (root DER, leaf DER, leaf P-256 key)."""
    org = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Soft Authenticator Test"),
    ]
    root_name = x509.Name([*org, x509.NameAttribute(NameOID.COMMON_NAME, "Test Root")])
    leaf_name = x509.Name(
        [
            *org,
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Soft Authenticator Attestation"),
        ]
    )
    root_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        _cert(root_name, root_name, root_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    aaguid_ext = x509.UnrecognizedExtension(  # extnValue: DER OCTET STRING of AAGUID
        OID_FIDO_GEN_CE_AAGUID, b"\x04\x10" + aaguid
    )
    leaf = (
        _cert(leaf_name, root_name, leaf_key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(aaguid_ext, critical=False)
        .sign(root_key, hashes.SHA256())
    )
    der = serialization.Encoding.DER
    return root.public_bytes(der), leaf.public_bytes(der), leaf_key


@dataclass
class SoftCredential:
    """A credential held by the soft authenticator."""

    credential_id: bytes
    private_key: PrivateKey = field(repr=False)
    alg: int
    rp_id: str
    user_handle: bytes
    sign_count: int
    backup_eligible: bool
    backed_up: bool


class SoftAuthenticator:
    """A software authenticator + client producing browser-shaped WebAuthn JSON."""

    def __init__(
        self,
        *,
        alg: int = -7,
        aaguid: bytes = bytes(16),
        attestation: str = "none",
        backup_eligible: bool = True,
        backed_up: bool = True,
        user_verifying: bool = True,
        transports: Sequence[str] = ("internal", "hybrid"),
        attachment: str | None = "platform",
        counter: bool = True,
        prf: bool = True,
    ) -> None:
        if alg not in _COSE or len(aaguid) != 16 or attestation not in ATTESTATIONS:
            raise ValueError("bad alg, aaguid (16 bytes) or attestation")
        self.alg, self.aaguid, self.attestation = alg, bytes(aaguid), attestation
        self.backup_eligible, self.backed_up = backup_eligible, backed_up
        self.user_verifying, self.counter = user_verifying, counter
        self.transports, self.attachment = list(transports), attachment
        self.prf = prf
        self._prf_secrets: dict[bytes, bytes] = {}  # per credential, as CTAP2 hmac-secret keeps one
        self.credentials: dict[bytes, SoftCredential] = {}
        self.attestation_root_der: bytes | None = None
        self.attestation_cert_der: bytes | None = None
        self._attestation_key: PrivateKey | None = None
        if attestation == "packed":
            root, leaf, key = make_attestation_chain(self.aaguid)
            self.attestation_root_der, self.attestation_cert_der = root, leaf
            self._attestation_key = key

    def create(
        self,
        options: Mapping[str, Any],
        origin: str | None = None,
        *,
        sign_count: int = 0,
        credential_id: bytes | None = None,
        cose_public_key: Mapping[Any, Any] | None = None,
        alg: int | None = None,
        bad_attestation_signature: bool = False,
        attestation_format: str | None = None,
        **knobs: Unpack[Knobs],
    ) -> dict[str, Any]:
        """navigator.credentials.create() + toJSON(): a RegistrationResponseJSON."""
        _check_knobs(knobs)
        rp = options["rp"].get("id") or _host(origin)
        params = options.get("pubKeyCredParams") or []
        algs = [p.get("alg") for p in params if p.get("type") == "public-key"]
        if self.alg not in (algs if params else _DEFAULT_ALGS):
            raise ValueError(f"NotSupportedError: alg {self.alg} not requested")
        for desc in options.get("excludeCredentials") or []:
            if b64url_decode(desc["id"]) in self.credentials:
                raise ValueError("InvalidStateError: credential is excluded")
        key = generate_key(self.alg)
        cred_id = os.urandom(32) if credential_id is None else bytes(credential_id)
        user_handle = b64url_decode(options["user"]["id"])
        cred = SoftCredential(
            cred_id, key, self.alg, rp, user_handle, sign_count,
            self.backup_eligible, self.backed_up,
        )  # fmt: skip
        if cose_public_key is None:
            cose = dict(_COSE[self.alg].from_cryptography_key(key.public_key()))
        else:
            cose = dict(cose_public_key)
        if alg is not None:
            cose[3] = alg
        selection = options.get("authenticatorSelection") or {}
        auth_data, client_data = self._common(options, origin, rp, cred, selection, True, knobs)
        auth_data += self.aaguid + struct.pack(">H", len(cred_id)) + cred_id
        auth_data += cbor.encode(cose)
        fmt, stmt = self._attest(key, auth_data + sha256(client_data), alg)
        if bad_attestation_signature and "sig" in stmt:
            stmt["sig"] = _corrupt(stmt["sig"])
        att = {"fmt": attestation_format or fmt, "attStmt": stmt, "authData": auth_data}
        self.credentials.pop(cred_id, None)  # re-insert: now the most recent
        self.credentials[cred_id] = cred

        response: dict[str, Any] = {
            "clientDataJSON": b64url_encode(client_data),
            "attestationObject": b64url_encode(cbor.encode(att)),
            "transports": list(self.transports),
            "publicKeyAlgorithm": cose.get(3, self.alg),
        }
        spki = _cose_to_spki(cose)  # browsers give null for keys they cannot parse
        if spki is not None:
            response["publicKey"] = b64url_encode(spki)
        response["authenticatorData"] = b64url_encode(auth_data)
        extensions = options.get("extensions") or {}
        ext: dict[str, Any] = {"credProps": {"rk": True}} if extensions.get("credProps") else {}
        if "prf" in extensions:
            ext["prf"] = {"enabled": self.prf}
            if self.prf:
                self._prf_secrets[cred_id] = os.urandom(32)
        return self._credential_json(cred_id, response, ext, knobs)

    def prf_output(self, credential_id: bytes, salt: bytes) -> bytes:
        """The PRF value this authenticator gives for `salt` (WebAuthn §10.1.4: HMAC over SHA-256("WebAuthn PRF"
        || 0x00 || salt) with the credential's secret): what a relying party's frontend derives its keys from."""
        secret = self._prf_secrets[credential_id]
        return hmac.new(secret, sha256(b"WebAuthn PRF\x00" + salt), hashlib.sha256).digest()

    def _prf_results(self, cred: SoftCredential, options: Mapping[str, Any]) -> dict[str, Any] | None:
        inputs = (options.get("extensions") or {}).get("prf")
        if not inputs or cred.credential_id not in self._prf_secrets:
            return None
        values = (inputs.get("evalByCredential") or {}).get(b64url_encode(cred.credential_id)) or inputs.get("eval")
        if not values:
            return None
        return {
            "results": {
                name: b64url_encode(self.prf_output(cred.credential_id, b64url_decode(salt)))
                for name, salt in values.items()
            }
        }

    def get(
        self,
        options: Mapping[str, Any],
        origin: str | None = None,
        *,
        sign_count: int | None = None,
        bad_signature: bool = False,
        user_handle: bytes | Sentinel | None = Sentinel.DEFAULT,
        credential_id: bytes | None = None,
        **knobs: Unpack[Knobs],
    ) -> dict[str, Any]:
        """navigator.credentials.get() + toJSON(): an AuthenticationResponseJSON."""
        _check_knobs(knobs)
        rp = options.get("rpId") or _host(origin)
        cred = self._select(rp, options.get("allowCredentials") or [], credential_id)
        if sign_count is not None:
            cred.sign_count = sign_count
        elif self.counter:
            cred.sign_count += 1
        auth_data, client_data = self._common(options, origin, rp, cred, options, False, knobs)
        signature = sign(cred.private_key, auth_data + sha256(client_data))
        response: dict[str, Any] = {
            "clientDataJSON": b64url_encode(client_data),
            "authenticatorData": b64url_encode(auth_data),
            "signature": b64url_encode(_corrupt(signature) if bad_signature else signature),
        }
        if user_handle is Sentinel.DEFAULT:
            response["userHandle"] = b64url_encode(cred.user_handle)
        elif user_handle is None:
            response["userHandle"] = None
        elif isinstance(user_handle, bytes):
            response["userHandle"] = b64url_encode(user_handle)
        prf = self._prf_results(cred, options)
        return self._credential_json(cred.credential_id, response, {"prf": prf} if prf else {}, knobs)

    def _common(
        self,
        options: Mapping[str, Any],
        origin: str | None,
        rp: str,
        cred: SoftCredential,
        uv_source: Mapping[str, Any],
        create: bool,
        knobs: Knobs,
    ) -> tuple[bytes, bytes]:
        """Return (authData up to signCount, clientDataJSON), applying the knobs."""
        k: dict[str, Any] = {n: v for n, v in knobs.items() if v is not None}
        wants_uv = uv_source.get("userVerification", "preferred") != "discouraged"
        flags = (
            (FLAG_AT if create else 0)
            | (FLAG_UP if k.get("up", True) else 0)
            | (FLAG_UV if k.get("uv", self.user_verifying and wants_uv) else 0)
            | (FLAG_BE if k.get("be", cred.backup_eligible) else 0)
            | (FLAG_BS if k.get("bs", cred.backed_up) else 0)
        )
        rp_hash = sha256(k.get("rp_id", rp).encode())
        auth_data = rp_hash + struct.pack(">BI", flags, cred.sign_count)
        client: dict[str, Any] = {
            "type": k.get("client_data_type", f"webauthn.{'create' if create else 'get'}"),
            "challenge": k.get("challenge", options["challenge"]),
            "origin": origin or f"https://{rp}",
            "crossOrigin": k.get("cross_origin", False),
        }
        if "top_origin" in k:
            client["topOrigin"] = k["top_origin"]
        client.update(k.get("extra_client_data", {}))
        client_json = json.dumps(client, separators=(",", ":"), ensure_ascii=False)
        return auth_data, client_json.encode()

    def _select(self, rp: str, allow: Sequence[Mapping[str, Any]], credential_id: bytes | None) -> SoftCredential:
        """Explicit credential_id, else first held allowed id, else newest for rp."""
        if credential_id is not None:
            if credential_id not in self.credentials:
                raise ValueError("NotAllowedError: unknown credential_id")
            return self.credentials[credential_id]
        if allow:
            held = (self.credentials.get(b64url_decode(d["id"])) for d in allow)
            found = [c for c in held if c is not None and c.rp_id == rp]
        else:
            found = [c for c in reversed(self.credentials.values()) if c.rp_id == rp]
        if not found:
            raise ValueError(f"NotAllowedError: no credential for {rp!r}")
        return found[0]

    def _attest(self, key: PrivateKey, signed: bytes, alg: int | None) -> tuple[str, dict[str, Any]]:
        """(fmt, attStmt); ``signed`` is authData || clientDataHash."""
        if self.attestation == "none":
            return "none", {}
        if self._attestation_key is None:  # packed-self: signed by the credential key
            return "packed", {
                "alg": self.alg if alg is None else alg,
                "sig": sign(key, signed),
            }
        return "packed", {
            "alg": -7 if alg is None else alg,
            "sig": sign(self._attestation_key, signed),
            "x5c": [self.attestation_cert_der],
        }

    def _credential_json(
        self,
        cred_id: bytes,
        response: dict[str, Any],
        ext: dict[str, Any],
        knobs: Knobs,
    ) -> dict[str, Any]:
        raw_id = knobs.get("raw_id")
        return {
            "id": b64url_encode(cred_id),
            "rawId": b64url_encode(cred_id) if raw_id is None else raw_id,
            "type": "public-key",
            "authenticatorAttachment": self.attachment,
            "clientExtensionResults": ext,
            "response": response,
        }


def _check_knobs(knobs: Knobs) -> None:
    """Reject misspelt knobs instead of silently ignoring them."""
    unknown = set(knobs) - Knobs.__optional_keys__
    if unknown:
        raise TypeError(f"unknown knobs: {sorted(unknown)}")


def _host(origin: str | None) -> str:
    """Effective domain of an origin (the default rp id)."""
    host = urlsplit(origin or "").hostname
    if not host:
        raise ValueError("options carry no rp id and no origin was given")
    return host
