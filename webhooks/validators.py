"""Which URLs an endpoint may have: https, or plain http only to this machine (tests, local development)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def endpoint_url_problem(url: str) -> str | None:
    """Why `url` cannot be an endpoint, or None when it can."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "is not a valid URL"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials; authenticate deliveries by their signature"
    if parts.fragment:
        return "must not have a #fragment"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and parts.hostname in LOCAL_HOSTS:
        return None
    if parts.scheme == "http":
        return "must use https (plain http is only accepted for localhost and 127.0.0.1)"
    return "must be an https:// URL"


def endpoint_url_validate(url: str) -> None:
    problem = endpoint_url_problem(url)
    if problem is not None:
        raise ValidationError(f"The URL {problem}.", code="invalid_webhook_url")
