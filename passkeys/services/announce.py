"""Announce ceremony failures through the signals seam, then let the error travel on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tenants.models import Tenant

from ..errors import PasskeyError
from ..signals import ceremony_failed


@contextmanager
def failures_announced(*, tenant: Tenant, ceremony: str, context: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`context` is filled in as the ceremony learns who and what it is about."""
    try:
        yield context
    except PasskeyError as error:
        ceremony_failed.send(sender=Tenant, tenant=tenant, ceremony=ceremony, code=error.code, **context)
        raise
