"""Liveness, readiness and metrics, for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from core.errors import ErrorCode
from core.problems import problem_response
from passkeys.challenges import redis_ping

from ..observability import metrics_access_allowed, metrics_exposition


@require_GET
def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", and we say which
        checks["database"] = f"unavailable: {exc.__class__.__name__}"
    if settings.REDIS_URL:
        try:
            redis_ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"unavailable: {exc.__class__.__name__}"
    failed = [name for name, state in checks.items() if state != "ok"]
    if failed:
        return problem_response(ErrorCode.SERVICE_UNAVAILABLE, f"Not ready: {', '.join(failed)}.", checks=checks)
    return JsonResponse({"status": "ready", "checks": checks})


@require_GET
def metrics(request) -> HttpResponse:
    """Prometheus scrape target; 404 to anyone not allowed, so it looks like nothing is there."""
    if not metrics_access_allowed(request):
        return problem_response(ErrorCode.NOT_FOUND, "Nothing is here.")
    body, content_type = metrics_exposition(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(body, content_type=content_type)
