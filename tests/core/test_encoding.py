"""base64url without padding: one encoder for every app, and a strict decoder for what callers send."""

from __future__ import annotations

import pytest

from core.encoding import b64url_decode, b64url_encode
from core.errors import DomainError, ErrorCode


@pytest.mark.parametrize("data", [b"\x00", b"\xfb\xff", b"\xfb\xff\xfe", bytes(range(256))])
def test_encode_is_url_safe_without_padding_and_round_trips(data):
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text) == data


@pytest.mark.parametrize("text", ["", "AAAA=", "AA+A", "AA/A", "A", "AAAAA", "AA A"])
def test_decode_refuses_anything_but_unpadded_base64url(text):
    with pytest.raises(DomainError) as raised:
        b64url_decode(text)
    assert raised.value.code == ErrorCode.VALIDATION_ERROR and raised.value.status == 400
