"""Encryption at rest: AES-256-GCM under a key derived from SIGNING_KEY_ENCRYPTION_KEY (or SECRET_KEY).

Each kind of secret names its own `purpose` (the HKDF info), so one master secret gives independent
keys; `associated_data` binds a ciphertext to its row, so a blob copied onto another row does not
decrypt. Stored format: 12-byte nonce + ciphertext and tag. Changing any of this strands every
stored secret.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

NONCE_BYTES = 12


def _key(purpose: bytes) -> bytes:
    secret = settings.SIGNING_KEY_ENCRYPTION_KEY or settings.SECRET_KEY
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret.encode())


def encrypt(plaintext: bytes, *, purpose: bytes, associated_data: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(_key(purpose)).encrypt(nonce, plaintext, associated_data)


def decrypt(blob: bytes, *, purpose: bytes, associated_data: bytes) -> bytes:
    """The plaintext; cryptography's InvalidTag when the key, the purpose or the associated data differ."""
    return AESGCM(_key(purpose)).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data)
