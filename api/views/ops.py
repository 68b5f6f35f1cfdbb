"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from passkeys.challenges import redis_ping

from ..errors import problem_response


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
        return problem_response(503, "service_unavailable", f"Not ready: {', '.join(failed)}.", checks=checks)
    return JsonResponse({"status": "ready", "checks": checks})
