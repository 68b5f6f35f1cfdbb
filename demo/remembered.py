"""Who last signed in on this browser, for the sign-in page's login decision ("Welcome back, Ada").

A cookie the site signs (so no page can name someone else), set at every sign-in and kept after sign-out: it
holds the user's opaque id, never the username, and the page never reads it (HttpOnly); the decision's answer
carries the name to greet.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from .models import DemoUser
from .services import demo_user_by_user_id

REMEMBERED_COOKIE = "demo_remembered_user"
REMEMBERED_MAX_AGE = 90 * 24 * 3600  # seconds: long enough to greet a user who signs in every few weeks


def remember(response: HttpResponse, user: DemoUser) -> HttpResponse:
    response.set_signed_cookie(
        REMEMBERED_COOKIE,
        str(user.user_id),
        salt=REMEMBERED_COOKIE,
        max_age=REMEMBERED_MAX_AGE,
        path=reverse("demo:signin"),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def forget(response: HttpResponse) -> HttpResponse:
    response.delete_cookie(REMEMBERED_COOKIE, path=reverse("demo:signin"), samesite="Lax")
    return response


def remembered_cookie_sent(request: HttpRequest) -> bool:
    return REMEMBERED_COOKIE in request.COOKIES


def remembered_user(request: HttpRequest) -> DemoUser | None:
    """The account this browser last signed in to; None without the cookie, with a forged or expired one, or when
    the account is gone (the visitor is then anonymous, like anyone else)."""
    user_id = request.get_signed_cookie(
        REMEMBERED_COOKIE, default=None, salt=REMEMBERED_COOKIE, max_age=REMEMBERED_MAX_AGE
    )
    return demo_user_by_user_id(user_id) if user_id else None
