"""Registration: append a passkey to a user (WebAuthn §7.1)."""

from __future__ import annotations

import os
import time
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import DomainError, ErrorCode
from tenants.models import Tenant

from .. import webauthn
from ..challenges import REGISTRATION, PendingCeremony, challenge_consume
from ..errors import PasskeyError, credential_exists
from ..models import CreatedVia, Credential, PasskeyUser
from ..policy import registration_policy_check
from ..providers import provider_name
from ..selectors import credential_id_taken, passkey_user_get, registration_exclude_list
from ..signals import ceremony_succeeded
from .announce import Attempt, failures_announced
from .metadata import authenticator_model, metadata_current
from .started import StartedCeremony, ceremony_open

USER_HANDLE_BYTES = 32


def passkey_user_get_or_create(*, tenant: Tenant, user_id: str) -> PasskeyUser:
    """The user's WebAuthn handle is random and made once, at their first registration start."""
    user = passkey_user_get(tenant=tenant, user_id=user_id)
    if user is not None:
        return user
    try:
        with transaction.atomic():
            return PasskeyUser.objects.create(tenant=tenant, user_id=user_id, handle=os.urandom(USER_HANDLE_BYTES))
    except IntegrityError:  # a concurrent start created it first
        user = passkey_user_get(tenant=tenant, user_id=user_id)
        assert user is not None  # noqa: S101 - the row that made the INSERT fail
        return user


@transaction.atomic  # a first start that cannot store its challenge leaves no user behind
def registration_start(
    *,
    tenant: Tenant,
    user_id: str,
    username: str,
    display_name: str = "",
    authenticator_attachment: str | None = None,
    resident_key: str | None = None,
    user_verification: str | None = None,
    hints: list[str] | None = None,
    mediation: str | None = None,
    prf: bool = False,
) -> StartedCeremony:
    """PublicKeyCredentialCreationOptionsJSON for this user, excluding their existing credentials, and its client token.

    `mediation` "conditional" starts an automatic upgrade: the challenge remembers it, and only its finish may come
    without user presence.
    """
    if mediation == webauthn.CONDITIONAL and not tenant.automatic_upgrades:
        raise DomainError(
            "Automatic upgrades (mediation conditional) are turned off for this relying party.",
            code=ErrorCode.VALIDATION_ERROR,
        )
    user = passkey_user_get_or_create(tenant=tenant, user_id=user_id)
    user_verification = user_verification or tenant.user_verification
    options, challenge = webauthn.registration_options(
        tenant=tenant,
        user_handle=bytes(user.handle),
        username=username,
        display_name=display_name or username,
        exclude=registration_exclude_list(tenant=tenant, user=user),
        resident_key=resident_key or tenant.resident_key,
        user_verification=user_verification,
        authenticator_attachment=authenticator_attachment,
        hints=hints,
        prf=prf,
    )
    return ceremony_open(
        tenant=tenant,
        public_key=options,
        pending=PendingCeremony(
            tenant_id=str(tenant.pk),
            ceremony=REGISTRATION,
            challenge=challenge,
            user_verification=user_verification,
            expires_at=time.time() + tenant.challenge_timeout,
            user_pk=user.pk,
            user_id=user_id,
            user_handle=bytes(user.handle).hex(),
            algorithms=list(webauthn.tenant_algorithms(tenant)),
            mediation=mediation,
        ),
    )


def registration_finish(*, tenant: Tenant, credential: Any, name: str = "", user_agent: str = "") -> Credential:
    """Verify the browser's RegistrationResponseJSON and store the new credential.

    Consume the challenge, verify (the adapter, with the FIDO metadata), apply the tenant's authenticator policy,
    insert, announce.
    """
    attempt = Attempt(user_agent=user_agent)
    with failures_announced(tenant=tenant, ceremony=REGISTRATION, attempt=attempt):
        parsed = webauthn.registration_parse(credential)
        pending = challenge_consume(tenant_id=str(tenant.pk), ceremony=REGISTRATION, challenge=parsed.challenge)
        attempt.user_id = pending.user_id
        verified = webauthn.registration_verify(
            tenant=tenant, parsed=parsed, pending=pending, metadata=metadata_current()
        )
        status, authenticator_name = authenticator_model(verified.aaguid)
        registration_policy_check(tenant=tenant, verified=verified, status=status)
        provider = provider_name(verified.aaguid)
        stored = Credential(
            tenant=tenant,
            user_id=pending.user_pk,
            credential_id=verified.credential_id,
            public_key=verified.public_key,
            algorithm=verified.algorithm,
            sign_count=verified.sign_count,
            transports=verified.transports,
            aaguid=verified.aaguid,
            provider_name=provider,
            attestation_format=verified.attestation_format,
            backup_eligible=verified.backup_eligible,
            backed_up=verified.backed_up,
            user_verified=verified.user_verified,
            discoverable=verified.discoverable,
            prf_enabled=verified.prf_enabled,
            created_via=CreatedVia.AUTOMATIC_UPGRADE
            if pending.mediation == webauthn.CONDITIONAL
            else CreatedVia.CEREMONY,
            authenticator_attachment=verified.attachment or "",
            attestation=verified.attestation,
            authenticator_name=authenticator_name,
            authenticator_status=status,
            name=(name or provider or "Passkey")[:200],
        )
        # The owner as the pending ceremony recorded it, so that showing the credential costs no query.
        stored.user = PasskeyUser(
            pk=pending.user_pk, tenant=tenant, user_id=pending.user_id, handle=bytes.fromhex(pending.user_handle or "")
        )
        try:
            # One transaction: the credential and what listeners record of it (its event, the nudge it
            # answers) commit together, so metrics computed right after see all of it.
            with transaction.atomic():
                stored.save(force_insert=True)
                ceremony_succeeded.send(
                    sender=Tenant,
                    tenant=tenant,
                    ceremony=REGISTRATION,
                    user_id=pending.user_id,
                    credential=stored,
                    user_agent=user_agent,
                    ip=None,
                    mediation=pending.mediation,
                    attachment=verified.attachment,
                    ceremony_ref=pending.ref,
                )
        except IntegrityError:
            # §7.1 step 26: a credential id is registered once per relying party.
            if credential_id_taken(tenant=tenant, credential_id=verified.credential_id):
                raise credential_exists() from None
            raise PasskeyError(
                "The user was deleted during the ceremony.", code=ErrorCode.CHALLENGE_NOT_FOUND
            ) from None
    return stored
