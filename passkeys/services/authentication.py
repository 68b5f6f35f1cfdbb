"""Authentication: log in with a passkey (WebAuthn §7.2) and get a signed login token."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from django.utils import timezone

from core import statements
from core.encoding import b64url_encode
from core.errors import DomainError, ErrorCode
from tenants.models import Tenant

from .. import webauthn
from ..challenges import AUTHENTICATION, PendingCeremony, challenge_consume
from ..errors import PasskeyError
from ..models import Credential
from ..policy import login_policy_check
from ..selectors import Descriptor, credential_for_login, login_allow_list
from ..signals import ceremony_succeeded
from ..tokens import token_issue
from .announce import Attempt, failures_announced
from .started import StartedCeremony, ceremony_open

logger = logging.getLogger(__name__)
# Mediations whose options carry no allowCredentials: the browser offers whatever discoverable passkey it holds.
DISCOVERABLE_MEDIATIONS = frozenset({"conditional", "immediate"})


@dataclass(frozen=True)
class AuthenticationResult:
    credential: Credential
    user_verified: bool
    backed_up: bool
    token: str
    attachment: str | None  # authenticatorAttachment of this login: "cross-platform" is another device


def authentication_start(
    *,
    tenant: Tenant,
    user_id: str | None = None,
    user_verification: str | None = None,
    mediation: str | None = None,
    hints: list[str] | None = None,
    prf: dict[str, Any] | None = None,
    allow: list[Descriptor] | None = None,
) -> StartedCeremony:
    """PublicKeyCredentialRequestOptionsJSON and its client token; with a user_id only that user's credentials may
    answer.

    Conditional and immediate mediation (autofill; L3 "sign in only if a passkey is at hand") need an
    empty allow list, so they are never user-bound. `prf` salts go to the browser as they came. `allow`, some of the
    user's credentials in the order to offer them, replaces the default of all of them (a login decision's choice).
    """
    discoverable_mode = mediation if mediation in DISCOVERABLE_MEDIATIONS else None  # recorded as its own mode
    bound_user_id = user_id if discoverable_mode is None else None
    if bound_user_id is None:
        allow = None
    elif allow is None:
        allow = login_allow_list(tenant=tenant, user_id=bound_user_id)
    if prf and "evalByCredential" in prf:
        _check_eval_by_credential(prf["evalByCredential"], allow=allow)
    user_verification = user_verification or tenant.user_verification
    options, challenge = webauthn.authentication_options(
        tenant=tenant, allow=allow, user_verification=user_verification, hints=hints, prf=prf
    )
    return ceremony_open(
        tenant=tenant,
        public_key=options,
        pending=PendingCeremony(
            tenant_id=str(tenant.pk),
            ceremony=AUTHENTICATION,
            challenge=challenge,
            user_verification=user_verification,
            expires_at=time.time() + tenant.challenge_timeout,
            user_id=bound_user_id,
            mediation=discoverable_mode,
        ),
    )


def _check_eval_by_credential(salts: dict[str, Any], *, allow: list[tuple[bytes, list[str]]] | None) -> None:
    """PRF evalByCredential names credentials of allowCredentials (WebAuthn §10.1.4); a browser refuses anything
    else with a NotSupportedError or SyntaxError, so say it here, where the relying party's backend hears it."""
    allowed = {b64url_encode(credential_id) for credential_id, _ in allow or []}
    if not allowed:
        raise DomainError(
            "prf.evalByCredential needs a login bound to a user with passkeys (user_id, not conditional or "
            "immediate mediation): the browser refuses it without allowCredentials.",
            code=ErrorCode.VALIDATION_ERROR,
        )
    unknown = [credential_id for credential_id in salts if credential_id not in allowed]
    if unknown:
        raise DomainError(
            f"prf.evalByCredential names {len(unknown)} credential(s) that are not this user's.",
            code=ErrorCode.VALIDATION_ERROR,
        )


def _possible_clone(stored: Credential) -> PasskeyError:
    logger.warning("possible cloned credential %s of tenant %s: sign counter regressed", stored.pk, stored.tenant_id)
    return PasskeyError(
        "The signature counter went backwards: the credential may be cloned.", code=ErrorCode.SIGN_COUNT_REGRESSION
    )


def authentication_finish(
    *, tenant: Tenant, credential: Any, issuer: str, user_agent: str = "", ip: str | None = None
) -> AuthenticationResult:
    """Verify the browser's AuthenticationResponseJSON, update the credential, issue a token.

    Consume the challenge, load the credential, verify (the adapter), update, announce: each once.
    """
    attempt = Attempt(user_agent=user_agent, ip=ip)
    with failures_announced(tenant=tenant, ceremony=AUTHENTICATION, attempt=attempt):
        parsed = webauthn.authentication_parse(credential)
        pending = challenge_consume(tenant_id=str(tenant.pk), ceremony=AUTHENTICATION, challenge=parsed.challenge)
        attempt.user_id = pending.user_id
        stored = credential_for_login(tenant=tenant, credential_id=parsed.raw_id)
        if stored is None:
            raise PasskeyError("No credential with this id is registered.", code=ErrorCode.CREDENTIAL_NOT_FOUND)
        attempt.user_id, attempt.credential = stored.user.user_id, stored
        verified = webauthn.authentication_verify(tenant=tenant, parsed=parsed, pending=pending, stored=_record(stored))
        login_policy_check(tenant=tenant, credential=stored)
        now = timezone.now()
        updated = credential_counter_advance(credential=stored, verified=verified, now=now)
        if not updated:
            raise _possible_clone(stored)
    stored.sign_count = verified.sign_count
    stored.backed_up = verified.backed_up
    stored.user_verified = verified.user_verified
    stored.last_used_at = now
    token = token_issue(
        tenant=tenant,
        issuer=issuer,
        user_id=stored.user.user_id,
        credential_id=parsed.raw_id,
        user_verified=verified.user_verified,
        backed_up=verified.backed_up,
    )
    ceremony_succeeded.send(
        sender=Tenant,
        tenant=tenant,
        ceremony=AUTHENTICATION,
        user_id=stored.user.user_id,
        credential=stored,
        user_agent=user_agent,
        ip=ip,
        mediation=pending.mediation,
        attachment=verified.attachment,
        ceremony_ref=pending.ref,
    )
    return AuthenticationResult(
        credential=stored,
        user_verified=verified.user_verified,
        backed_up=verified.backed_up,
        token=token,
        attachment=verified.attachment,
    )


@cache
def _counter_update_statements() -> dict[bool, str]:
    """The login's UPDATE, one for each counter rule, written once (core.statements)."""
    q = partial(statements.column, Credential)
    assign = ", ".join(f"{q(name)} = %s" for name in ("sign_count", "backed_up", "user_verified", "last_used_at"))
    update = f"UPDATE {statements.table(Credential)} SET {assign} WHERE {q('id')} = %s AND "  # noqa: S608
    return {True: update + f"{q('sign_count')} = 0", False: update + f"{q('sign_count')} < %s"}


def credential_counter_advance(*, credential: Credential, verified: webauthn.VerifiedAuthentication, now) -> bool:
    """Store what a verified login tells of the credential, if its counter moved on; False if it did not.

    §7.2 step 23, checked by the UPDATE itself so one rule covers both a replayed counter and two concurrent logins
    with the same value: the new counter must exceed the stored one, unless both are zero (an authenticator that
    does not count)."""
    counts = verified.sign_count == 0
    params = [
        verified.sign_count,
        verified.backed_up,
        verified.user_verified,
        statements.db_value(Credential, "last_used_at", now),
        credential.pk,
    ]
    return (
        statements.rows_update(
            _counter_update_statements()[counts], params if counts else [*params, verified.sign_count]
        )
        == 1
    )


def _record(stored: Credential) -> webauthn.StoredCredential:
    """The credential record as the adapter reads it."""
    return webauthn.StoredCredential(
        credential_id=bytes(stored.credential_id),
        public_key=bytes(stored.public_key),
        aaguid=stored.aaguid,
        backup_eligible=stored.backup_eligible,
        sign_count=stored.sign_count,
        user_handle=bytes(stored.user.handle),
        user_id=stored.user.user_id,
    )
