"""Standard Webhooks signatures (https://www.standardwebhooks.com/) and the endpoint secrets behind them.

A secret is "whsec_" + base64 of random bytes; the HMAC key is the decoded bytes. Each delivery
carries `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`: space-separated
"v1,<base64 HMAC-SHA256 of 'id.timestamp.body'>", one per secret in use (two during a rotation).
The specification's own library (`standardwebhooks`) computes each signature. Secrets are stored
encrypted by core.crypto, bound to their endpoint's id, so a database dump alone does not let
anyone forge deliveries.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from datetime import UTC, datetime

from standardwebhooks import Webhook

from core.crypto import decrypt, encrypt

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32  # the specification asks for 24 to 64
# core.crypto's purpose for these secrets (not the signing keys' one): changing it strands every stored secret.
ENCRYPTION_PURPOSE = b"passkey-service webhook secrets"


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after the prefix."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """"v1,<base64>" for one secret; `body` is the JSON delivery, UTF-8 (the library signs text)."""
    at = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(secret).sign(msg_id=message_id, timestamp=at, data=body.decode())


def signed_headers(*, secrets: Iterable[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per secret (the newest first)."""
    signatures = [signature(secret=s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def secret_encrypt(secret: str, *, endpoint_id: str) -> bytes:
    return encrypt(secret.encode(), purpose=ENCRYPTION_PURPOSE, associated_data=endpoint_id.encode())


def secret_decrypt(blob: bytes, *, endpoint_id: str) -> str:
    return decrypt(blob, purpose=ENCRYPTION_PURPOSE, associated_data=endpoint_id.encode()).decode()
