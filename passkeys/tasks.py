"""Celery tasks of the passkeys app: thin wrappers that call its services; each is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from core.transient import TRANSIENT

from .services.metadata import metadata_refresh

RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": True, "retry_backoff_max": 300, "max_retries": 8}


@shared_task(**RETRY)
def refresh_metadata() -> int | None:
    """Fetch the FIDO metadata BLOB from MDS_URL and import it when newer; the imported `no`, else None."""
    imported = metadata_refresh()
    return imported.no if imported else None
