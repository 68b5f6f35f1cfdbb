"""The signatures are exactly the Standard Webhooks ones, so any of its libraries verifies our deliveries."""

from __future__ import annotations

from webhooks.signing import secret_generate, secret_key, signature, signed_headers

# The specification's published test vector (also in its reference libraries' tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_specifications_test_vector():
    signed = signature(secret=VECTOR_SECRET, message_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)
    assert signed == VECTOR_SIGNATURE


def test_headers_carry_one_space_separated_signature_per_secret_newest_first():
    other = secret_generate()
    headers = signed_headers(
        secrets=[other, VECTOR_SECRET], message_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY
    )
    assert headers["webhook-id"] == VECTOR_ID
    assert headers["webhook-timestamp"] == "1614265330"
    first, second = headers["webhook-signature"].split(" ")
    assert second == VECTOR_SIGNATURE and first.startswith("v1,") and first != second


def test_generated_secrets_decode_to_32_bytes():
    assert len(secret_key(secret_generate())) == 32
