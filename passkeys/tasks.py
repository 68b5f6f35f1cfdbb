"""Celery tasks: thin wrappers around services."""

from celery import shared_task

from .challenges import challenges_purge_expired


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def purge_expired_challenges() -> int:
    return challenges_purge_expired()
