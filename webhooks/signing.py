"""Standard Webhooks signatures (https://www.standardwebhooks.com/) and the endpoint secrets behind them.

A secret is "whsec_" + base64 of random bytes; the HMAC key is the decoded bytes. Each delivery
carries `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`: space-separated
"v1,<base64 HMAC-SHA256 of 'id.timestamp.body'>", one per secret in use (two during a rotation).
Secrets are stored AES-GCM encrypted, bound to their endpoint's id, under a key derived from
SIGNING_KEY_ENCRYPTION_KEY (or SECRET_KEY), so a database dump alone does not let anyone forge deliveries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32  # the specification asks for 24 to 64
SIGNATURE_VERSION = "v1"


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after the prefix."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(*, secrets: Iterable[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per secret (the newest first)."""
    signatures = [signature(secret=s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def _encryption_key() -> bytes:
    secret = settings.SIGNING_KEY_ENCRYPTION_KEY or settings.SECRET_KEY
    # A different `info` than the token-signing keys: one master secret, independent keys.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"passkey-service webhook secrets").derive(
        secret.encode()
    )


def secret_encrypt(secret: str, *, endpoint_id: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(_encryption_key()).encrypt(nonce, secret.encode(), endpoint_id.encode())


def secret_decrypt(blob: bytes, *, endpoint_id: str) -> str:
    return AESGCM(_encryption_key()).decrypt(blob[:12], blob[12:], endpoint_id.encode()).decode()
