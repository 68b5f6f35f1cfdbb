"""§7.2 Verifying an Authentication Assertion: every step that needs no database, in the spec's order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fido2 import cbor
from fido2.cose import CoseKey

from core.errors import ErrorCode
from tenants.models import Tenant

from .checks import Ceremony, check_authenticator_data, check_client_data, check_not_expired, fail
from .parsing import ParsedResponse


@dataclass(frozen=True)
class StoredCredential:
    """The credential record (§4) an assertion is verified against, as the service loaded it."""

    credential_id: bytes
    public_key: bytes  # COSE_Key as CBOR
    aaguid: uuid.UUID
    backup_eligible: bool
    sign_count: int
    user_handle: bytes  # the owner's WebAuthn user handle
    user_id: str  # the owner's id in the tenant's own system


@dataclass(frozen=True)
class VerifiedAuthentication:
    """What an assertion that passed §7.2 changes in the credential record (step 24)."""

    credential_id: bytes
    sign_count: int  # step 23: the service stores it only if it moved on from the stored one
    user_verified: bool
    backup_eligible: bool
    backed_up: bool
    attachment: str | None  # authenticatorAttachment as the client reported it: "cross-platform" is another device


def authentication_verify(
    *, tenant: Tenant, parsed: ParsedResponse, pending: Ceremony, stored: StoredCredential
) -> VerifiedAuthentication:
    """§7.2 steps 5-23 for an assertion, the pending ceremony it answers and the credential its rawId names.

    Steps 8-9 (clientDataJSON) were done by parsing. Step 23's counter rule needs the database: the new count is
    returned, and authentication_finish's UPDATE stores it only if it exceeds the stored one, atomically.
    """
    check_not_expired(pending)
    user_handle = parsed.user_handle
    # Steps 5-6, user identified at start: the credential must be one of that user's (allowCredentials was theirs).
    if pending.user_id is not None and stored.user_id != pending.user_id:
        raise fail(ErrorCode.USER_HANDLE_MISMATCH, "The credential belongs to another user.")
    # Step 6, user not identified at start: the response must name the user by a handle.
    if pending.user_id is None and user_handle is None:
        raise fail(ErrorCode.USER_HANDLE_MISMATCH, "A discoverable login must carry a user handle.")
    # Step 6, either way: a handle present must be the credential owner's.
    if user_handle is not None and user_handle != stored.user_handle:
        raise fail(ErrorCode.USER_HANDLE_MISMATCH, "The user handle is not the credential owner's.")
    # Step 6: the credential record is the one whose id is rawId.
    if stored.credential_id != parsed.raw_id:
        raise fail(ErrorCode.CREDENTIAL_NOT_FOUND, "No credential with this id is registered.")
    # Steps 11-14: type, challenge, origin, crossOrigin/topOrigin.
    check_client_data(parsed, expected_type="webauthn.get", pending=pending, tenant=tenant)
    auth_data = parsed.response.response.authenticator_data
    # Steps 15-18: rpIdHash, UP, UV when required, BS only with BE.
    check_authenticator_data(auth_data, pending=pending, tenant=tenant)
    # Step 20: extension outputs: PRF's are the relying party frontend's secrets and never read; others are ignored.
    # Steps 21-22: the signature over authenticatorData || SHA-256(clientDataJSON), by the stored public key.
    public_key = CoseKey.parse(cbor.decode(stored.public_key))
    try:
        public_key.verify(auth_data + parsed.client_data.hash, parsed.response.response.signature)
    except Exception:  # InvalidSignature, or a signature no verifier can even read
        raise fail(ErrorCode.SIGNATURE_INVALID, "the assertion signature does not verify") from None
    # Step 19, the service's backup policy, checked once the signature proved the assertion is the credential's (so
    # nobody without the key can raise this alarm): BE is a permanent property of the credential record; an
    # assertion that disagrees with the stored value is not from the authenticator that registered it.
    if auth_data.is_backup_eligible() != stored.backup_eligible:
        raise fail(ErrorCode.INVALID_BACKUP_FLAGS, "backup eligibility differs from the registered credential's")
    # Step 23: the new signature counter, for the service's guarded UPDATE.
    return VerifiedAuthentication(
        credential_id=parsed.raw_id,
        sign_count=auth_data.counter,
        user_verified=auth_data.is_user_verified(),
        backup_eligible=auth_data.is_backup_eligible(),
        backed_up=auth_data.is_backed_up(),
        attachment=parsed.attachment,
    )
