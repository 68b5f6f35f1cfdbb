"""Who the demo's users are: their devices, where their passkeys are kept, how they sign in and fail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    aaguid: uuid.UUID
    synced: bool  # backup eligible and backed up
    id_length: int
    transports: tuple[str, ...]
    # What a registration learns of the model: its attestation verdict, its name in the FIDO metadata ("": the
    # AAGUID list's name) and its latest metadata status ("": not in the metadata).
    attestation: str = "none"
    model: str = ""
    status: str = ""

    @property
    def attachment(self) -> str:
        """authenticatorAttachment of its passkeys: a security key is another device, whatever it is plugged into."""
        return "platform" if "internal" in self.transports else "cross-platform"


_KEY = ("nfc", "usb")
# Real AAGUIDs for the platforms, password managers and the usual security key (a YubiKey 5 Series: in the FIDO
# metadata, not in the passkey provider list). Synced passkeys send no attestation ("none"). The other security
# keys are made-up models under made-up AAGUIDs, so the demo shows every verdict and a few compromised models
# without saying so of a real product.
PROVIDERS = {
    "apple": Provider(uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd"), True, 20, ("hybrid", "internal")),
    "google": Provider(uuid.UUID("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"), True, 16, ("hybrid", "internal")),
    "windows": Provider(uuid.UUID("08987058-cadc-4b81-b6e1-30de50dcbe96"), False, 32, ("internal",)),
    "1password": Provider(uuid.UUID("bada5566-a7aa-401f-bd96-45619a55120d"), True, 32, ("hybrid", "internal")),
    "bitwarden": Provider(uuid.UUID("d548826e-79b4-db40-a3d8-11116f7e8349"), True, 16, ("internal",)),
    "security_key": Provider(uuid.UUID("cb69481e-8ff7-4039-93ec-0a2729a154a8"), False, 32, _KEY,
                             "verified", "YubiKey 5 Series", "FIDO_CERTIFIED_L1"),
    "fabrikam_key": Provider(uuid.UUID("5c1d7f0e-2b8a-4e6f-9d3c-8a4b2e1f7c60"), False, 32, _KEY,
                             "verified", "Fabrikam FIDO2 Key Bio", "FIDO_CERTIFIED_L2"),
    "contoso_key": Provider(uuid.UUID("9e4a3b21-6c7d-4f80-b1e2-3d5c7a9b0f14"), False, 32, _KEY,
                            "verified", "Contoso SecureKey (fw 2.1)", "USER_VERIFICATION_BYPASS"),
    "northwind_key": Provider(uuid.UUID("27f06c5d-8e1b-4a93-a6d4-0b9c2e5f8a31"), False, 32, _KEY,
                              "verified", "Northwind Authenticator v1", "REVOKED"),
    "woodgrove_key": Provider(uuid.UUID("b3e8d1a6-4f2c-47d9-8e05-6a1c9f3b2d78"), False, 32, _KEY, "untrusted"),
    "tailspin_key": Provider(uuid.UUID("e6a2c4f8-1d3b-4c5e-9f70-2b8d4a6c0e93"), False, 32, _KEY, "self"),
}  # fmt: skip
# Which model each new security key is, in turn: half the usual certified key, a second certified model, and one
# each of a revoked model, one whose user verification can be bypassed, an untrusted and a self attestation. In turn
# rather than drawn, so that even a small seed has every verdict and a compromised key, and the rest of the history
# is the one the seed made before keys had models.
SECURITY_KEY_MODELS = (
    "security_key", "northwind_key", "tailspin_key", "security_key", "woodgrove_key", "fabrikam_key",
    "security_key", "contoso_key", "security_key", "fabrikam_key", "security_key", "security_key",
)  # fmt: skip


@dataclass(frozen=True)
class Device:
    os: str  # as ua-parser names it
    user_agent: str  # with {v} for a version, so that user agents vary like real traffic
    versions: tuple[str, ...]
    ready: float  # share of these devices where isUserVerifyingPlatformAuthenticatorAvailable() is true
    providers: dict[str, int]  # where a passkey made on this device is kept, by weight
    share: int
    mobile: bool
    # Share of these browsers whose getClientCapabilities() reports conditionalCreate (automatic upgrades).
    conditional_create: float = 0.0
    # What else their reports carry: the share with getClientCapabilities() at all (older versions have none), the
    # share of those offering passkey autofill (conditionalGet), and whether they reach a phone over hybrid.
    capabilities: float = 0.0
    conditional_get: float = 0.0
    hybrid: bool = False


_CHROME = ("124.0.0.0", "125.0.0.0", "126.0.0.0", "127.0.0.0")
_APPLE = ("17_4", "17_5", "17_6", "18_0")
_SAFARI = ("17.4", "17.5", "17.6", "18.0")
_FIREFOX = ("125.0", "126.0", "127.0", "128.0")
_WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
DEVICES = (
    Device("iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS {v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/17.5 Mobile/15E148 Safari/604.1", _APPLE, 0.97,
           {"apple": 85, "1password": 9, "bitwarden": 6}, 30, True, 0.65, 0.9, 0.98),
    Device("Android", f"Mozilla/5.0 (Linux; Android 14; K) {_WEBKIT} Chrome/{{v}} Mobile Safari/537.36", _CHROME, 0.95,
           {"google": 86, "1password": 6, "bitwarden": 8}, 24, True, 0.5, 0.85, 0.95),
    Device("Windows", f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_WEBKIT} Chrome/{{v}} Safari/537.36", _CHROME, 0.88,
           {"windows": 45, "google": 30, "1password": 10, "bitwarden": 7, "security_key": 8}, 16, False, 0.5,
           0.85, 0.97, True),
    Device("Windows", f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_WEBKIT} Chrome/{{v}} Safari/537.36 Edg/{{v}}",
           _CHROME, 0.9, {"windows": 70, "1password": 10, "bitwarden": 8, "security_key": 12}, 8, False, 0.4,
           0.85, 0.97, True),
    Device("Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}) Gecko/20100101 Firefox/{v}", _FIREFOX, 0.8,
           {"windows": 65, "1password": 12, "bitwarden": 13, "security_key": 10}, 4, False, 0.0, 0.6, 0.9, True),
    Device("Mac OS X", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/{v} Safari/605.1.15", _SAFARI, 0.95, {"apple": 82, "1password": 12, "bitwarden": 6}, 8, False,
           0.65, 0.9, 0.98, True),
    Device("Mac OS X", f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_WEBKIT} Chrome/{{v}} Safari/537.36", _CHROME,
           0.93, {"google": 50, "apple": 25, "1password": 15, "bitwarden": 5, "security_key": 5}, 6, False, 0.5,
           0.85, 0.97, True),
    Device("Linux", "Mozilla/5.0 (X11; Linux x86_64; rv:{v}) Gecko/20100101 Firefox/{v}", _FIREFOX, 0.2,
           {"bitwarden": 45, "1password": 25, "security_key": 30}, 2, False, 0.0, 0.6, 0.8),
    Device("Linux", f"Mozilla/5.0 (X11; Linux x86_64) {_WEBKIT} Chrome/{{v}} Safari/537.36", _CHROME, 0.55,
           {"google": 55, "bitwarden": 20, "1password": 10, "security_key": 15}, 2, False, 0.3, 0.85, 0.9, True),
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
# Automatic upgrades: the relying party turns them on this far into the history, and a silent create succeeds
# this often after a sign-in by each method (it needs the password manager to have just filled a password).
UPGRADES_LAUNCH = 0.4
UPGRADE_SUCCESS = {"password": 0.6, "otp": 0.1, "magic_link": 0.05, "social": 0.05, "sso": 0.05}
# How often a user whose passkey is on another device (a phone, a security key) signs in with it from here.
PHONE_OVER_HYBRID = 0.6
HOURS = (1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 8, 8, 7, 7, 7, 7, 7, 6, 5, 4, 3, 2)  # UTC, a mostly European service

# How the browser says a ceremony ended (POST /v1/client-events). Most pages report; a few never do (the page was
# closed, the library not loaded). A passkey sign-in the history gives up before the server hears of it ends in one
# of these, by weight; a registration likewise (the authenticator may already hold the user's passkey).
NO_REPORT = 0.04
SIGN_IN_CLIENT_FAILURES = {"cancelled": 62, "no_credential": 16, "timed_out": 12, "error": 10}
REGISTRATION_CLIENT_FAILURES = {"cancelled": 85, "excluded_credential": 15}
ERROR_NAMES = {  # the DOMException each outcome comes with; "error" is whatever else a browser threw
    "cancelled": ("NotAllowedError",),
    "timed_out": ("NotAllowedError",),
    "no_credential": ("NotAllowedError",),
    "excluded_credential": ("InvalidStateError",),
    "aborted": ("AbortError",),
    "error": ("UnknownError", "NotReadableError", "ConstraintError"),
}
# Seconds from the options to the browser's answer: lognormal, (median, spread) by how the passkey is reached (on
# this device, or a phone over hybrid and a security key), and for a user who gives up or finds no passkey.
CEREMONY_SECONDS = {"platform": (2.4, 0.45), "cross-platform": (8.0, 0.5), "cancelled": (4.0, 0.7),
                    "no_credential": (0.5, 0.4), "error": (1.5, 0.6)}  # fmt: skip
# Autofill offered and left for a password: the page aborts the pending request, and often unloads before it reports.
AUTOFILL_ABORT_REPORTED = 0.7

# Login decisions (POST /v1/login-decisions): how often a sign-in page knows who is signing in before it asks, in a
# browser the user has signed in from before (a remembered username) and in one they have not; and how often a user
# whose passkey failed in the browser tries it twice more before taking their password.
PAGE_KNOWS_USER = {True: 0.75, False: 0.2}
TRIES_AGAIN = 0.5
