"""Verify SoftAuthenticator output independently, with python-fido2."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fido2.attestation import (
    AttestationResult,
    AttestationType,
    AttestationVerifier,
    InvalidData,
    InvalidSignature,
    PackedAttestation,
    verify_x509_chain,
)
from fido2.cose import CoseKey
from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationObject,
    AuthenticatorData,
    CollectedClientData,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
)

from .authenticator import OMIT, SoftAuthenticator, b64url_decode, b64url_encode

ORIGIN = "https://example.com"
USER = PublicKeyCredentialUserEntity(id=b"user-1234", name="alice", display_name="Alice")


def make_server(**kwargs: Any) -> Fido2Server:
    """A fido2 server for example.com accepting only the https origin."""
    rp = PublicKeyCredentialRpEntity(id="example.com", name="Example")
    return Fido2Server(rp, verify_origin=lambda o: o == ORIGIN, **kwargs)


def register(
    auth: SoftAuthenticator, server: Fido2Server | None = None, **knobs: Any
) -> tuple[dict[str, Any], AuthenticatorData]:
    """Run a registration ceremony; return (JSON response, verified authData)."""
    server = server or make_server()
    options, state = server.register_begin(USER, user_verification="required")
    reg = auth.create(dict(options)["publicKey"], origin=ORIGIN, **knobs)
    return reg, server.register_complete(state, reg)


def attestation_parts(reg: dict[str, Any]) -> tuple[AttestationObject, bytes]:
    """Parse (attestation object, clientDataHash) from a RegistrationResponseJSON."""
    resp = reg["response"]
    client_data = CollectedClientData(b64url_decode(resp["clientDataJSON"]))
    return AttestationObject(b64url_decode(resp["attestationObject"])), client_data.hash


def parsed_auth_data(resp_json: dict[str, Any]) -> AuthenticatorData:
    return AuthenticatorData(b64url_decode(resp_json["response"]["authenticatorData"]))


@pytest.mark.parametrize("alg", [-7, -8, -257])
def test_register_and_authenticate_roundtrip(alg: int) -> None:
    auth = SoftAuthenticator(alg=alg)
    server = make_server()
    reg, auth_data = register(auth, server)
    cred_data = auth_data.credential_data
    assert cred_data is not None
    cred_id = cred_data.credential_id
    assert cred_data.public_key[3] == alg
    assert reg["id"] == reg["rawId"] == b64url_encode(cred_id)
    assert reg["type"] == "public-key"
    assert reg["authenticatorAttachment"] == "platform"
    resp = reg["response"]
    assert resp["publicKeyAlgorithm"] == alg
    assert resp["transports"] == ["internal", "hybrid"]
    assert b64url_decode(resp["authenticatorData"]) == auth_data
    spki = serialization.load_der_public_key(b64url_decode(resp["publicKey"]))
    assert CoseKey.for_alg(alg).from_cryptography_key(spki) == cred_data.public_key
    assert auth_data.counter == 0
    assert auth_data.is_user_verified()
    assert auth_data.is_backup_eligible()
    assert auth_data.is_backed_up()
    assert "=" not in json.dumps(reg)  # unpadded base64url everywhere

    options, state = server.authenticate_begin([cred_data], user_verification="required")
    login = auth.get(dict(options)["publicKey"], origin=ORIGIN)
    assert server.authenticate_complete(state, [cred_data], login) == cred_data
    assert login["id"] == login["rawId"] == b64url_encode(cred_id)
    assert b64url_decode(login["response"]["userHandle"]) == USER.id
    assert parsed_auth_data(login).counter == 1
    assert auth.credentials[cred_id].sign_count == 1


def test_discoverable_flow_uses_most_recent_credential() -> None:
    auth = SoftAuthenticator()
    server = make_server()
    _, first = register(auth, server)
    _, second = register(auth, server)
    creds = [first.credential_data, second.credential_data]
    options, state = server.authenticate_begin()
    assert "allowCredentials" not in dict(options)["publicKey"]
    login = auth.get(dict(options)["publicKey"], origin=ORIGIN)
    assert server.authenticate_complete(state, creds, login) == second.credential_data
    # credential_id knob picks a specific one
    options, state = server.authenticate_begin()
    assert first.credential_data is not None
    login = auth.get(dict(options)["publicKey"], credential_id=first.credential_data.credential_id)
    assert server.authenticate_complete(state, creds, login) == first.credential_data


def test_allow_credentials_picks_first_held_id() -> None:
    auth = SoftAuthenticator()
    server = make_server()
    _, first = register(auth, server)
    register(auth, server)
    assert first.credential_data is not None
    options, state = server.authenticate_begin([first.credential_data])
    login = auth.get(dict(options)["publicKey"], origin=ORIGIN)
    assert b64url_decode(login["rawId"]) == first.credential_data.credential_id
    server.authenticate_complete(state, [first.credential_data], login)
    with pytest.raises(ValueError, match="NotAllowedError"):
        SoftAuthenticator().get(dict(options)["publicKey"], origin=ORIGIN)


@pytest.mark.parametrize("alg", [-7, -8, -257])
def test_packed_self_attestation_verifies(alg: int) -> None:
    auth = SoftAuthenticator(alg=alg, attestation="packed-self")
    reg, _ = register(auth)
    att_obj, cdh = attestation_parts(reg)
    assert att_obj.fmt == "packed"
    assert set(att_obj.att_stmt) == {"alg", "sig"}
    result = PackedAttestation().verify(att_obj.att_stmt, att_obj.auth_data, cdh)
    assert result.attestation_type == AttestationType.SELF
    assert auth.attestation_root_der is None


def test_packed_x5c_attestation_verifies_to_root() -> None:
    aaguid = bytes(range(16))
    auth = SoftAuthenticator(alg=-8, aaguid=aaguid, attestation="packed")
    assert auth.attestation_root_der is not None
    reg, auth_data = register(auth)
    assert auth_data.credential_data is not None
    assert auth_data.credential_data.aaguid == aaguid
    att_obj, cdh = attestation_parts(reg)
    assert att_obj.att_stmt["alg"] == -7
    assert att_obj.att_stmt["x5c"] == [auth.attestation_cert_der]
    result = PackedAttestation().verify(att_obj.att_stmt, att_obj.auth_data, cdh)
    assert result.attestation_type == AttestationType.BASIC
    verify_x509_chain([*result.trust_path, auth.attestation_root_der])
    other_root = SoftAuthenticator(attestation="packed").attestation_root_der
    assert other_root is not None
    with pytest.raises(InvalidSignature):
        verify_x509_chain([*result.trust_path, other_root])

    class Verifier(AttestationVerifier):
        def ca_lookup(self, attestation_result: AttestationResult, auth_data: AuthenticatorData) -> bytes | None:
            return auth.attestation_root_der

    register(auth, make_server(attestation="direct", verify_attestation=Verifier()))


@pytest.mark.parametrize("attestation", ["packed", "packed-self"])
def test_bad_attestation_signature_is_rejected(attestation: str) -> None:
    auth = SoftAuthenticator(attestation=attestation)
    reg, _ = register(auth, bad_attestation_signature=True)
    att_obj, cdh = attestation_parts(reg)
    with pytest.raises(InvalidSignature):
        PackedAttestation().verify(att_obj.att_stmt, att_obj.auth_data, cdh)


@pytest.mark.parametrize("alg", [-7, -8, -257])
def test_bad_signature_fails_authentication(alg: int) -> None:
    auth = SoftAuthenticator(alg=alg)
    server = make_server()
    _, auth_data = register(auth, server)
    options, state = server.authenticate_begin([auth_data.credential_data])
    login = auth.get(dict(options)["publicKey"], bad_signature=True)
    with pytest.raises(ValueError, match="Invalid signature"):
        server.authenticate_complete(state, [auth_data.credential_data], login)


def test_counter_behaviour() -> None:
    options = {"challenge": b64url_encode(b"c" * 32), "rpId": "example.com"}
    auth = SoftAuthenticator()
    register(auth)
    counts = [parsed_auth_data(auth.get(options)).counter for _ in range(3)]
    assert counts == [1, 2, 3]
    assert parsed_auth_data(auth.get(options, sign_count=77)).counter == 77
    assert parsed_auth_data(auth.get(options)).counter == 78
    frozen = SoftAuthenticator(counter=False)
    register(frozen)
    assert [parsed_auth_data(frozen.get(options)).counter for _ in range(2)] == [0, 0]
    _, created = register(SoftAuthenticator(), sign_count=5)
    assert created.counter == 5


def test_flag_knobs_land_in_authenticator_data() -> None:
    auth = SoftAuthenticator(backup_eligible=False, backed_up=False)
    reg = auth.create(
        {
            "rp": {"id": "example.com"},
            "user": {"id": "dQ"},
            "challenge": "AAAA",
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        },
        up=False,
        uv=False,
        be=True,
        bs=True,
    )
    flags = AuthenticatorData.FLAG
    assert attestation_parts(reg)[0].auth_data.flags == flags.AT | flags.BE | flags.BS
    assert parsed_auth_data(reg).flags == flags.AT | flags.BE | flags.BS
    options = {"challenge": "AAAA", "rpId": "example.com"}
    assert parsed_auth_data(auth.get(options)).flags == flags.UP | flags.UV
    assert parsed_auth_data(auth.get(options, uv=False, bs=True)).flags == flags.UP | flags.BS
    discouraged = {**options, "userVerification": "discouraged"}
    assert parsed_auth_data(auth.get(discouraged)).flags == flags.UP
    no_uv = SoftAuthenticator(user_verifying=False)
    server = make_server()
    options2, state = server.register_begin(USER, user_verification="required")
    reg = no_uv.create(dict(options2)["publicKey"], origin=ORIGIN)
    with pytest.raises(ValueError, match="User verification required"):
        server.register_complete(state, reg)


def test_user_handle_knob() -> None:
    auth = SoftAuthenticator()
    register(auth)
    options = {"challenge": "AAAA", "rpId": "example.com"}
    assert "userHandle" not in auth.get(options, user_handle=OMIT)["response"]
    assert auth.get(options, user_handle=None)["response"]["userHandle"] is None
    assert auth.get(options, user_handle=b"x")["response"]["userHandle"] == "eA"


def test_client_data_json_shape_and_knobs() -> None:
    auth = SoftAuthenticator()
    reg, _ = register(auth)
    raw = b64url_decode(reg["response"]["clientDataJSON"])
    data = json.loads(raw)
    assert list(data) == ["type", "challenge", "origin", "crossOrigin"]
    assert raw == json.dumps(data, separators=(",", ":")).encode()
    options = {"challenge": "Y2hhbGxlbmdl", "rpId": "example.com"}
    login = auth.get(
        options,
        origin="https://evil.test",
        client_data_type="webauthn.create",
        challenge="b3RoZXI",
        cross_origin=True,
        top_origin="https://top.test",
        extra_client_data={"other_keys_can_be_added_here": "x"},
    )
    data = json.loads(b64url_decode(login["response"]["clientDataJSON"]))
    assert data == {
        "type": "webauthn.create",
        "challenge": "b3RoZXI",
        "origin": "https://evil.test",
        "crossOrigin": True,
        "topOrigin": "https://top.test",
        "other_keys_can_be_added_here": "x",
    }
    assert json.loads(b64url_decode(auth.get(options)["response"]["clientDataJSON"]))["origin"] == "https://example.com"


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"client_data_type": "webauthn.create"}, "Incorrect type"),
        ({"origin": "https://evil.example"}, "Invalid origin"),
        ({"challenge": b64url_encode(b"x" * 32)}, "Wrong challenge"),
        ({"rp_id": "evil.example"}, "Wrong RP ID hash"),
        ({"up": False}, "User Present"),
        ({"uv": False}, "User verification required"),
        ({"raw_id": b64url_encode(b"other")}, "id does not match rawId"),
    ],
)
def test_server_rejects_tampered_assertions(knobs: dict[str, Any], message: str) -> None:
    auth = SoftAuthenticator()
    server = make_server()
    _, auth_data = register(auth, server)
    creds = [auth_data.credential_data]
    options, state = server.authenticate_begin(creds, user_verification="required")
    login = auth.get(dict(options)["publicKey"], **{"origin": ORIGIN, **knobs})
    with pytest.raises(ValueError, match=message):
        server.authenticate_complete(state, creds, login)


def test_registration_tamper_knobs() -> None:
    auth = SoftAuthenticator()
    reg, auth_data = register(auth, credential_id=b"\x01" * 5)
    assert auth_data.credential_data is not None
    assert auth_data.credential_data.credential_id == b"\x01" * 5
    p384 = {1: 2, 3: -7, -1: 2, -2: b"\x01" * 48, -3: b"\x02" * 48}
    reg = auth.create(
        {"rp": {"id": "example.com"}, "user": {"id": "dQ"}, "challenge": "AAAA"},
        cose_public_key=p384,
        attestation_format="bogus",
    )
    att_obj, _ = attestation_parts(reg)
    assert att_obj.fmt == "bogus"
    assert att_obj.att_stmt == {}
    assert att_obj.auth_data.credential_data is not None
    assert dict(att_obj.auth_data.credential_data.public_key) == p384
    assert "publicKey" not in reg["response"]  # not a valid P-384 point
    reg, _ = register(SoftAuthenticator(attestation="packed-self"), alg=-35)
    att_obj, cdh = attestation_parts(reg)
    assert att_obj.att_stmt["alg"] == -35
    assert reg["response"]["publicKeyAlgorithm"] == -35
    assert att_obj.auth_data.credential_data is not None
    assert att_obj.auth_data.credential_data.public_key[3] == -35
    with pytest.raises(InvalidData, match="Unsupported elliptic curve"):
        PackedAttestation().verify(att_obj.att_stmt, att_obj.auth_data, cdh)
    with pytest.raises(TypeError, match="bad_sig"):
        auth.get({"challenge": "AAAA", "rpId": "example.com"}, bad_sig=True)  # type: ignore[call-arg]


def test_creation_option_errors_and_cred_props() -> None:
    auth = SoftAuthenticator(alg=-8)
    server = make_server()
    options, state = server.register_begin(USER, extensions={"credProps": True})
    reg = auth.create(dict(options)["publicKey"], origin=ORIGIN)
    assert reg["clientExtensionResults"] == {"credProps": {"rk": True}}
    auth_data = server.register_complete(state, reg)
    options, _ = server.register_begin(USER, [auth_data.credential_data])
    with pytest.raises(ValueError, match="InvalidStateError"):
        auth.create(dict(options)["publicKey"], origin=ORIGIN)
    only_es256 = {
        **dict(options)["publicKey"],
        "excludeCredentials": [],
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
    }
    with pytest.raises(ValueError, match="NotSupportedError"):
        auth.create(only_es256, origin=ORIGIN)
