"""The API and the probes skip the site's middleware (sessions, CSRF, users, messages); the pages keep all of it."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import Client

from core.middleware import check_site_middleware


@pytest.mark.django_db
def test_api_answers_carry_no_session_or_csrf_machinery_and_pages_do(api):
    response = api.post("/v1/authentications/start", {})
    assert response.status_code == 200
    assert not response.cookies and "Vary" not in response and "X-Frame-Options" not in response
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware runs for both chains

    page = Client().get("/accounts/login/")
    assert page.status_code == 200
    assert "csrftoken" in page.cookies and page["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_a_page_post_without_its_csrf_token_is_still_refused():
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403


def test_the_admin_s_middleware_is_checked_where_the_admin_runs(settings):
    assert check_site_middleware() == []
    settings.SITE_MIDDLEWARE = [m for m in settings.SITE_MIDDLEWARE if "sessions" not in m]
    assert [error.id for error in check_site_middleware()] == ["core.E001"]
    assert all(isinstance(error, checks.Error) for error in check_site_middleware())
