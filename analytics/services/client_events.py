"""The browser's own account of a ceremony (POST /v1/client-events): one event per report, one INSERT.

The report arrives with a client token, not an API key. The token names the tenant, the ceremony and its user;
the report adds only how it ended, how long it took and what the browser can do. It never touches the ceremony's
result or a credential: the ceremony is decided at its finish, and this is bookkeeping beside it.
"""

from __future__ import annotations

from django.db import IntegrityError
from django.utils import timezone

from core import statements
from core.errors import DomainError, ErrorCode
from passkeys.challenges import AUTHENTICATION, REGISTRATION
from passkeys.client_tokens import ClientTokenClaims, client_token_spend
from tenants.selectors import tenant_web_origins

from ..models import Event, EventType
from ..useragents import client_of

CLIENT_OUTCOME_EVENTS = {
    REGISTRATION: EventType.REGISTRATION_CLIENT_OUTCOME,
    AUTHENTICATION: EventType.AUTHENTICATION_CLIENT_OUTCOME,
}


def client_report_origin_allowed(*, claims: ClientTokenClaims, origin: str | None) -> bool:
    """A report from a browser page must come from one of the token's tenant's web origins (a report without an
    Origin header is not from a page's fetch and is judged by its token alone)."""
    origins = tenant_web_origins(tenant_id=claims.tenant_id)
    return origins is not None and (origin is None or origin in origins)


def client_report_record(
    *,
    claims: ClientTokenClaims,
    origin: str | None,
    user_agent: str,
    outcome: str,
    error_name: str = "",
    duration_ms: int | None = None,
    capabilities: dict[str, bool] | None = None,
) -> None:
    """Spend one of the token's reports and record it, linked to its ceremony by `ceremony_ref`."""
    if not client_report_origin_allowed(claims=claims, origin=origin):
        raise DomainError("The client token is not valid from this origin.", code=ErrorCode.INVALID_CLIENT_TOKEN)
    client_token_spend(claims)
    client = client_of(user_agent)
    try:
        event = Event(
            tenant_id=claims.tenant_id,
            type=CLIENT_OUTCOME_EVENTS[claims.ceremony],
            occurred_at=timezone.now(),
            user_id=claims.user_id or "",
            os_family=client.os_family,
            browser_family=client.browser_family,
            mediation=claims.mediation or "",
            ceremony_ref=claims.ceremony_ref,
            outcome=outcome,
            error_name=error_name,
            duration_ms=duration_ms,
            capabilities=capabilities,
        )
        statements.row_insert(event)
    except IntegrityError:  # the tenant was deleted since the token was issued
        raise DomainError("The client token's relying party is gone.", code=ErrorCode.INVALID_CLIENT_TOKEN) from None
