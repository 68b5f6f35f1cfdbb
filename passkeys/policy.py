"""The tenant's authenticator policy, one function per ceremony: which authenticators may register, and which
registered ones may still sign in. Refusals are authenticator_not_allowed (the kind, the model's status) or
attestation_untrusted (no trusted chain), raised before anything is stored."""

from __future__ import annotations

import uuid

from core.errors import ErrorCode
from tenants.models import AttestationPolicy, CredentialKinds, Tenant

from . import webauthn
from .errors import PasskeyError
from .models import AttestationVerdict, Credential


def registration_policy_check(*, tenant: Tenant, verified: webauthn.VerifiedRegistration, status: str) -> None:
    """The AAGUID allow-list, the credential kind (BE, fixed for the credential's life) and, under `enforce`, a
    verified attestation from a model whose latest status is not a compromise. `monitor` refuses nothing."""
    _aaguid_check(tenant=tenant, aaguid=verified.aaguid)
    if tenant.credential_kinds == CredentialKinds.DEVICE_BOUND and verified.backup_eligible:
        raise _not_allowed("This relying party accepts only device-bound passkeys; this one can be synced (BE set).")
    if tenant.credential_kinds == CredentialKinds.SYNCED and not verified.backup_eligible:
        raise _not_allowed("This relying party accepts only synced passkeys; this one is device-bound (BE clear).")
    if tenant.attestation_policy != AttestationPolicy.ENFORCE:
        return
    if verified.attestation != AttestationVerdict.VERIFIED:
        raise PasskeyError(
            f"The attestation ({verified.attestation}) does not chain to a root from the FIDO metadata or this "
            "relying party's roots.",
            code=ErrorCode.ATTESTATION_UNTRUSTED,
        )
    if status in webauthn.COMPROMISED:
        raise _not_allowed(f"The FIDO metadata reports this authenticator model as {status}.")


def login_policy_check(*, tenant: Tenant, credential: Credential) -> None:
    """Under `enforce`, a credential of a model the metadata reports compromised no longer signs in."""
    if (
        tenant.attestation_policy == AttestationPolicy.ENFORCE
        and credential.authenticator_status in webauthn.COMPROMISED
    ):
        raise _not_allowed(f"The FIDO metadata reports this passkey's model as {credential.authenticator_status}.")


def _aaguid_check(*, tenant: Tenant, aaguid: uuid.UUID) -> None:
    """The tenant's authenticator allow-list (empty: any). Without a verified attestation the AAGUID is only the
    authenticator's own claim, so this is a policy filter; `enforce` or attestation roots make it a proof."""
    allowed = {str(value).strip().lower() for value in tenant.allowed_aaguids}
    if allowed and str(aaguid).lower() not in allowed:
        raise PasskeyError(
            f"This tenant does not allow the authenticator with AAGUID {aaguid}.", code=ErrorCode.ATTESTATION_UNTRUSTED
        )


def _not_allowed(detail: str) -> PasskeyError:
    return PasskeyError(detail, code=ErrorCode.AUTHENTICATOR_NOT_ALLOWED)
