"""Which URLs an endpoint may have: https to the public internet; http only inside the operator's allowed networks."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from .egress import INVALID_URL, EgressRefused, Target, target_check


def endpoint_url_target(url: str) -> Target:
    """The checked destination of `url` (host resolved once, every address allowed); else EgressRefused."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise EgressRefused("is not a valid URL", INVALID_URL) from None
    if not parts.hostname:
        raise EgressRefused("has no host", INVALID_URL)
    if parts.username is not None or parts.password is not None:
        raise EgressRefused("must not carry credentials; authenticate deliveries by their signature", INVALID_URL)
    if parts.fragment:
        raise EgressRefused("must not have a #fragment", INVALID_URL)
    if parts.scheme not in ("http", "https"):
        raise EgressRefused("must be an https:// URL", INVALID_URL)
    return target_check(parts)


def endpoint_url_problem(url: str) -> str | None:
    """Why `url` cannot be an endpoint, or None when it can."""
    try:
        endpoint_url_target(url)
    except EgressRefused as refused:
        return refused.problem
    return None


def endpoint_url_validate(url: str) -> None:
    """The URL field's validator, so the admin, commands and services all refuse the same URLs."""
    problem = endpoint_url_problem(url)
    if problem is not None:
        raise ValidationError(f"The URL {problem}.", code="invalid_webhook_url")
