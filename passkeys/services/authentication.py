"""Authentication: log in with a passkey (WebAuthn §7.2) and get a signed login token."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone

from tenants.models import Tenant

from .. import webauthn
from ..challenges import AUTHENTICATION, PendingCeremony, challenge_consume, challenge_save
from ..errors import PasskeyError
from ..models import Credential
from ..signals import ceremony_started, ceremony_succeeded
from ..tokens import token_issue
from .announce import failures_announced

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuthenticationResult:
    credential: Credential
    user_verified: bool
    backed_up: bool
    token: str


def authentication_start(
    *,
    tenant: Tenant,
    user_id: str | None = None,
    user_verification: str | None = None,
    mediation: str | None = None,
) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptionsJSON; with a user_id only that user's credentials may answer.

    Conditional mediation (passkey autofill) needs an empty allow list, so it is never user-bound.
    """
    bound_user_id = user_id if mediation != "conditional" else None
    allow = None
    if bound_user_id is not None:
        rows = Credential.objects.filter(tenant=tenant, user__user_id=bound_user_id).values_list(
            "credential_id", "transports"
        )
        allow = [(bytes(credential_id), transports) for credential_id, transports in rows]
    user_verification = user_verification or tenant.user_verification
    options, challenge = webauthn.authentication_options(
        tenant=tenant, allow=allow, user_verification=user_verification
    )
    challenge_save(
        PendingCeremony(
            tenant_id=str(tenant.pk),
            ceremony=AUTHENTICATION,
            challenge=challenge,
            user_verification=user_verification,
            expires_at=time.time() + tenant.challenge_timeout,
            user_id=bound_user_id,
        )
    )
    ceremony_started.send(sender=Tenant, tenant=tenant, ceremony=AUTHENTICATION, user_id=bound_user_id)
    return options


def _check_user(*, stored: Credential, pending: PendingCeremony, user_handle: bytes | None) -> None:
    """§7.2 step 6: the credential must belong to the identified user, and the handle must name its owner."""
    if pending.user_id is not None and stored.user.user_id != pending.user_id:
        raise PasskeyError("The credential belongs to another user.", code="user_handle_mismatch")
    if pending.user_id is None and user_handle is None:
        raise PasskeyError("A discoverable login must carry a user handle.", code="user_handle_mismatch")
    if user_handle is not None and user_handle != bytes(stored.user.handle):
        raise PasskeyError("The user handle is not the credential owner's.", code="user_handle_mismatch")


def _possible_clone(stored: Credential) -> PasskeyError:
    logger.warning("possible cloned credential %s of tenant %s: sign counter regressed", stored.pk, stored.tenant_id)
    return PasskeyError(
        "The signature counter went backwards: the credential may be cloned.", code="sign_count_regression"
    )


def authentication_finish(
    *, tenant: Tenant, credential: Any, issuer: str, user_agent: str = "", ip: str | None = None
) -> AuthenticationResult:
    """Verify the browser's AuthenticationResponseJSON, update the credential, issue a token.

    Costs one challenge consume, one credential lookup, the signature check and one update.
    """
    with failures_announced(
        tenant=tenant, ceremony=AUTHENTICATION, context={"user_id": None, "user_agent": user_agent, "ip": ip}
    ) as context:
        parsed = webauthn.authentication_parse(credential)
        pending = challenge_consume(tenant_id=str(tenant.pk), ceremony=AUTHENTICATION, challenge=parsed.challenge)
        context["user_id"] = pending.user_id
        try:
            stored = Credential.objects.select_related("user").get(tenant=tenant, credential_id=parsed.raw_id)
        except Credential.DoesNotExist:
            raise PasskeyError("No credential with this id is registered.", code="credential_not_found") from None
        context.update(user_id=stored.user.user_id, credential=stored)
        _check_user(stored=stored, pending=pending, user_handle=webauthn.user_handle_of(parsed))
        verified = webauthn.authentication_verify(
            tenant=tenant,
            parsed=parsed,
            challenge=pending.challenge,
            user_verification=pending.user_verification,
            public_key=bytes(stored.public_key),
            aaguid=stored.aaguid,
            backup_eligible=stored.backup_eligible,
        )
        now = timezone.now()
        # §7.2 step 22, checked by the UPDATE itself so one rule covers both a replayed counter and two
        # concurrent logins with the same value: the new counter must exceed the stored one, unless both
        # are zero (an authenticator that does not count).
        counter_moved_on = Q(sign_count=0) if verified.sign_count == 0 else Q(sign_count__lt=verified.sign_count)
        updated = Credential.objects.filter(counter_moved_on, pk=stored.pk).update(
            sign_count=verified.sign_count,
            backed_up=verified.backed_up,
            user_verified=verified.user_verified,
            last_used_at=now,
        )
        if not updated:
            raise _possible_clone(stored)
    stored.sign_count = verified.sign_count
    stored.backed_up = verified.backed_up
    stored.user_verified = verified.user_verified
    stored.last_used_at = now
    token = token_issue(tenant=tenant, issuer=issuer, user_id=stored.user.user_id, credential_id=parsed.raw_id)
    ceremony_succeeded.send(
        sender=Tenant,
        tenant=tenant,
        ceremony=AUTHENTICATION,
        user_id=stored.user.user_id,
        credential=stored,
        user_agent=user_agent,
        ip=ip,
    )
    return AuthenticationResult(
        credential=stored, user_verified=verified.user_verified, backed_up=verified.backed_up, token=token
    )
