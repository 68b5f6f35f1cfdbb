"""Encryption at rest: what was stored before core.crypto existed still decrypts, and is bound to its row."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization

from core.crypto import decrypt, encrypt
from passkeys.tokens import _decrypt as signing_key_decrypt
from webhooks.signing import secret_decrypt, secret_encrypt

MASTER = "vector master secret"
# Made by passkeys/tokens.py's and webhooks/signing.py's own AES-GCM code before they moved here.
SIGNING_KEY_BLOB = bytes.fromhex(
    "1051e086d7524abb1fceffc1bf5e3b7e37d0741ffdc68212d26ea2b8ae0c71ad3035266a01dd2570ec509ab859159f5271d3a43fc42bc2ff"
    "3bb4c85f62f588a5eab62f6a9c58019d20d1cccfe6d8152e7a31abab59c2efa6f040864e444a76c57afe3676d3233ca2ae55979f2f55b7b4"
    "d1a30c638251d8444b399fcd8b1e1a17024b1635f83a61857d9294c80438735ed1f729dc8275d370a534dd53049c4c9e2b1e8fa0b673"
)
SIGNING_KEY_DER = bytes.fromhex(
    "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420000000000000000000000000000000000000000000"
    "000000ab54a98ceb1f0ad2a144034200043ed7a28ec648edce5d5b7e252f6b2aafbb44835114a24b3caa8f710f64993bc25711a34cdc9229"
    "080b639f09977feb7ca91ecce1649bfea8ad85c72b206ade7e"
)
WEBHOOK_SECRET_BLOB = bytes.fromhex(
    "67e3dbbed8728bac2be99b8ba92ec9efc99d0e4ae10b486bd699993d6aa2d36b1c4b7df0ec52ff6c57d2"
)


@pytest.fixture(autouse=True)
def master_secret(settings):
    settings.SIGNING_KEY_ENCRYPTION_KEY = MASTER


def test_a_signing_key_stored_before_the_move_still_decrypts():
    key = signing_key_decrypt(SIGNING_KEY_BLOB, "kid-1")
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert der == SIGNING_KEY_DER


def test_a_webhook_secret_stored_before_the_move_still_decrypts():
    assert secret_decrypt(WEBHOOK_SECRET_BLOB, endpoint_id="e1") == "whsec_c2VjcmV0"


def test_round_trip_and_a_fresh_nonce_each_time():
    first = encrypt(b"secret", purpose=b"test", associated_data=b"row-1")
    assert decrypt(first, purpose=b"test", associated_data=b"row-1") == b"secret"
    assert encrypt(b"secret", purpose=b"test", associated_data=b"row-1") != first


@pytest.mark.parametrize(
    "purpose, associated_data", [(b"other purpose", b"row-1"), (b"test", b"row-2")], ids=["purpose", "row"]
)
def test_a_blob_does_not_decrypt_for_another_purpose_or_row(purpose, associated_data):
    blob = encrypt(b"secret", purpose=b"test", associated_data=b"row-1")
    with pytest.raises(InvalidTag):
        decrypt(blob, purpose=purpose, associated_data=associated_data)


def test_a_blob_does_not_decrypt_under_another_master_secret(settings):
    blob = secret_encrypt("whsec_c2VjcmV0", endpoint_id="e1")
    settings.SIGNING_KEY_ENCRYPTION_KEY = "another master secret"
    with pytest.raises(InvalidTag):
        secret_decrypt(blob, endpoint_id="e1")
