"""Chromium's virtual authenticator, driven through the CDP WebAuthn domain.

CDP rather than Selenium's WebDriver helpers because only CDP sets the backup flags, the response
override bits (UP or UV cleared) and automatic presence, and returns user names. CDP speaks
standard base64 with padding; this wrapper speaks base64url without, like the service.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# What Chromium's virtual authenticator puts in attestedCredentialData, under attestation "none" too.
CHROMIUM_VIRTUAL_AAGUID = uuid.UUID("01020304-0506-0708-0102-030405060708")


def _b64url(standard: str) -> str:
    return base64.urlsafe_b64encode(base64.b64decode(standard)).rstrip(b"=").decode()


def _standard(b64url: str) -> str:
    return base64.b64encode(base64.urlsafe_b64decode(b64url + "=" * (-len(b64url) % 4))).decode()


@dataclass(frozen=True)
class StoredCredential:
    id: str  # base64url
    rp_id: str
    user_handle: str  # base64url
    user_name: str
    user_display_name: str
    sign_count: int
    backup_eligible: bool
    backed_up: bool


class VirtualAuthenticator:
    """A platform authenticator (internal transport, resident keys, UV) in the driver's current tab."""

    def __init__(self, driver, *, user_verification: bool = True, synced: bool = True) -> None:
        self.driver = driver
        self._cdp("WebAuthn.enable", enableUI=False)
        options = {
            "protocol": "ctap2",
            "ctap2Version": "ctap2_1",
            "transport": "internal",
            "hasResidentKey": True,
            "hasUserVerification": user_verification,
            "isUserVerified": user_verification,
            "automaticPresenceSimulation": True,
            "defaultBackupEligibility": synced,
            "defaultBackupState": synced,
        }
        self.id = self._cdp("WebAuthn.addVirtualAuthenticator", options=options)["authenticatorId"]

    def _cdp(self, command: str, **params) -> dict:
        return self.driver.execute_cdp_cmd(command, params)

    def credentials(self) -> list[StoredCredential]:
        stored = self._cdp("WebAuthn.getCredentials", authenticatorId=self.id)["credentials"]
        return [
            StoredCredential(
                id=_b64url(c["credentialId"]),
                rp_id=c["rpId"],
                user_handle=_b64url(c.get("userHandle", "")),
                user_name=c.get("userName", ""),
                user_display_name=c.get("userDisplayName", ""),
                sign_count=c["signCount"],
                backup_eligible=c.get("backupEligibility", False),
                backed_up=c.get("backupState", False),
            )
            for c in stored
        ]

    def answer_with(self, *, up_cleared: bool = False, uv_cleared: bool = False) -> None:
        """Clear UP or UV in the flags of every response from now on (what a faulty authenticator sends)."""
        self._cdp("WebAuthn.setResponseOverrideBits", authenticatorId=self.id, isBadUP=up_cleared, isBadUV=uv_cleared)

    def decline(self) -> None:
        """The user turns down the screen lock from now on (UV fails): WebAuthn's answer is a NotAllowedError."""
        self._cdp("WebAuthn.setUserVerified", authenticatorId=self.id, isUserVerified=False)

    def stop_answering(self) -> None:
        """Nobody touches the authenticator from now on: a ceremony waits until its timeout."""
        self._cdp("WebAuthn.setAutomaticPresenceSimulation", authenticatorId=self.id, enabled=False)

    def remove(self, credential_id: str) -> None:
        """The passkey is gone from this device (deleted in the passkey manager), though the site still has it."""
        self._cdp("WebAuthn.removeCredential", authenticatorId=self.id, credentialId=_standard(credential_id))

    def swap_key(self, credential_id: str) -> None:
        """Keep the credential's id, user and counter but sign with a new P-256 key the service never saw."""
        [old] = [c for c in self.credentials() if c.id == credential_id]
        key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._cdp("WebAuthn.removeCredential", authenticatorId=self.id, credentialId=_standard(credential_id))
        credential = {
            "credentialId": _standard(old.id),
            "isResidentCredential": True,
            "rpId": old.rp_id,
            "privateKey": base64.b64encode(key).decode(),
            "userHandle": _standard(old.user_handle),
            "signCount": old.sign_count,
            "userName": old.user_name,
            "userDisplayName": old.user_display_name,
        }
        self._cdp("WebAuthn.addCredential", authenticatorId=self.id, credential=credential)
