"""The FIDO Metadata Service BLOB: import (verify, store, apply status changes to existing credentials at once),
refresh from MDS_URL, and the verified metadata a registration reads, kept per process.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DataError, connection, transaction

from tenants.models import Tenant

from .. import webauthn
from ..models import Credential, MetadataBlob
from ..providers import provider_name
from ..signals import authenticator_status_changed

logger = logging.getLogger(__name__)
# How long a process trusts that it holds the newest BLOB before asking the database (one indexed MAX).
METADATA_RECHECK_SECONDS = 30.0
FETCH_TIMEOUT_SECONDS = 60
IMPORT_LOCK = 0x4D44_5333  # "MDS3": the advisory lock key of imports


class MetadataNotNewer(webauthn.MetadataRefused):
    """The BLOB verified, but its `no` is not newer than the one held: nothing changes."""


@dataclass(frozen=True)
class MetadataImport:
    no: int
    entries: int
    credentials_changed: int  # credentials whose authenticator status changed
    compromised: int  # of those, credentials of models now reported compromised


def metadata_root() -> bytes:
    """The trust anchor of the BLOB: the FIDO Alliance root the project ships, or MDS_ROOT_CERT's."""
    try:
        pem = Path(settings.MDS_ROOT_CERT).read_bytes()
    except OSError as exc:
        raise webauthn.MetadataRefused(f"MDS_ROOT_CERT cannot be read: {exc.strerror}") from None
    return webauthn.metadata_root_der(pem)


def metadata_import(blob: bytes) -> MetadataImport:
    """Verify `blob` against the metadata root and store it if it is newer than the one held; credentials of models
    whose latest status changed show it at once, and each tenant hears of newly compromised models by webhook."""
    verified = webauthn.metadata_blob_verify(blob, root_der=metadata_root())
    try:
        with transaction.atomic():
            _imports_serialised()
            held = MetadataBlob.objects.order_by("-no").first()  # read after the lock: a concurrent import's row too
            if held is not None and verified.no <= held.no:
                raise MetadataNotNewer(
                    f"MDS BLOB no {verified.no} is not newer than the one held (no {held.no}): nothing changed."
                )
            MetadataBlob.objects.create(
                no=verified.no,
                next_update=verified.next_update,
                legal_header=verified.legal_header,
                entries=len(verified.payload.get("entries", [])),
                payload=verified.payload,
            )
            changed, compromised = _statuses_apply(verified.metadata)
    except DataError as exc:  # a signed payload the database cannot hold: nothing was stored
        raise webauthn.MetadataRefused(f"The BLOB verified, but cannot be stored: {exc}") from None
    _cache.forget()
    logger.info("imported MDS BLOB no %s: %s credentials changed status", verified.no, changed)
    return MetadataImport(
        no=verified.no, entries=len(verified.payload.get("entries", [])), credentials_changed=changed,
        compromised=compromised,
    )  # fmt: skip


def _imports_serialised() -> None:
    """One import at a time, to the end of the caller's transaction, so an older BLOB can never be applied after a
    newer one: a PostgreSQL advisory lock (SQLite's writing transactions are serial already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK])


def _statuses_apply(metadata: webauthn.Metadata) -> tuple[int, int]:
    """Every credential of a model the metadata lists takes the model's latest status and name; credentials that
    moved to a compromised status are announced per tenant (authenticator.status_changed)."""
    statuses = metadata.statuses()
    # One query finds the models whose credentials disagree with the metadata; only those are written.
    held = Credential.objects.values_list("aaguid", "authenticator_status", "authenticator_name").distinct()
    stale_models = sorted(
        {aaguid for aaguid, status, name in held if aaguid in statuses and (status, name) != _model(metadata, aaguid)}
    )
    changed = compromised = 0
    for aaguid in stale_models:
        status, name = _model(metadata, aaguid)
        of_model = Credential.objects.filter(aaguid=aaguid)
        moved = of_model.exclude(authenticator_status=status)
        affected = []
        if status in webauthn.COMPROMISED:
            affected = list(moved.select_related("tenant", "user").order_by("tenant_id", "pk"))
        changed += moved.update(authenticator_status=status, authenticator_name=name)
        of_model.exclude(authenticator_name=name).update(authenticator_name=name)  # a model renamed, same status
        compromised += len(affected)
        by_tenant: dict[uuid.UUID, list[Credential]] = defaultdict(list)
        for credential in affected:
            credential.authenticator_status = status
            by_tenant[credential.tenant_id].append(credential)
        for credentials in by_tenant.values():
            authenticator_status_changed.send(
                sender=Tenant, tenant=credentials[0].tenant, aaguid=aaguid, status=status, credentials=credentials,
                authenticator_name=name,
            )  # fmt: skip
    return changed, compromised


def metadata_refresh() -> MetadataImport | None:
    """Beat's job: fetch the BLOB from MDS_URL and import it when newer; nothing is fetched when it is not set."""
    if not settings.MDS_URL:
        return None
    request = urllib.request.Request(settings.MDS_URL, headers={"User-Agent": "passkey-service"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 - operator's URL
        blob = response.read(webauthn.MAX_BLOB_BYTES + 1)
    try:
        return metadata_import(blob)
    except MetadataNotNewer:
        return None


def authenticator_model(aaguid: uuid.UUID) -> tuple[str, str]:
    """(status, name) of a model: its latest status in the newest metadata ("" when not listed), and the metadata's
    description, else the AAGUID list's name."""
    return _model(metadata_current(), aaguid)


def _model(metadata: webauthn.Metadata | None, aaguid: uuid.UUID) -> tuple[str, str]:
    model = metadata.model(aaguid) if metadata is not None else None
    status = model.status if model is not None else ""
    return status, (model.description if model is not None and model.description else provider_name(aaguid))


def metadata_current() -> webauthn.Metadata | None:
    """The newest imported BLOB's metadata, parsed once per process and BLOB; None when none was imported."""
    return _cache.get()


class _MetadataCache:
    """The parsed metadata of the newest BLOB; the database is asked for the newest `no` at most every
    METADATA_RECHECK_SECONDS, and the payload is read and parsed only when that `no` changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metadata: webauthn.Metadata | None = None
        self._blob_pk: int | None = None  # the row it was read from
        self._checked_at = float("-inf")

    def get(self) -> webauthn.Metadata | None:
        if time.monotonic() - self._checked_at < METADATA_RECHECK_SECONDS:
            return self._metadata
        with self._lock:
            newest = MetadataBlob.objects.order_by("-no").values_list("pk", flat=True).first()
            if newest is None:
                self._metadata, self._blob_pk = None, None
            elif newest != self._blob_pk:
                payload = MetadataBlob.objects.values_list("payload", flat=True).get(pk=newest)
                self._metadata, self._blob_pk = webauthn.Metadata.from_payload(payload), newest
            self._checked_at = time.monotonic()
            return self._metadata

    def forget(self) -> None:
        """After an import in this process: read the newest BLOB at the next registration."""
        self._metadata, self._blob_pk, self._checked_at = None, None, float("-inf")


_cache = _MetadataCache()
