"""Who the simulation walks: users, the passkeys they made and where, and one visit of a user on one device.

Its own module so that the simulation and the browser and sign-in-page sides of it share these without importing
each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from passkeys.models import Credential

from ..platforms import passkey_usable_on
from .population import Device

CROSS_PLATFORM = "cross-platform"


@dataclass
class SimulatedPasskey:
    credential: Credential
    os: str  # where it was registered
    mobile: bool  # registered on a phone

    def usable_on(self, os_family: str) -> bool:
        """The nudge service's own rule (analytics.platforms), so simulated users act as the nudges expect."""
        return passkey_usable_on(
            os_family=os_family,
            registered_os=self.os,
            backed_up=self.credential.backed_up,
            provider=self.credential.provider_name,
            attachment=self.credential.authenticator_attachment,
        )

    def reachable_from(self, device: Device) -> bool:
        """Usable from `device` through another device: a security key, or a phone's passkey over hybrid."""
        if self.credential.authenticator_attachment == CROSS_PLATFORM:
            return True
        return self.mobile and not device.mobile and "hybrid" in self.credential.transports


@dataclass
class SimulatedUser:
    user_id: str
    rate: float  # sign-ins per day
    joins: int  # day index of the first sign-in
    new: bool  # signs up on that day rather than coming back
    # Each with this user's user agent on it, whether it has a platform authenticator, and whether its browser
    # can create a passkey silently (conditionalCreate).
    devices: list[tuple[Device, str, bool, bool]]
    passkeys: list[SimulatedPasskey] = field(default_factory=list)
    upgrade_offered_on: date | None = None

    def passkey_on(self, os_family: str) -> SimulatedPasskey | None:
        return next((p for p in self.passkeys if p.usable_on(os_family)), None)

    def passkey_elsewhere(self, device: Device) -> SimulatedPasskey | None:
        return next((p for p in self.passkeys if p.reachable_from(device)), None)


@dataclass(frozen=True)
class Visit:
    user: SimulatedUser
    device: Device
    agent: str
    ready: bool
    conditional_create: bool
