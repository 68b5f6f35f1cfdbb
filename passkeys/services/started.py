"""What both starts do once their options are made: keep the challenge, announce it, hand out its client token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenants.models import Tenant

from ..challenges import PendingCeremony, challenge_save
from ..client_tokens import client_token_issue
from ..signals import ceremony_started


@dataclass(frozen=True)
class StartedCeremony:
    public_key: dict[str, Any]  # PublicKeyCredentialCreationOptionsJSON or PublicKeyCredentialRequestOptionsJSON
    client_token: str  # lets the page report how the ceremony ended in the browser


def ceremony_open(*, tenant: Tenant, pending: PendingCeremony, public_key: dict[str, Any]) -> StartedCeremony:
    challenge_save(pending)
    ceremony_started.send(
        sender=Tenant,
        tenant=tenant,
        ceremony=pending.ceremony,
        user_id=pending.user_id,
        mediation=pending.mediation,
        ceremony_ref=pending.ref,
    )
    return StartedCeremony(public_key=public_key, client_token=client_token_issue(pending))
