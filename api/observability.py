"""Prometheus metrics: HTTP requests by route and status, ceremony outcomes, Celery task outcomes.

Served at /metrics only when METRICS_ENABLED and the scraper's peer address is in
METRICS_ALLOWED_IPS or it presents METRICS_TOKEN; everyone else gets 404, as if nothing were
there. With PROMETHEUS_MULTIPROC_DIR set (several granian workers, Celery workers sharing the
folder), every process writes its samples to that folder and /metrics sums them.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from typing import Any

from celery.signals import task_failure, task_retry, task_success
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder

from passkeys.signals import ceremony_failed, ceremony_succeeded

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"

HTTP_REQUESTS = Counter(
    "passkey_http_requests_total",
    "HTTP requests answered, by URL route, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "passkey_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL route, method and status.",
    ["route", "method", "status"],
)
CEREMONY_OUTCOMES = Counter(
    "passkey_ceremony_outcomes_total",
    "Finished WebAuthn ceremonies by ceremony, outcome and error code (ok on success).",
    ["ceremony", "outcome", "code"],
)
CELERY_TASKS = Counter(
    "passkey_celery_task_outcomes_total", "Celery task runs by task name and outcome.", ["task", "outcome"]
)


def _route(request: HttpRequest) -> str:
    """The URL pattern, never the raw path: one series per route, whatever ids the paths carry."""
    match = request.resolver_match
    if match is None:  # answered before URL resolution, e.g. 413 from the body-size check
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return UNMATCHED_ROUTE
    return "/" + match.route


class PrometheusMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        labels = (_route(request), method, str(response.status_code))
        HTTP_REQUESTS.labels(*labels).inc()
        HTTP_LATENCY.labels(*labels).observe(time.perf_counter() - started)
        return response


def metrics_access_allowed(request: HttpRequest) -> bool:
    """Enabled, and the direct peer is allowed or the bearer token matches.

    Only REMOTE_ADDR counts: a forwarded header is the client's to forge, and a scrape through
    the public proxy arrives from the proxy's address, which the default (loopback) refuses.
    """
    if not settings.METRICS_ENABLED:
        return False
    token = settings.METRICS_TOKEN
    scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
        return True
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(allowed, strict=False) for allowed in settings.METRICS_ALLOWED_IPS)


def metrics_exposition(accept: str) -> tuple[bytes, str]:
    """Every metric in the format the scraper asked for (text 0.0.4 by default, or OpenMetrics),
    with its content type: this process's samples, or every process's in multiprocess mode."""
    encode, content_type = choose_encoder(accept)
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
        return encode(registry), content_type
    return encode(REGISTRY), content_type


# --- signal receivers --------------------------------------------------------------------------


def _ceremony_succeeded(sender, *, ceremony: str, **kwargs: Any) -> None:
    CEREMONY_OUTCOMES.labels(ceremony, "succeeded", "ok").inc()


def _ceremony_failed(sender, *, ceremony: str, code: str, **kwargs: Any) -> None:
    CEREMONY_OUTCOMES.labels(ceremony, "failed", code).inc()


def _task_name(sender: Any) -> str:
    return getattr(sender, "name", None) or str(sender)


def _task_success(sender=None, **kwargs: Any) -> None:
    CELERY_TASKS.labels(_task_name(sender), "success").inc()


def _task_failure(sender=None, **kwargs: Any) -> None:
    CELERY_TASKS.labels(_task_name(sender), "failure").inc()


def _task_retry(sender=None, **kwargs: Any) -> None:
    CELERY_TASKS.labels(_task_name(sender), "retry").inc()


def connect() -> None:
    """Listen to ceremony and Celery outcomes; called from AppConfig.ready in web and worker alike."""
    ceremony_succeeded.connect(_ceremony_succeeded, dispatch_uid="prometheus-ceremony-succeeded")
    ceremony_failed.connect(_ceremony_failed, dispatch_uid="prometheus-ceremony-failed")
    task_success.connect(_task_success, dispatch_uid="prometheus-task-success")
    task_failure.connect(_task_failure, dispatch_uid="prometheus-task-failure")
    task_retry.connect(_task_retry, dispatch_uid="prometheus-task-retry")
