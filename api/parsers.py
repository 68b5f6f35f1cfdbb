"""JSON parsing that refuses hostile nesting as bad input rather than crashing."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:  # deeply nested arrays fit under the size limit; DRF only catches ValueError
            raise ParseError("JSON parse error - nested too deeply") from None
