"""The browser's side of the demo's history: how long a ceremony takes there, how it ends, and the report of it.

A report is the row `client_report_record` writes for POST /v1/client-events (the seed stamps its own times, so it
writes the row without a client token). Everything here is drawn from a generator of its own, except a passkey's
time, which comes from the one draw the history used for it: so the rest of the history (who signs in, how, and what
comes of it) is the one the seed made before browsers reported.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from statistics import NormalDist

from core.encoding import b64url_encode
from tenants.models import Tenant

from ..models import ClientOutcome, Event
from ..useragents import client_of
from .population import CEREMONY_SECONDS, ERROR_NAMES, NO_REPORT
from .visitors import Visit


class Browsers:
    """Every simulated browser of one tenant's history, with what each answers to getClientCapabilities()."""

    def __init__(self, *, tenant: Tenant, rng: random.Random, now: datetime) -> None:
        self.tenant, self.rng, self.now = tenant, rng, now
        self._capabilities: dict[tuple[str, str], dict[str, bool] | None] = {}  # by (user id, user agent)

    def ref(self) -> str:
        """A ceremony's name in its events, like the service's digest of its challenge: 128 bits, base64url."""
        return b64url_encode(self.rng.randbytes(16))

    def round_trip(self) -> timedelta:
        """From the browser's answer to the server's verdict on it (the finish request)."""
        return timedelta(seconds=self.rng.uniform(0.15, 0.9))

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def pick(self, weights: dict[str, int]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def seconds(self, kind: str, draw: float | None = None) -> float:
        """How long a ceremony takes in the browser (CEREMONY_SECONDS[kind], lognormal), within the options' timeout.

        `draw`, uniform in [0, 1), picks the quantile: where it is one of the history's own draws, the history takes
        as many draws as before and stays the one it was.
        """
        median, spread = CEREMONY_SECONDS[kind]
        draw = self.rng.random() if draw is None else draw
        quantile = NormalDist().inv_cdf(min(max(draw, 1e-9), 1 - 1e-9))
        return min(median * math.exp(spread * quantile), float(self.tenant.challenge_timeout))

    def given_up_seconds(self, outcome: str) -> float:
        """How long a sign-in ending in `outcome` without a passkey took: a timeout is the options' timeout."""
        if outcome == ClientOutcome.TIMED_OUT:
            return self.tenant.challenge_timeout + self.rng.uniform(0.05, 0.5)
        return self.seconds(outcome)

    def capabilities(self, visit: Visit) -> dict[str, bool] | None:
        """What getClientCapabilities() answers in this browser, the same on every visit; None in a browser without
        it (one that creates passkeys silently has it: that is how the page knew)."""
        key = (visit.user.user_id, visit.agent)
        if key not in self._capabilities:
            device, answers = visit.device, visit.conditional_create or self.chance(visit.device.capabilities)
            self._capabilities[key] = None
            if answers:
                self._capabilities[key] = {
                    "conditionalGet": self.chance(device.conditional_get),
                    "conditionalCreate": visit.conditional_create,
                    "hybridTransport": device.hybrid,
                    "passkeyPlatformAuthenticator": visit.ready,
                    "userVerifyingPlatformAuthenticator": visit.ready,
                }
        return self._capabilities[key]

    def report(self, type: str, visit: Visit, start: datetime, outcome: str, seconds: float, *, ref: str,
               user_id: str | None = None, mediation: str | None = None) -> datetime:  # fmt: skip
        """The browser's report of how the ceremony started at `start` ended, `seconds` later (user id where the
        ceremony was bound to one); a few pages never report. Returns when it ended in the browser."""
        ended = start + timedelta(seconds=seconds)
        if self.chance(NO_REPORT):
            return ended
        client = client_of(visit.agent)
        Event.objects.create(
            tenant=self.tenant,
            type=type,
            occurred_at=min(ended, self.now),
            user_id=user_id or "",
            os_family=client.os_family,
            browser_family=client.browser_family,
            mediation=mediation or "",
            ceremony_ref=ref,
            outcome=outcome,
            error_name=self.rng.choice(ERROR_NAMES[outcome]) if outcome in ERROR_NAMES else "",
            duration_ms=round(seconds * 1000),
            capabilities=self.capabilities(visit),
        )
        return ended
