"""Synthetic demo history, recorded through the services the API uses, so the dashboard tells a story.

Users sign in with passwords and other methods; a staged nudge rollout prompts them to create
passkeys on the devices they use; those who do sign in with passkeys from then on, with the odd
failure. Every step goes through the services with an explicit time (the ceremony services stamp
`now`, so their events are recorded with `event_record(occurred_at=...)` as the recorder would).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection, transaction
from django.utils import timezone
from fido2 import cbor
from fido2.cose import ES256

from passkeys.models import Credential, PasskeyUser
from passkeys.services.credentials import credential_import
from tenants.models import Tenant

from .models import DailyMetric, Event, EventType, KnownUser, Nudge, NudgeOutcome, NudgeSchedule
from .services.events import event_record
from .services.metrics import adoption_metrics_compute_range
from .services.nudges import PROVIDER_PLATFORMS, nudge_outcome_record, nudge_policy_for, sign_in_record


@dataclass(frozen=True)
class Provider:
    aaguid: uuid.UUID
    synced: bool  # backup eligible and backed up
    id_length: int
    transports: tuple[str, ...]


# Real AAGUIDs; the security key's (a YubiKey 5 Series) is not in the passkey provider list, so it has no name.
PROVIDERS = {
    "apple": Provider(uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd"), True, 20, ("hybrid", "internal")),
    "google": Provider(uuid.UUID("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"), True, 16, ("hybrid", "internal")),
    "windows": Provider(uuid.UUID("08987058-cadc-4b81-b6e1-30de50dcbe96"), False, 32, ("internal",)),
    "1password": Provider(uuid.UUID("bada5566-a7aa-401f-bd96-45619a55120d"), True, 32, ("hybrid", "internal")),
    "bitwarden": Provider(uuid.UUID("d548826e-79b4-db40-a3d8-11116f7e8349"), True, 16, ("internal",)),
    "security_key": Provider(uuid.UUID("cb69481e-8ff7-4039-93ec-0a2729a154a8"), False, 32, ("nfc", "usb")),
}


@dataclass(frozen=True)
class Device:
    os: str  # as ua-parser names it
    user_agent: str  # with {v} for a version, so that user agents vary like real traffic
    versions: tuple[str, ...]
    ready: float  # share of these devices where isUserVerifyingPlatformAuthenticatorAvailable() is true
    providers: dict[str, int]  # where a passkey made on this device is kept, by weight
    share: int
    mobile: bool


_CHROME = ("124.0.0.0", "125.0.0.0", "126.0.0.0", "127.0.0.0")
_APPLE = ("17_4", "17_5", "17_6", "18_0")
_SAFARI = ("17.4", "17.5", "17.6", "18.0")
_FIREFOX = ("125.0", "126.0", "127.0", "128.0")
_WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
DEVICES = (
    Device("iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS {v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/17.5 Mobile/15E148 Safari/604.1", _APPLE, 0.97,
           {"apple": 85, "1password": 9, "bitwarden": 6}, 30, True),
    Device("Android", f"Mozilla/5.0 (Linux; Android 14; K) {_WEBKIT} Chrome/{{v}} Mobile Safari/537.36", _CHROME, 0.95,
           {"google": 86, "1password": 6, "bitwarden": 8}, 24, True),
    Device("Windows", f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_WEBKIT} Chrome/{{v}} Safari/537.36", _CHROME, 0.88,
           {"windows": 45, "google": 30, "1password": 10, "bitwarden": 7, "security_key": 8}, 16, False),
    Device("Windows", f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_WEBKIT} Chrome/{{v}} Safari/537.36 Edg/{{v}}",
           _CHROME, 0.9, {"windows": 70, "1password": 10, "bitwarden": 8, "security_key": 12}, 8, False),
    Device("Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}) Gecko/20100101 Firefox/{v}", _FIREFOX, 0.8,
           {"windows": 65, "1password": 12, "bitwarden": 13, "security_key": 10}, 4, False),
    Device("Mac OS X", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/{v} Safari/605.1.15", _SAFARI, 0.95, {"apple": 82, "1password": 12, "bitwarden": 6}, 8, False),
    Device("Mac OS X", f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_WEBKIT} Chrome/{{v}} Safari/537.36", _CHROME,
           0.93, {"google": 50, "apple": 25, "1password": 15, "bitwarden": 5, "security_key": 5}, 6, False),
    Device("Linux", "Mozilla/5.0 (X11; Linux x86_64; rv:{v}) Gecko/20100101 Firefox/{v}", _FIREFOX, 0.2,
           {"bitwarden": 45, "1password": 25, "security_key": 30}, 2, False),
    Device("Linux", f"Mozilla/5.0 (X11; Linux x86_64) {_WEBKIT} Chrome/{{v}} Safari/537.36", _CHROME, 0.55,
           {"google": 55, "bitwarden": 20, "1password": 10, "security_key": 15}, 2, False),
)  # fmt: skip

METHODS = {"password": 70, "otp": 10, "magic_link": 8, "social": 9, "sso": 3}
# Codes from the error contract; the first group is raised once the credential is known.
AUTHENTICATION_FAILURES = {
    "user_verification_required": 14, "signature_invalid": 5, "sign_count_regression": 3, "user_handle_mismatch": 5,
    "challenge_expired": 32, "credential_not_found": 25, "origin_not_allowed": 8, "challenge_not_found": 8,
}  # fmt: skip
IDENTIFIED = {"user_verification_required", "signature_invalid", "sign_count_regression", "user_handle_mismatch"}
REGISTRATION_FAILURES = {
    "challenge_expired": 40, "credential_exists": 25, "user_verification_required": 15, "origin_not_allowed": 10,
    "unsupported_algorithm": 5, "attestation_invalid": 5,
}  # fmt: skip
# Sign-ins per day by kind of user, and the share of each kind.
ACTIVITY = ((0.12, 6), (0.05, 24), (0.025, 70))
HOURS = (1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 8, 8, 7, 7, 7, 7, 7, 6, 5, 4, 3, 2)  # UTC, a mostly European service


@dataclass
class _Passkey:
    credential: Credential
    os: str  # where it was registered

    def usable_on(self, os_family: str) -> bool:
        """The nudge service's own rule: where it was made, or anywhere its provider syncs to."""
        if os_family == self.os:
            return True
        if not self.credential.backed_up:
            return False
        platforms = PROVIDER_PLATFORMS.get(self.credential.provider_name)
        return os_family in platforms if platforms is not None else bool(self.credential.provider_name)


@dataclass
class _User:
    user_id: str
    rate: float  # sign-ins per day
    joins: int  # day index of the first sign-in
    new: bool  # signs up on that day rather than coming back
    # Each with this user's user agent on it, and whether it has a platform authenticator.
    devices: list[tuple[Device, str, bool]]
    passkeys: list[_Passkey] = field(default_factory=list)

    def passkey_on(self, os_family: str) -> _Passkey | None:
        return next((p for p in self.passkeys if p.usable_on(os_family)), None)


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
        with transaction.atomic():  # all or nothing, so that a later run never sees half a history
            _Simulation(tenant=tenant, rng=rng).run(users=users, first=first, days=days)
        adoption_metrics_compute_range(first=first, last=today, tenants=[tenant])
    return SeedResult(
        tenant=tenant,
        users=KnownUser.objects.filter(tenant=tenant).count(),
        events=Event.objects.filter(tenant=tenant).count(),
        passkeys=Credential.objects.filter(tenant=tenant).count(),
        days=days,
        seconds=time.perf_counter() - started,
        skipped=skipped,
    )


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass(frozen=True)
class _Visit:
    user: _User
    device: Device
    agent: str
    ready: bool


class _Simulation:
    """Walks the days in order and each day's sign-ins in time order, so each service sees a plausible past."""

    def __init__(self, *, tenant: Tenant, rng: random.Random) -> None:
        self.tenant, self.rng = tenant, rng
        self.now = timezone.now()
        self.policy = nudge_policy_for(tenant)
        self.target_rollout = self.policy.rollout_percent

    def run(self, *, users: int, first: date, days: int) -> None:
        rng = self.rng
        people = [self._user(number, days) for number in range(users)]
        for index in range(days):
            progress = index / max(days - 1, 1)
            self._rollout(progress)
            day = first + timedelta(days=index)
            busy = 0.7 if day.weekday() >= 5 else 1.0
            sessions = [
                (self._moment(day), user)
                for user in people
                if index == user.joins or (index > user.joins and rng.random() < user.rate * busy)
            ]
            sessions.sort(key=lambda session: session[0])
            for at, user in sessions:
                self._session(user, at, progress, signs_up=user.new and index == user.joins)
            if index and not (index + 1) & index:  # each time the history has doubled
                self._statistics_refresh()
        # The login service stamps last_used_at with the real time; ours are the simulated ones.
        used = [p.credential for u in people for p in u.passkeys if p.credential.last_used_at]
        Credential.objects.bulk_update(used, ["last_used_at"], batch_size=500)

    @staticmethod
    def _statistics_refresh() -> None:
        """Let PostgreSQL plan with what is in the tables now, as autovacuum would between real days.

        Tables that were empty have no statistics, and the nudge service's passkey lookup then becomes a
        nested loop over every passkey of the tenant: quadratic over a seed (3 ms a call at 2k passkeys).
        """
        if connection.vendor != "postgresql":
            return
        models = (Event, Credential, PasskeyUser, Nudge, NudgeSchedule)
        tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")  # our own table names only

    def _user(self, number: int, days: int) -> _User:
        rng = self.rng
        rate = rng.choices([rate for rate, _ in ACTIVITY], weights=[share for _, share in ACTIVITY])[0]
        # Most were customers before the history starts and come back within their usual interval; some join.
        new = rng.random() < 0.2
        joins = rng.randrange(days) if new else rng.randrange(min(days, round(1 / rate)))
        kinds = [rng.choices(DEVICES, weights=[d.share for d in DEVICES])[0]]
        if rng.random() < 0.35:  # a phone and a computer
            others = [d for d in DEVICES if d.mobile != kinds[0].mobile]
            kinds.append(rng.choices(others, weights=[d.share for d in others])[0])
        devices = [(d, d.user_agent.format(v=rng.choice(d.versions)), rng.random() < d.ready) for d in kinds]
        return _User(user_id=f"demo-user-{number:05d}", rate=rate, joins=joins, new=new, devices=devices)

    def _rollout(self, progress: float) -> None:
        """A staged rollout: no prompts at first, then a growing share of users up to the policy's own."""
        percent = max(0, min(self.target_rollout, round((progress - 0.05) * 500)))
        if percent != self.policy.rollout_percent:
            self.policy.rollout_percent = percent
            self.policy.save(update_fields=["rollout_percent"])

    def _moment(self, day: date) -> datetime:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        span = min(86400.0, (self.now - start).total_seconds())  # today only up to now
        hour = self.rng.choices(range(24), weights=HOURS)[0]
        return start + timedelta(seconds=(hour + self.rng.random()) / 24 * span)

    def _later(self, at: datetime, low: float, high: float) -> datetime:
        return at + timedelta(seconds=self.rng.uniform(low, high))

    def _event(self, type: str, at: datetime, visit: _Visit | None = None, *, user_id: str | None = None,
               code: str = "", passkey: _Passkey | None = None) -> None:  # fmt: skip
        credential = passkey.credential if passkey else None
        event_record(
            tenant=self.tenant,
            type=type,
            user_id=user_id,
            user_agent=visit.agent if visit else "",  # the recorder has no user agent at a ceremony's start
            code=code,
            provider=credential.provider_name if credential else "",
            credential_id=bytes(credential.credential_id) if credential else None,
            occurred_at=min(at, self.now),
        )

    def _session(self, user: _User, at: datetime, progress: float, signs_up: bool) -> None:
        rng = self.rng
        device, agent, ready = user.devices[1] if len(user.devices) > 1 and rng.random() < 0.3 else user.devices[0]
        visit = _Visit(user=user, device=device, agent=agent, ready=ready)
        # Once passkeys have launched, some new accounts start with one (or fall back to a password).
        if signs_up and ready and self.policy.rollout_percent and rng.random() < 0.5 and self._register(visit, at):
            return
        passkey = user.passkey_on(device.os)
        if passkey is not None and rng.random() < 0.8 + 0.15 * progress:
            self._passkey_sign_in(visit, passkey, at, progress)
            return
        if rng.random() < 0.15:  # passkey autofill was offered, and the user typed a password instead
            self._event(EventType.AUTHENTICATION_STARTED, at)
        self._other_sign_in(visit, self._later(at, 5, 30), progress)

    def _passkey_sign_in(self, visit: _Visit, passkey: _Passkey, at: datetime, progress: float) -> None:
        rng, user_id = self.rng, visit.user.user_id
        self._event(EventType.AUTHENTICATION_STARTED, at)
        roll = rng.random()
        if roll < 0.03:  # cancelled the passkey sheet (nothing reaches the server) and typed a password
            self._other_sign_in(visit, self._later(at, 15, 60), progress)
            return
        if roll < 0.065:
            code = _pick(rng, AUTHENTICATION_FAILURES)
            known = code in IDENTIFIED
            at = self._later(at, 2, 20)
            self._event(EventType.AUTHENTICATION_FAILED, at, visit, user_id=user_id if known else None, code=code,
                        passkey=passkey if known else None)  # fmt: skip
            if rng.random() < 0.4:
                self._other_sign_in(visit, self._later(at, 20, 90), progress)
                return
            at = self._later(at, 10, 60)
            self._event(EventType.AUTHENTICATION_STARTED, at)
        at = self._later(at, 2, 15)
        self._event(EventType.AUTHENTICATION_SUCCEEDED, at, visit, user_id=user_id, passkey=passkey)
        passkey.credential.last_used_at = at

    def _other_sign_in(self, visit: _Visit, at: datetime, progress: float) -> None:
        decision = sign_in_record(
            tenant=self.tenant,
            user_id=visit.user.user_id,
            method=_pick(self.rng, METHODS),
            user_agent=visit.agent,
            platform_authenticator_available=visit.ready,
            now=min(at, self.now),
        )
        if decision.nudge is not None:
            self._nudge(visit, decision.nudge.pk, at, progress)
        elif visit.user.passkey_on(visit.device.os) is None and self.rng.random() < self._unprompted():
            self._register(visit, self._later(at, 60, 600))  # from the account settings

    def _unprompted(self) -> float:
        """How often a user adds a passkey without a prompt: a few early adopters, more once passkeys launched."""
        return 0.02 if self.policy.rollout_percent else 0.003

    def _nudge(self, visit: _Visit, nudge_id: uuid.UUID, at: datetime, progress: float) -> None:
        rng = self.rng
        # An answer implies the prompt was shown (the service then records both), so a separate "shown" only
        # matters where no answer came (the page was closed); most frontends report it then.
        roll, accept = rng.random(), 0.5 + 0.12 * progress  # the prompt's copy gets better over time
        if roll < accept:
            at = self._later(at, 5, 25)
            self._outcome(nudge_id, NudgeOutcome.ACCEPTED, at)
            self._register(visit, self._later(at, 1, 5))
        elif roll < accept + 0.38:
            self._outcome(nudge_id, NudgeOutcome.DISMISSED, self._later(at, 3, 20))
        elif rng.random() < 0.7:
            self._outcome(nudge_id, NudgeOutcome.SHOWN, self._later(at, 1, 3))

    def _outcome(self, nudge_id: uuid.UUID, outcome: str, at: datetime) -> None:
        nudge_outcome_record(tenant=self.tenant, nudge_id=nudge_id, outcome=outcome, now=min(at, self.now))

    def _register(self, visit: _Visit, at: datetime) -> bool:
        rng, user_id = self.rng, visit.user.user_id
        self._event(EventType.REGISTRATION_STARTED, at, user_id=user_id)
        roll, at = rng.random(), self._later(at, 5, 40)
        if roll < 0.07:  # cancelled the browser's dialog: nothing reaches the server
            return False
        if roll < 0.11:
            self._event(
                EventType.REGISTRATION_FAILED, at, visit, user_id=user_id, code=_pick(rng, REGISTRATION_FAILURES)
            )
            return False
        provider = PROVIDERS[_pick(rng, visit.device.providers)]
        credential = credential_import(
            tenant=self.tenant,
            user_id=user_id,
            credential_id=rng.randbytes(provider.id_length),
            public_key=self._public_key(),
            algorithm=-7,
            aaguid=provider.aaguid,
            backup_eligible=provider.synced,
            backed_up=provider.synced,
            transports=list(provider.transports),
            created_at=min(at, self.now),
        )
        passkey = _Passkey(credential=credential, os=visit.device.os)
        visit.user.passkeys.append(passkey)
        self._event(EventType.REGISTRATION_SUCCEEDED, at, visit, user_id=user_id, passkey=passkey)
        return True

    @staticmethod
    def _public_key() -> bytes:
        """A real ES256 COSE key whose private half is thrown away: not from the seed, which anyone can read."""
        private = ec.generate_private_key(ec.SECP256R1())
        return cbor.encode(dict(ES256.from_cryptography_key(private.public_key())))
