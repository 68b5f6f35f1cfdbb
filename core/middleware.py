"""Two middleware chains: a short one for the API and the probes, the full one for the pages people use.

Sessions, CSRF, users, messages, static files and the login forms' rate limit serve only the admin, the dashboard,
the accounts pages and the demo; on /v1/ (API keys and client tokens) they are work without effect. SiteMiddleware
hands every request outside API_PATH_PREFIXES to a handler of its own built from SITE_MIDDLEWARE, so those pages
get Django's whole request cycle (process_view for CSRF included) and the API skips it. The test client builds the
same chains, so tests run through what production runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.conf import settings
from django.core import checks
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponse

# Paths answered by the short chain: the API (key or client token) and the operators' probes.
API_PATH_PREFIXES = ("/v1/", "/healthz", "/readyz", "/metrics")

# What the admin needs (its checks admin.E408-E410 look in MIDDLEWARE, and are silenced in settings for this).
ADMIN_MIDDLEWARE = (
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
)
_loading = threading.Lock()


@checks.register
def check_site_middleware(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The admin's own checks, against the chain that serves it."""
    return [
        checks.Error(f"{name!r} must be in SITE_MIDDLEWARE: the admin runs there.", id="core.E001")
        for name in ADMIN_MIDDLEWARE
        if name not in settings.SITE_MIDDLEWARE
    ]


class _SiteHandler(BaseHandler):
    def __init__(self) -> None:
        super().__init__()
        # Django's load_middleware reads settings.MIDDLEWARE; it reads SITE_MIDDLEWARE for the time it takes to
        # build this chain, once per process (and per test client).
        with _loading:
            api_chain = settings.MIDDLEWARE
            settings.MIDDLEWARE = settings.SITE_MIDDLEWARE
            try:
                self.load_middleware()
            finally:
                settings.MIDDLEWARE = api_chain


class SiteMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.site = _SiteHandler()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PATH_PREFIXES):
            return self.get_response(request)
        return self.site.get_response(request)
