"""Every error leaves as RFC 9457 application/problem+json with a stable `code`."""

from __future__ import annotations

from typing import Any

import redis
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from tenants.errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"

TITLES = {
    "invalid_api_key": "Invalid API key",
    "insufficient_scope": "Insufficient scope",
    "validation_error": "Invalid request",
    "payload_too_large": "Payload too large",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "rate_limited": "Too many requests",
    "service_unavailable": "Service unavailable",
}


def _problem(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": f"urn:passkey-service:problem:{code}",
        "title": TITLES.get(code) or code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }


def problem_response(status: int, code: str, detail: str, **extra: Any) -> HttpResponse:
    """For code outside DRF views (middleware, Django's error handlers)."""
    body = JSONRenderer().render(_problem(status, code, detail, **extra))
    return HttpResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)


def _drf_problem(exc: exceptions.APIException) -> tuple[int, str, str, dict[str, Any]]:
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return 401, "invalid_api_key", "The API key is missing, unknown, revoked or expired.", {}
    if isinstance(exc, exceptions.PermissionDenied):
        return 403, "insufficient_scope", "This API key lacks the scope this operation needs.", {}
    if isinstance(exc, exceptions.NotFound):
        return 404, "not_found", "Nothing is here.", {}
    if isinstance(exc, exceptions.MethodNotAllowed):
        return 405, "method_not_allowed", str(exc.detail), {}
    if isinstance(exc, exceptions.Throttled):
        return 429, "rate_limited", str(exc.detail), {}
    if isinstance(exc, exceptions.ValidationError):
        return 400, "validation_error", "The request body is not valid.", {"errors": exc.detail}
    # ParseError (malformed JSON), UnsupportedMediaType and any other client error.
    return 400, "validation_error", str(exc.detail), {}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler: domain errors, DRF's own errors and unreachable backends."""
    if isinstance(exc, DomainError):
        status, code, detail, extra = exc.status, exc.code, exc.detail, {}
    elif isinstance(exc, Http404):
        status, code, detail, extra = 404, "not_found", "Nothing is here.", {}
    elif isinstance(exc, RequestDataTooBig):
        status, code, detail, extra = 413, "payload_too_large", "The request body is too large.", {}
    elif isinstance(exc, exceptions.APIException):
        status, code, detail, extra = _drf_problem(exc)
    elif isinstance(
        exc, (OperationalError, InterfaceError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
    ):
        status, code, detail, extra = 503, "service_unavailable", "A backing service is unreachable; retry later.", {}
    else:
        return None
    response = Response(_problem(status, code, detail, **extra), status=status, content_type=PROBLEM_CONTENT_TYPE)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="passkey-service"'
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait))
    return response


def not_found_view(request, exception=None) -> HttpResponse:
    return problem_response(404, "not_found", "Nothing is here.")


def bad_request_view(request, exception=None) -> HttpResponse:
    return problem_response(400, "validation_error", "The request could not be understood.")


def server_error_view(request) -> HttpResponse:
    return problem_response(500, "internal_error", "Something went wrong on our side.")
