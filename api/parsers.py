"""JSON parsing that refuses hostile nesting and text that is not Unicode as bad input rather than crashing."""

from __future__ import annotations

import re

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# "\ud800" parses into a str that cannot be encoded as UTF-8 (RFC 8259 §8.2: unpredictable), so hashing
# it for a rate-limit bucket or storing it would fail deep inside; refuse the body at the door.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _has_lone_surrogate(value) -> bool:
    if isinstance(value, str):
        return _LONE_SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(key) or _has_lone_surrogate(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            if _has_lone_surrogate(data):
                raise ParseError("JSON parse error - a string holds a lone surrogate, which is not Unicode text")
            return data
        except RecursionError:  # deeply nested arrays fit under the size limit; DRF only catches ValueError
            raise ParseError("JSON parse error - nested too deeply") from None
