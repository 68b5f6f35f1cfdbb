"""The steps §7.1 and §7.2 share, each failure with its contract code; the ceremonies call them in spec order."""

from __future__ import annotations

import time
from typing import Protocol

from cryptography.hazmat.primitives import constant_time
from fido2.utils import sha256
from fido2.webauthn import AuthenticatorData

from core.errors import ErrorCode
from tenants.models import Tenant

from ..errors import PasskeyError
from .parsing import ParsedResponse

# The mediation of an automatic upgrade (a registration) or of autofill (an authentication).
CONDITIONAL = "conditional"


class Ceremony(Protocol):
    """What start decided and finish must hold the response to (passkeys.challenges.PendingCeremony)."""

    challenge: str
    user_verification: str
    expires_at: float
    user_id: str | None
    algorithms: list[int]
    mediation: str | None


def fail(code: ErrorCode, detail: str) -> PasskeyError:
    return PasskeyError(detail, code=code)


def check_not_expired(pending: Ceremony) -> None:
    """The options' timeout (§5.4/§5.5 `timeout`, §13.4.3): a late response answers a ceremony that is over."""
    if pending.expires_at < time.time():
        raise fail(ErrorCode.CHALLENGE_EXPIRED, "The challenge has expired; start the ceremony again.")


def check_client_data(parsed: ParsedResponse, *, expected_type: str, pending: Ceremony, tenant: Tenant) -> None:
    """§7.1 steps 7-10 / §7.2 steps 11-14."""
    client_data = parsed.client_data
    # §7.1 step 7 / §7.2 step 11: type.
    if client_data.type != expected_type:
        raise fail(ErrorCode.TYPE_MISMATCH, f"clientDataJSON.type must be {expected_type}")
    # §7.1 step 8 / §7.2 step 12: challenge. The service found the ceremony by this challenge, so only a caller
    # holding another ceremony gets here with a different one.
    if not constant_time.bytes_eq(parsed.challenge.encode(), pending.challenge.encode()):
        raise fail(ErrorCode.CHALLENGE_NOT_FOUND, "the response answers another ceremony's challenge")
    # §7.1 step 9 / §7.2 step 13: origin, compared exactly against the tenant's list.
    if client_data.origin not in tenant.origins:
        raise fail(ErrorCode.ORIGIN_NOT_ALLOWED, f"origin {client_data.origin!r} is not allowed for this relying party")
    # §7.1 step 10 / §7.2 step 14: crossOrigin and topOrigin, refused unless the tenant allows them.
    cross_origin = parsed.client_data_members.get("crossOrigin", False)
    top_origin = parsed.client_data_members.get("topOrigin")
    if cross_origin is not False or top_origin is not None:
        if not tenant.allow_cross_origin or (tenant.top_origins and top_origin not in tenant.top_origins):
            raise fail(ErrorCode.CROSS_ORIGIN_NOT_ALLOWED, "ceremonies from a cross-origin frame are not allowed")


def check_authenticator_data(
    auth_data: AuthenticatorData, *, pending: Ceremony, tenant: Tenant, conditional_create: bool = False
) -> None:
    """§7.1 steps 13-16 / §7.2 steps 15-18.

    `conditional_create`: the registration was started with mediation "conditional" (an automatic upgrade, made
    without a dialog), which L3 §7.1 step 14 exempts from UP; no gesture means no verification either, so UV is
    not required. Only the stored ceremony may say so, never the request.
    """
    # §7.1 step 13 / §7.2 step 15: rpIdHash.
    if not constant_time.bytes_eq(sha256(tenant.rp_id.encode()), auth_data.rp_id_hash):
        raise fail(ErrorCode.RP_ID_MISMATCH, "authenticatorData.rpIdHash is not the hash of this relying party's id")
    # §7.1 step 14 / §7.2 step 16: user present.
    if not conditional_create and not auth_data.is_user_present():
        raise fail(ErrorCode.USER_PRESENCE_REQUIRED, "the authenticator did not report user presence")
    # §7.1 step 15 / §7.2 step 17: user verified, when the ceremony required it.
    required = pending.user_verification == "required" and not conditional_create
    if required and not auth_data.is_user_verified():
        raise fail(ErrorCode.USER_VERIFICATION_REQUIRED, "user verification is required")
    # §7.1 step 16 / §7.2 step 18: BS may only be set when BE is.
    if auth_data.is_backed_up() and not auth_data.is_backup_eligible():
        raise fail(ErrorCode.INVALID_BACKUP_FLAGS, "backup state is set but backup eligibility is not")
