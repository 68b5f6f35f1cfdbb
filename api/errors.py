"""Every error leaves as RFC 9457 application/problem+json with a stable `code`.

Titles and statuses come from core.errors.ErrorCode; this module maps DRF's and Django's own
exceptions (and unreachable backends) onto those codes.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpResponse
from rest_framework import exceptions
from rest_framework.response import Response

from core.errors import DomainError, ErrorCode
from core.problems import PROBLEM_CONTENT_TYPE, problem, problem_response
from core.transient import BACKEND_UNREACHABLE


def _drf_problem(exc: exceptions.APIException) -> tuple[ErrorCode, str, dict[str, Any]]:
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return ErrorCode.INVALID_API_KEY, "The API key is missing, unknown, revoked or expired.", {}
    if isinstance(exc, exceptions.PermissionDenied):
        return ErrorCode.INSUFFICIENT_SCOPE, "This API key lacks the scope this operation needs.", {}
    if isinstance(exc, exceptions.NotFound):
        return ErrorCode.NOT_FOUND, "Nothing is here.", {}
    if isinstance(exc, exceptions.MethodNotAllowed):
        return ErrorCode.METHOD_NOT_ALLOWED, str(exc.detail), {}
    if isinstance(exc, exceptions.Throttled):
        return ErrorCode.RATE_LIMITED, str(exc.detail), {}
    if isinstance(exc, exceptions.ValidationError):
        return ErrorCode.VALIDATION_ERROR, "The request body is not valid.", {"errors": exc.detail}
    # ParseError (malformed JSON), UnsupportedMediaType and any other client error.
    return ErrorCode.VALIDATION_ERROR, str(exc.detail), {}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler: domain errors, DRF's own errors and unreachable backends."""
    status = None
    if isinstance(exc, DomainError):
        code, detail, extra, status = exc.code, exc.detail, {}, exc.status
    elif isinstance(exc, Http404):
        code, detail, extra = ErrorCode.NOT_FOUND, "Nothing is here.", {}
    elif isinstance(exc, RequestDataTooBig):
        code, detail, extra = ErrorCode.PAYLOAD_TOO_LARGE, "The request body is too large.", {}
    elif isinstance(exc, exceptions.APIException):
        code, detail, extra = _drf_problem(exc)
    elif isinstance(exc, BACKEND_UNREACHABLE):
        code, detail, extra = ErrorCode.SERVICE_UNAVAILABLE, "A backing service is unreachable; retry later.", {}
    else:
        return None
    body = problem(code, detail, status=status, **extra)
    response = Response(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE)
    if body["status"] == 401:
        response["WWW-Authenticate"] = 'Bearer realm="passkey-service"'
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait))
    return response


def not_found_view(request, exception=None) -> HttpResponse:
    return problem_response(ErrorCode.NOT_FOUND, "Nothing is here.")


def bad_request_view(request, exception=None) -> HttpResponse:
    return problem_response(ErrorCode.VALIDATION_ERROR, "The request could not be understood.")


def server_error_view(request) -> HttpResponse:
    return problem_response(ErrorCode.INTERNAL_ERROR, "Something went wrong on our side.")
