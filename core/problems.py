"""RFC 9457 problem details: the one shape of every error answer, for code outside DRF too."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse

from .errors import ErrorCode

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem(code: ErrorCode | str, detail: str, *, status: int | None = None, **extra: Any) -> dict[str, Any]:
    """The body: type, title and (unless given) status from the code's ErrorCode member."""
    code = ErrorCode(code)
    return {
        "type": f"urn:passkey-service:problem:{code}",
        "title": code.title,
        "status": code.status if status is None else status,
        "detail": detail,
        "code": str(code),
        **extra,
    }


def problem_response(code: ErrorCode | str, detail: str, *, status: int | None = None, **extra: Any) -> HttpResponse:
    """A problem as a plain Django response (middleware, Django's error handlers)."""
    body = problem(code, detail, status=status, **extra)
    # The same bytes DRF's JSONRenderer writes: compact, UTF-8 as is.
    text = json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))
    return HttpResponse(text.encode(), status=body["status"], content_type=PROBLEM_CONTENT_TYPE)
