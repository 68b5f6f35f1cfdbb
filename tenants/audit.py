"""The audit log: one function records who did what to a tenant, from where.

Services call `audit_record` with what happened; who did it and from which IP come from a
request-scoped context, so services keep their signatures. `AuditContextMiddleware` binds the
current request; the actor is read from it when an entry is recorded, after authentication:

- an API request: DRF copies `request.auth` (the key's principal) onto the Django request, so
  the actor is the API key, named by its public prefix;
- an admin request: the signed-in person;
- no request (a management command, a Celery task): "system", or what `audit_actor` says.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.http import HttpRequest

from core.http import client_ip

from .models import ActorType, AuditEntry, Tenant

# Field names whose values never enter the log, whatever model they are on.
SECRET_FIELDS = frozenset({"key_hash", "secret", "secrets", "private_key_encrypted", "password", "handle"})
REDACTED = "(changed)"


@dataclass(frozen=True)
class Actor:
    type: str
    name: str
    user_pk: int | None = None


@dataclass(frozen=True)
class _Context:
    request: HttpRequest | None = None
    actor: Actor | None = None


_context: ContextVar[_Context | None] = ContextVar("audit_context", default=None)


@contextmanager
def audit_request(request: HttpRequest) -> Iterator[None]:
    """Attribute what happens while handling `request` to its caller (used by the middleware)."""
    token = _context.set(_Context(request=request))
    try:
        yield
    finally:
        _context.reset(token)


@contextmanager
def audit_actor(name: str) -> Iterator[None]:
    """Attribute what happens inside to the system under `name` (a command, a task, a job)."""
    current = _context.get() or _Context()
    token = _context.set(_Context(request=current.request, actor=Actor(ActorType.SYSTEM, name)))
    try:
        yield
    finally:
        _context.reset(token)


def _system_actor() -> Actor:
    # `manage.py rotate_signing_key` is a more useful "who" than "system" when an operator acts.
    if sys.argv and sys.argv[0].endswith(("manage.py", "django-admin")) and len(sys.argv) > 1:
        return Actor(ActorType.SYSTEM, f"manage.py {sys.argv[1]}")
    return Actor(ActorType.SYSTEM, "system")


def _request_actor(request: HttpRequest) -> Actor | None:
    principal = getattr(request, "auth", None)
    prefix = getattr(principal, "prefix", None)
    if prefix is not None:
        return Actor(ActorType.API_KEY, prefix)
    user = getattr(request, "user", None)
    if isinstance(user, AbstractBaseUser) and user.is_authenticated:
        return Actor(ActorType.USER, user.get_username(), user.pk)
    return None


def current_actor() -> tuple[Actor, str | None]:
    """Who is acting now, and from which IP."""
    context = _context.get()
    if context is None:
        return _system_actor(), None
    ip = client_ip(context.request) if context.request is not None else None
    actor = context.actor or (_request_actor(context.request) if context.request is not None else None)
    return actor or _system_actor(), ip


def audit_record(
    *,
    tenant: Tenant | None,
    action: str,
    target: str,
    changes: dict[str, list[Any]] | None = None,
) -> AuditEntry:
    """Store one entry; `changes` is {field: [old, new]} and is redacted here, not by callers."""
    actor, ip = current_actor()
    return AuditEntry.objects.create(
        tenant=tenant,
        tenant_name=tenant.name if tenant is not None else "",
        action=action,
        actor_type=actor.type,
        actor=actor.name[:200],
        actor_user_id=actor.user_pk,
        ip=ip,
        target=target[:300],
        changes=_redacted(changes or {}),
    )


def field_changes(before: models.Model | None, after: models.Model, fields: Iterable[str]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the `fields` whose values differ (all of them when `before` is None)."""
    changes = {}
    for name in fields:
        old = _plain(getattr(before, name, None)) if before is not None else None
        new = _plain(getattr(after, name, None))
        if before is None or old != new:
            changes[name] = [old, new]
    return changes


def _redacted(changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        name: [REDACTED, REDACTED] if name in SECRET_FIELDS else [_plain(value) for value in values]
        for name, values in changes.items()
    }


def _plain(value: Any) -> Any:
    """A JSON value for the log: models by their id, binary never."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, bytes | bytearray | memoryview):
        return REDACTED
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    return str(value)
