"""The sign-in page's side of the demo's history: before a returning user signs in, the page asks which sign-in to
lead with (POST /v1/login-decisions), and the service's own rule (`login_decision_for`) answers from what the history
has stored so far: the user's passkeys, where they were made, and the failures their browser reported.

As `login_decide` does, a passkey decision comes with an authentication start bound to the user and an autofill one
with a conditional start; the page records the decision's event. Whom the page knows, and whether a user whose passkey
failed in the browser tries it again, is drawn from a generator of its own; what the browser remembers of the passkeys
used on it (passkeys.js's `rememberCredential`) is kept here.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from tenants.models import Tenant

from ..models import EventType, LoginDecision
from ..selectors import LoginDecided, login_decision_for
from ..services.events import event_record
from ..useragents import client_of
from .browsers import Browsers
from .population import PAGE_KNOWS_USER, SIGN_IN_CLIENT_FAILURES, TRIES_AGAIN
from .visitors import Visit

CONDITIONAL = "conditional"


class SignInPages:
    """Every simulated sign-in page of one tenant's history: whom it knows, and what each browser remembers."""

    def __init__(self, *, tenant: Tenant, rng: random.Random, browsers: Browsers, now: datetime) -> None:
        self.tenant, self.rng, self.browsers, self.now = tenant, rng, browsers, now
        self._seen: set[tuple[str, str]] = set()  # (user id, user agent): browsers that have shown the page
        self._remembered: dict[tuple[str, str], list[bytes]] = {}  # newest first, like the library's localStorage

    def decide(self, visit: Visit, at: datetime, *, identified: bool | None = None) -> tuple[LoginDecided, str]:
        """The decision for this page view, its event and its start; returns it with the start's ceremony ref ("" for
        a password decision). A browser the user has signed in from before (every browser of a customer from before
        the history) usually still knows who they are."""
        user_id, key = visit.user.user_id, (visit.user.user_id, visit.agent)
        if identified is None:
            identified = self.rng.random() < PAGE_KNOWS_USER[not visit.user.new or key in self._seen]
        self._seen.add(key)
        at = min(at, self.now)
        decided = login_decision_for(
            tenant=self.tenant,
            user_id=user_id if identified else None,
            os_family=client_of(visit.agent).os_family,
            capabilities=self.browsers.capabilities(visit) or {},
            platform_authenticator_available=visit.ready,
            device_credential_ids=self._remembered.get(key, []),
            now=at,
        )
        ref = ""
        if decided.decision == LoginDecision.PASSKEY:
            ref = self.started(at, user_id=user_id)
        elif decided.decision == LoginDecision.PASSKEY_AUTOFILL:
            ref = self.started(at, mediation=CONDITIONAL)
        event_record(
            tenant=self.tenant,
            type=EventType.LOGIN_DECIDED,
            user_id=user_id if identified else None,
            user_agent=visit.agent,
            method=decided.decision,
            code=decided.reason,
            occurred_at=at,
        )
        return decided, ref

    def started(self, at: datetime, *, user_id: str | None = None, mediation: str | None = None) -> str:
        """An authentication start as the recorder writes it (no user agent), bound to `user_id` when given."""
        ref = self.browsers.ref()
        event_record(tenant=self.tenant, type=EventType.AUTHENTICATION_STARTED, user_id=user_id, mediation=mediation,
                     ceremony_ref=ref, occurred_at=min(at, self.now))  # fmt: skip
        return ref

    def remember(self, visit: Visit, credential_id: bytes) -> None:
        """A passkey used or made in this browser: the library remembers its id for the next decision."""
        key = (visit.user.user_id, visit.agent)
        self._remembered[key] = [credential_id, *(old for old in self._remembered.get(key, []) if old != credential_id)]

    def tried_again(self, visit: Visit, ended: datetime) -> datetime | None:
        """After a passkey failed in the browser, now and then the user tries twice more, fails again, and the page
        reloads to ask anew (by now there may be enough failures to steer them to a password). Returns when the last
        try ended, or None when the user went straight to their password."""
        if self.rng.random() >= TRIES_AGAIN:
            return None
        browsers, user_id = self.browsers, visit.user.user_id
        for _ in range(2):
            at = ended + timedelta(seconds=self.rng.uniform(2, 10))
            ref = self.started(at, user_id=user_id)
            outcome = browsers.pick(SIGN_IN_CLIENT_FAILURES)
            ended = browsers.report(EventType.AUTHENTICATION_CLIENT_OUTCOME, visit, at, outcome,
                                    browsers.given_up_seconds(outcome), ref=ref, user_id=user_id)  # fmt: skip
        return ended
