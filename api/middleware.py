"""Refuse oversized request bodies before anything reads them."""

from __future__ import annotations

from django.conf import settings

from core.errors import ErrorCode
from core.problems import problem_response


class BodySizeLimitMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return problem_response(
                ErrorCode.PAYLOAD_TOO_LARGE, f"Request bodies are limited to {settings.MAX_REQUEST_BODY_BYTES} bytes."
            )
        return self.get_response(request)
