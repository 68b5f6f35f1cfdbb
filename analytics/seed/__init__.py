"""The demo's synthetic adoption history (`manage.py seed_demo`), so the dashboard tells a story.

Users sign in with passwords and other methods; a staged nudge rollout prompts them to create
passkeys on the devices they use; later, automatic upgrades let capable browsers make one silently
after a password sign-in. Before each sign-in the page asks which sign-in to lead with (a passkey for a
returning user with one usable there, autofill for a visitor it does not know, else a password), so passkey-first
decisions rise with adoption. Those with a passkey sign in with it from then on, with the odd failure,
and now and then from another device (a phone over hybrid, a security key). Their browsers report how
each ceremony ended, how long it took and what they can do (autofill, silent creation, hybrid). Passkeys
carry what a registration under the FIDO metadata would record: synced ones no attestation, security keys
a verdict, a model name and its status (a few of them compromised). Who they are is in `population`, the
day-by-day walk through the services in `simulation`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from passkeys.models import Credential, PasskeyUser
from passkeys.selectors import passkeys_count
from tenants.models import Tenant

from ..models import DailyMetric, Event, KnownUser, Nudge, NudgeSchedule
from ..services.metrics import adoption_metrics_compute_range
from .simulation import Simulation


@dataclass(frozen=True)
class SeedResult:
    tenant: Tenant
    users: int
    events: int
    passkeys: int
    days: int
    seconds: float
    skipped: bool


def demo_history_reset(*, tenant: Tenant) -> None:
    """Forget the tenant's history (events, users, passkeys, nudges, metrics); keep the tenant and its keys."""
    for model in (Event, Nudge, NudgeSchedule, KnownUser, DailyMetric, Credential, PasskeyUser):
        model.objects.filter(tenant=tenant).delete()


def demo_history_seed(
    *, tenant: Tenant, users: int = 3000, days: int = 90, seed: int = 7, reset: bool = False
) -> SeedResult:
    """Seed `days` days of history ending today, then compute their daily metrics for this tenant only.

    A tenant that already has events is left alone (its metrics are brought up to date) unless `reset`.
    """
    started = time.perf_counter()
    today = timezone.now().date()
    first = today - timedelta(days=days - 1)
    if reset:
        with transaction.atomic():
            demo_history_reset(tenant=tenant)
    skipped = Event.objects.filter(tenant=tenant).exists()
    if skipped:
        last = DailyMetric.objects.filter(tenant=tenant).order_by("-date").values_list("date", flat=True).first()
        adoption_metrics_compute_range(first=min(last or first, today), last=today, tenants=[tenant])
    else:
        rng = random.Random(seed)  # noqa: S311 (reproducible demo data, not secrets)
        browser_rng = random.Random(f"browser:{seed}")  # noqa: S311 (the browsers' side of the same history)
        pages_rng = random.Random(f"pages:{seed}")  # noqa: S311 (the sign-in pages' side)
        with transaction.atomic():  # all or nothing, so that a later run never sees half a history
            simulation = Simulation(tenant=tenant, rng=rng, browser_rng=browser_rng, pages_rng=pages_rng)
            simulation.run(users=users, first=first, days=days)
        adoption_metrics_compute_range(first=first, last=today, tenants=[tenant])
    return SeedResult(
        tenant=tenant,
        users=KnownUser.objects.filter(tenant=tenant).count(),
        events=Event.objects.filter(tenant=tenant).count(),
        passkeys=passkeys_count(tenant=tenant),
        days=days,
        seconds=time.perf_counter() - started,
        skipped=skipped,
    )
