"""Creation and request options (§5.4, §5.5), from a python-fido2 server built once per tenant configuration."""

from __future__ import annotations

import functools
from typing import Any

from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    AuthenticatorAttachment,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialParameters,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from tenants.models import DEFAULT_ALGORITHMS, Tenant
from tenants.validation import SUPPORTED_ALGORITHMS


@functools.lru_cache(maxsize=1024)
def _server(
    rp_id: str, rp_name: str, origins: frozenset[str], algorithms: tuple[int, ...], attestation: str, timeout_ms: int
) -> Fido2Server:
    # Exact match: the library's default accepts any subdomain of the rp id on any port and
    # refuses android:apk-key-hash: origins. (Only options come from the server; the checks are ours.)
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


def _with_hints(public_key: dict[str, Any], hints: list[str] | None) -> dict[str, Any]:
    """The L3 `hints` member, added to the JSON: Fido2Server's begin methods take no hints (python-fido2 2.2.1)."""
    if hints is not None:
        public_key["hints"] = list(hints)
    return public_key


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
    hints: list[str] | None = None,
    prf: bool = False,
) -> tuple[dict[str, Any], str]:
    """PublicKeyCredentialCreationOptionsJSON and its base64url challenge.

    credProps is always asked for (its rk is stored as `discoverable`); `prf` asks the authenticator to enable PRF.
    """
    extensions: dict[str, Any] = {"credProps": True}
    if prf:
        extensions["prf"] = {}
    options, state = server_for(tenant).register_begin(
        PublicKeyCredentialUserEntity(id=user_handle, name=username, display_name=display_name),
        credentials=_descriptors(exclude),
        resident_key_requirement=ResidentKeyRequirement(resident_key),
        user_verification=UserVerificationRequirement(user_verification),
        authenticator_attachment=AuthenticatorAttachment(authenticator_attachment)
        if authenticator_attachment
        else None,
        extensions=extensions,
    )
    return _with_hints(dict(options.public_key), hints), state["challenge"]


def authentication_options(
    *,
    tenant: Tenant,
    allow: list[tuple[bytes, list[str]]] | None,
    user_verification: str,
    hints: list[str] | None = None,
    prf: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """PublicKeyCredentialRequestOptionsJSON and its base64url challenge; `prf` (eval or evalByCredential, salts in
    base64url as the JSON form has them) is copied into extensions.prf for the browser to evaluate."""
    options, state = server_for(tenant).authenticate_begin(
        credentials=None if allow is None else _descriptors(allow),
        user_verification=UserVerificationRequirement(user_verification),
        extensions={"prf": prf} if prf else None,
    )
    return _with_hints(dict(options.public_key), hints), state["challenge"]
