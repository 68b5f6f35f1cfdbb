"""Which sign-in to lead with, for this user on this device (POST /v1/login-decisions).

`selectors.login_decision_for` decides from what the service knows (the user's passkeys, the platform rule the
nudges use, the failures the browser reported); this module acts on it: a passkey decision comes with its
authentication start, and every decision is recorded as one event for the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

from passkeys.services import StartedCeremony, authentication_start
from passkeys.webauthn import CONDITIONAL
from tenants.models import Tenant

from ..models import EventType, LoginDecision
from ..selectors import login_decision_for
from ..useragents import client_of
from .events import event_record


@dataclass(frozen=True)
class LoginDecisionAnswer:
    decision: str
    reason: str
    started: StartedCeremony | None  # the authentication start of a passkey or passkey_autofill decision


def login_decide(
    *,
    tenant: Tenant,
    user_agent: str = "",
    user_id: str | None = None,
    capabilities: dict[str, bool] | None = None,
    platform_authenticator_available: bool | None = None,
    device_credential_ids: list[bytes] | None = None,
) -> LoginDecisionAnswer:
    decided = login_decision_for(
        tenant=tenant,
        user_id=user_id,
        os_family=client_of(user_agent).os_family,
        capabilities=capabilities or {},
        platform_authenticator_available=platform_authenticator_available,
        device_credential_ids=device_credential_ids or [],
    )
    started = None
    if decided.decision == LoginDecision.PASSKEY:
        started = authentication_start(tenant=tenant, user_id=user_id, allow=decided.allow)
    elif decided.decision == LoginDecision.PASSKEY_AUTOFILL:
        started = authentication_start(tenant=tenant, mediation=CONDITIONAL)
    event_record(
        tenant=tenant,
        type=EventType.LOGIN_DECIDED,
        user_id=user_id,
        user_agent=user_agent,
        method=decided.decision,
        code=decided.reason,
    )
    return LoginDecisionAnswer(decision=decided.decision, reason=decided.reason, started=started)
