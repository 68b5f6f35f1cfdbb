"""Announce ceremony failures through the signals seam, then let the error travel on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tenants.models import Tenant

from ..errors import PasskeyError
from ..models import Credential
from ..signals import ceremony_failed


@dataclass
class Attempt:
    """One finish: who sent it, and whom and what it is about as the service learns them."""

    user_agent: str = ""
    ip: str | None = None
    user_id: str | None = None  # from the pending ceremony, then from the credential's owner
    credential: Credential | None = None  # once the credential the response names is loaded


@contextmanager
def failures_announced(*, tenant: Tenant, ceremony: str, attempt: Attempt) -> Iterator[Attempt]:
    """A PasskeyError raised inside is sent as ceremony_failed with what `attempt` holds by then."""
    try:
        yield attempt
    except PasskeyError as error:
        ceremony_failed.send(
            sender=Tenant,
            tenant=tenant,
            ceremony=ceremony,
            code=error.code,
            user_id=attempt.user_id,
            credential=attempt.credential,
            user_agent=attempt.user_agent,
            ip=attempt.ip,
        )
        raise
