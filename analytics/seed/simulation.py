"""The demo's history, day by day: each visit goes through the services the API uses, with an explicit time.

The ceremony services stamp `now`, so a passkey ceremony's events are recorded with
`event_record(occurred_at=...)` as the recorder would (mediation, attachment, the ceremony's ref and the
nudge a registration accepted included), and its credential is stored with `credential_import`. For the same
reason an automatic upgrade is offered here by the sign-in service's rule rather than by the service,
whose offer is a real registration start, and a login decision is the selector's (`login_decision_for`) rather
than the service's. What happens in the browser, and its report of it, is `browsers`'; what the sign-in page
asks before a sign-in, `pages`'.
"""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, date, datetime, timedelta

from django.db import connection
from django.utils import timezone

from passkeys.models import AttestationVerdict, CreatedVia, Credential, PasskeyUser
from passkeys.services.credentials import credential_import
from tenants.models import Tenant

from ..models import (
    ClientOutcome,
    Event,
    EventType,
    LoginDecision,
    LoginDecisionReason,
    Nudge,
    NudgeOutcome,
    NudgeSchedule,
)
from ..selectors import LoginDecided
from ..services.events import event_record
from ..services.nudges import (
    nudge_after_passkey_sign_in,
    nudge_outcome_record,
    nudge_policy_for,
    nudges_accept_on_registration,
    sign_in_record,
)
from .browsers import Browsers
from .pages import SignInPages
from .population import (
    ACTIVITY,
    AUTHENTICATION_FAILURES,
    AUTOFILL_ABORT_REPORTED,
    DEVICES,
    HOURS,
    IDENTIFIED,
    METHODS,
    PHONE_OVER_HYBRID,
    PROVIDERS,
    REGISTRATION_CLIENT_FAILURES,
    REGISTRATION_FAILURES,
    SECURITY_KEY_MODELS,
    SIGN_IN_CLIENT_FAILURES,
    UPGRADE_SUCCESS,
    UPGRADES_LAUNCH,
    Provider,
)
from .visitors import CROSS_PLATFORM, SimulatedPasskey, SimulatedUser, Visit

# Every demo passkey's public key: a real ES256 COSE_Key (CBOR) whose private half was thrown away, so no
# demo credential can ever sign in. Made once with python-fido2 (only passkeys/webauthn may import it):
#   cbor.encode(dict(ES256.from_cryptography_key(ec.generate_private_key(ec.SECP256R1()).public_key())))
DEMO_PUBLIC_KEY = bytes.fromhex(
    "a50102032620012158208279e318ebc845ed769cde5dc192f97e1e85600a940861a983d8e6532e33b908"
    "2258208e914ef7ff20fc1a2f9086977eebd66626dc2c2bc37a38cac23136574a741a80"
)
DEMO_ALGORITHM = -7  # ES256, the COSE algorithm of DEMO_PUBLIC_KEY
CONDITIONAL = "conditional"  # the mediation of an automatic upgrade's registration, and of passkey autofill
PLATFORM = "platform"
SIGN_IN_REPORT, REGISTRATION_REPORT = EventType.AUTHENTICATION_CLIENT_OUTCOME, EventType.REGISTRATION_CLIENT_OUTCOME
SUCCEEDED, ABORTED = ClientOutcome.SUCCEEDED, ClientOutcome.ABORTED
# Password decisions after which the page offers no passkey at all: WebAuthn looks unavailable, or it just failed.
STEERED = {LoginDecisionReason.WEBAUTHN_UNAVAILABLE, LoginDecisionReason.RECENT_FAILURES}


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class Simulation:
    """Walks the days in order and each day's sign-ins in time order, so each service sees a plausible past."""

    def __init__(
        self, *, tenant: Tenant, rng: random.Random, browser_rng: random.Random, pages_rng: random.Random
    ) -> None:
        self.tenant, self.rng = tenant, rng
        self.now = timezone.now()
        self.browsers = Browsers(tenant=tenant, rng=browser_rng, now=self.now)
        self.pages = SignInPages(tenant=tenant, rng=pages_rng, browsers=self.browsers, now=self.now)
        self.policy = nudge_policy_for(tenant)
        self.target_rollout = self.policy.rollout_percent
        self.key_models = itertools.cycle(SECURITY_KEY_MODELS)

    def run(self, *, users: int, first: date, days: int) -> None:
        self.upgrades_from = first + timedelta(days=round((days - 1) * UPGRADES_LAUNCH))
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

    def _user(self, number: int, days: int) -> SimulatedUser:
        rng = self.rng
        rate = rng.choices([rate for rate, _ in ACTIVITY], weights=[share for _, share in ACTIVITY])[0]
        # Most were customers before the history starts and come back within their usual interval; some join.
        new = rng.random() < 0.2
        joins = rng.randrange(days) if new else rng.randrange(min(days, round(1 / rate)))
        kinds = [rng.choices(DEVICES, weights=[d.share for d in DEVICES])[0]]
        if rng.random() < 0.35:  # a phone and a computer
            others = [d for d in DEVICES if d.mobile != kinds[0].mobile]
            kinds.append(rng.choices(others, weights=[d.share for d in others])[0])
        devices = [
            (
                d,
                d.user_agent.format(v=rng.choice(d.versions)),
                rng.random() < d.ready,
                rng.random() < d.conditional_create,
            )
            for d in kinds
        ]
        return SimulatedUser(user_id=f"demo-user-{number:05d}", rate=rate, joins=joins, new=new, devices=devices)

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

    def _event(self, type: str, at: datetime, visit: Visit | None = None, *, user_id: str | None = None,
               code: str = "", passkey: SimulatedPasskey | None = None, **recorded) -> None:  # fmt: skip
        """One event as the recorder writes it; `recorded` is what else it may carry (mediation, attachment, nudge)."""
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
            **recorded,
        )

    def _session(self, user: SimulatedUser, at: datetime, progress: float, signs_up: bool) -> None:
        rng, browsers = self.rng, self.browsers
        device, agent, ready, creates = (
            user.devices[1] if len(user.devices) > 1 and rng.random() < 0.3 else user.devices[0]
        )
        visit = Visit(user=user, device=device, agent=agent, ready=ready, conditional_create=creates)
        # Once passkeys have launched, some new accounts start with one (or fall back to a password).
        if signs_up and ready and self.policy.rollout_percent and rng.random() < 0.5 and self._register(visit, at):
            return
        # A sign-in page (not a sign-up) first asks which sign-in to lead with; the user mostly follows.
        decided, ref = (None, "") if signs_up else self.pages.decide(visit, at)
        offered = decided is None or decided.reason not in STEERED
        passkey = user.passkey_on(device.os)
        if passkey is not None and offered and rng.random() < 0.8 + 0.15 * progress:
            self._passkey_sign_in(visit, passkey, at, progress, decided=decided, ref=ref)
            return
        if passkey is None and offered and (elsewhere := user.passkey_elsewhere(device)) is not None:
            # A security key is the user's passkey; a phone is fetched only now and then.
            usual = elsewhere.credential.authenticator_attachment == CROSS_PLATFORM
            if rng.random() < (0.8 + 0.15 * progress if usual else PHONE_OVER_HYBRID):
                self._passkey_sign_in(visit, elsewhere, at, progress, CROSS_PLATFORM, decided=decided, ref=ref)
                return
        signed_in = self._later(at, 5, 30)
        if decided is not None and decided.decision == LoginDecision.PASSKEY_AUTOFILL:
            # Passkey autofill was offered, and the user typed a password instead.
            if browsers.chance(AUTOFILL_ABORT_REPORTED):  # the page aborted the request it no longer needs
                seconds = (signed_in - at).total_seconds()
                browsers.report(SIGN_IN_REPORT, visit, at, ABORTED, seconds, ref=ref, mediation=CONDITIONAL)
        self._other_sign_in(visit, signed_in, progress)

    def _passkey_sign_in(
        self, visit: Visit, passkey: SimulatedPasskey, at: datetime, progress: float, attachment: str = PLATFORM, *,
        decided: LoginDecided | None = None, ref: str = "",
    ) -> None:  # fmt: skip
        """A passkey sign-in in the ceremony the page's decision started (`ref`): bound to the user after a passkey
        decision, autofill after an autofill one; without either, the user pressed "Sign in with a passkey"."""
        rng, browsers, pages, user_id = self.rng, self.browsers, self.pages, visit.user.user_id
        leads = decided.decision if decided is not None else None
        bound = user_id if leads == LoginDecision.PASSKEY else None  # its client token names the user
        mediation = CONDITIONAL if leads == LoginDecision.PASSKEY_AUTOFILL else None
        if not ref:
            ref = pages.started(at)
        roll = rng.random()
        if roll < 0.03:  # the browser's sheet ended without a passkey (nothing reaches the server): a password instead
            outcome = browsers.pick(SIGN_IN_CLIENT_FAILURES)
            ended = browsers.report(SIGN_IN_REPORT, visit, at, outcome, browsers.given_up_seconds(outcome), ref=ref,
                                    user_id=bound, mediation=mediation)  # fmt: skip
            if bound and (tried := pages.tried_again(visit, ended)) is not None:
                ended = tried + timedelta(seconds=2)
                pages.decide(visit, ended, identified=True)  # the page reloads and asks again
            self._other_sign_in(visit, max(self._later(at, 15, 60), ended + timedelta(seconds=5)), progress)
            return
        if roll < 0.065:  # the browser had a passkey's answer, and the server refused it
            code = _pick(rng, AUTHENTICATION_FAILURES)
            known = code in IDENTIFIED
            seconds = browsers.seconds(attachment, rng.random())
            at = browsers.report(SIGN_IN_REPORT, visit, at, SUCCEEDED, seconds, ref=ref, user_id=bound,
                                 mediation=mediation) + browsers.round_trip()  # fmt: skip
            self._event(EventType.AUTHENTICATION_FAILED, at, visit, user_id=user_id if known else None, code=code,
                        passkey=passkey if known else None)  # fmt: skip
            if rng.random() < 0.4:
                self._other_sign_in(visit, self._later(at, 20, 90), progress)
                return
            at, mediation = self._later(at, 10, 60), None  # tried again with the page's passkey button
            ref = pages.started(at, user_id=bound)
        seconds = browsers.seconds(attachment, rng.random())  # a phone over hybrid or a security key takes longer
        at = browsers.report(SIGN_IN_REPORT, visit, at, SUCCEEDED, seconds, ref=ref, user_id=bound,
                             mediation=mediation) + browsers.round_trip()  # fmt: skip
        self._event(EventType.AUTHENTICATION_SUCCEEDED, at, visit, user_id=user_id, passkey=passkey,
                    attachment=attachment, mediation=mediation, ceremony_ref=ref)  # fmt: skip
        passkey.credential.last_used_at = at
        pages.remember(visit, bytes(passkey.credential.credential_id))
        if attachment == CROSS_PLATFORM:  # the sign-in answer may prompt for a passkey on this device
            decision = nudge_after_passkey_sign_in(
                tenant=self.tenant, user_id=user_id, attachment=attachment, user_agent=visit.agent,
                platform_authenticator_available=visit.ready, now=min(at, self.now),
            )  # fmt: skip
            if decision is not None and decision.nudge is not None:
                self._nudge(visit, decision.nudge.pk, at, progress)

    def _other_sign_in(self, visit: Visit, at: datetime, progress: float) -> None:
        method = _pick(self.rng, METHODS)
        decision = sign_in_record(
            tenant=self.tenant,
            user_id=visit.user.user_id,
            method=method,
            user_agent=visit.agent,
            platform_authenticator_available=visit.ready,
            now=min(at, self.now),
        )
        if self._automatic_upgrade(visit, method, at):
            return  # the browser made a passkey without asking, so the frontend shows no prompt
        if decision.nudge is not None:
            self._nudge(visit, decision.nudge.pk, at, progress)
        elif visit.user.passkey_on(visit.device.os) is None and self.rng.random() < self._unprompted():
            self._register(visit, self._later(at, 60, 600))  # from the account settings

    def _automatic_upgrade(self, visit: Visit, method: str, at: datetime) -> bool:
        """The sign-in service's offer (at most one a user a UTC day, none with a passkey usable here), then the
        browser's silent create: it works only where the password manager has just filled a password, and a
        failure reaches no server."""
        rng, browsers, user = self.rng, self.browsers, visit.user
        day = at.astimezone(UTC).date()
        if not (visit.conditional_create and self.tenant.automatic_upgrades and day >= self.upgrades_from):
            return False
        if user.upgrade_offered_on == day or user.passkey_on(visit.device.os) is not None:
            return False
        user.upgrade_offered_on = day
        at = self._later(at, 1, 3)
        ref = browsers.ref()
        self._event(EventType.REGISTRATION_STARTED, at, user_id=user.user_id, mediation=CONDITIONAL, ceremony_ref=ref)
        if rng.random() >= UPGRADE_SUCCESS[method]:
            return False  # the page has moved on by the time the browser gives up: no report
        made = self._later(at, 1, 4)
        # Made by the platform or the password manager that filled the password: never a security key.
        kept = {
            name: weight for name, weight in visit.device.providers.items() if PROVIDERS[name].attachment == PLATFORM
        }
        provider = PROVIDERS[_pick(rng, kept)]
        seconds = (made - at).total_seconds()
        browsers.report(REGISTRATION_REPORT, visit, at, SUCCEEDED, seconds, ref=ref, user_id=user.user_id,
                     mediation=CONDITIONAL)  # fmt: skip
        self._registered(visit, made + browsers.round_trip(), provider=provider, automatic=True, ref=ref)
        return True

    def _unprompted(self) -> float:
        """How often a user adds a passkey without a prompt: a few early adopters, more once passkeys launched."""
        return 0.02 if self.policy.rollout_percent else 0.003

    def _nudge(self, visit: Visit, nudge_id: uuid.UUID, at: datetime, progress: float) -> None:
        rng = self.rng
        # An answer implies the prompt was shown (the service then records both), so a separate "shown" only
        # matters where no answer came (the page was closed); most frontends report it then.
        roll, accept = rng.random(), 0.5 + 0.12 * progress  # the prompt's copy gets better over time
        if roll < accept:  # the registration itself accepts the nudge, as the recorder does
            self._register(visit, self._later(at, 5, 25))
        elif roll < accept + 0.38:
            self._outcome(nudge_id, NudgeOutcome.DISMISSED, self._later(at, 3, 20))
        elif rng.random() < 0.7:
            self._outcome(nudge_id, NudgeOutcome.SHOWN, self._later(at, 1, 3))

    def _outcome(self, nudge_id: uuid.UUID, outcome: str, at: datetime) -> None:
        nudge_outcome_record(tenant=self.tenant, nudge_id=nudge_id, outcome=outcome, now=min(at, self.now))

    def _register(self, visit: Visit, at: datetime) -> bool:
        """A registration ceremony the user sees (sign-up, a nudge, the account settings)."""
        rng, browsers, user_id = self.rng, self.browsers, visit.user.user_id
        ref, started = browsers.ref(), at
        self._event(EventType.REGISTRATION_STARTED, at, user_id=user_id, ceremony_ref=ref)
        roll, at = rng.random(), self._later(at, 5, 40)
        seconds = (at - started).total_seconds()
        if roll < 0.07:  # the browser's dialog ended without a passkey: nothing reaches the server
            outcome = browsers.pick(REGISTRATION_CLIENT_FAILURES)
            browsers.report(REGISTRATION_REPORT, visit, started, outcome, seconds, ref=ref, user_id=user_id)
            return False
        at = browsers.report(REGISTRATION_REPORT, visit, started, SUCCEEDED, seconds, ref=ref, user_id=user_id)
        at += browsers.round_trip()
        if roll < 0.11:
            self._event(
                EventType.REGISTRATION_FAILED, at, visit, user_id=user_id, code=_pick(rng, REGISTRATION_FAILURES)
            )
            return False
        kept = _pick(rng, visit.device.providers)
        if kept == "security_key":
            kept = next(self.key_models)
        self._registered(visit, at, provider=PROVIDERS[kept], ref=ref)
        return True

    def _registered(
        self, visit: Visit, at: datetime, *, provider: Provider, automatic: bool = False, ref: str = ""
    ) -> None:
        """The new passkey and its event, in the recorder's order: an ordinary registration first accepts the
        user's open nudge and names it; an automatic upgrade answers none (the user saw no prompt)."""
        user_id = visit.user.user_id
        credential = credential_import(
            tenant=self.tenant,
            user_id=user_id,
            credential_id=self.rng.randbytes(provider.id_length),
            public_key=DEMO_PUBLIC_KEY,
            algorithm=DEMO_ALGORITHM,
            aaguid=provider.aaguid,
            backup_eligible=provider.synced,
            backed_up=provider.synced,
            transports=list(provider.transports),
            created_at=min(at, self.now),
        )
        self._credential_describe(
            credential,
            created_via=CreatedVia.AUTOMATIC_UPGRADE if automatic else CreatedVia.CEREMONY,
            authenticator_attachment=provider.attachment,
            discoverable=True,
            attestation_format="none" if provider.attestation == AttestationVerdict.NONE else "packed",
            attestation=provider.attestation,
            authenticator_name=provider.model or credential.provider_name,
            authenticator_status=provider.status,
        )
        passkey = SimulatedPasskey(credential=credential, os=visit.device.os, mobile=visit.device.mobile)
        visit.user.passkeys.append(passkey)
        self.pages.remember(visit, bytes(credential.credential_id))
        nudge_id = None
        if not automatic:
            nudge_id = nudges_accept_on_registration(tenant=self.tenant, user_id=user_id, now=min(at, self.now))
        self._event(EventType.REGISTRATION_SUCCEEDED, at, visit, user_id=user_id, passkey=passkey,
                    mediation=CONDITIONAL if automatic else None, nudge_id=nudge_id, ceremony_ref=ref)  # fmt: skip

    @staticmethod
    def _credential_describe(credential: Credential, **columns) -> None:
        """What a registration learns beyond credential_import's arguments (how it was made, its attachment, its
        attestation and what the metadata says of its model)."""
        for name, value in columns.items():
            setattr(credential, name, value)
        Credential.objects.filter(pk=credential.pk).update(**columns)
