"""Beat's refresh of the FIDO metadata (passkeys.tasks.refresh_metadata): nothing is fetched unless MDS_URL is set;
when it is, the BLOB is fetched over real HTTP (a local server on 127.0.0.1), verified and imported when newer, and
a run that finds the same BLOB is a no-op.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings as django_settings

from passkeys import tasks
from passkeys.models import MetadataBlob
from passkeys.services import metadata as metadata_service
from passkeys.webauthn import MetadataRefused
from tests.support import mds

AAGUID = uuid.UUID("2fc0579f-8113-47ea-b116-bb5a8db9202a")



class BlobServer:
    """Serves `body` at /blob.jwt with `status` on 127.0.0.1, and counts the GETs."""

    def __init__(self) -> None:
        self.body, self.status, self.paths = b"", 200, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.paths.append(self.path)
                self.send_response(server.status)
                self.send_header("Content-Type", "application/jwt")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/blob.jwt"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def blob_server(settings) -> Iterator[BlobServer]:
    server = BlobServer()
    settings.MDS_URL = server.url()
    yield server
    server.close()


def refresh():
    """The task, run eagerly as a worker would run it."""
    return tasks.refresh_metadata.apply().get()


def entry(description: str = "Test Key 5") -> dict:
    return mds.entry(AAGUID, description=description, root_certificates_der=[mds.bulk_root_der()])


def held() -> list[int]:
    return list(MetadataBlob.objects.order_by("no").values_list("no", flat=True))


def test_beat_runs_the_refresh():
    scheduled = [job["task"] for job in django_settings.CELERY_BEAT_SCHEDULE.values()]
    assert tasks.refresh_metadata.name == "passkeys.tasks.refresh_metadata"
    assert tasks.refresh_metadata.name in scheduled


def test_without_mds_url_nothing_is_fetched(pki, settings, monkeypatch):
    settings.MDS_URL = ""
    opened = []

    def refuse_urlopen(*args, **kwargs):
        opened.append(args)
        raise AssertionError("refresh_metadata fetched although MDS_URL is not set")

    def refuse_connect(sock, address):
        opened.append(address)
        raise AssertionError(f"refresh_metadata opened a connection to {address} although MDS_URL is not set")

    monkeypatch.setattr(urllib.request, "urlopen", refuse_urlopen)
    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connect)

    assert refresh() is None
    assert tasks.refresh_metadata() is None  # called directly, as beat's worker would run the body
    assert opened == []
    assert held() == []


def test_with_mds_url_the_blob_is_fetched_and_imported(pki, blob_server):
    blob_server.body = pki.blob(mds.payload(3, [entry()]))

    assert refresh() == 3

    assert blob_server.paths == ["/blob.jwt"]
    assert held() == [3]
    assert metadata_service.metadata_current().model(AAGUID) is not None


def test_a_second_run_with_the_same_blob_is_a_no_op(pki, blob_server):
    blob_server.body = pki.blob(mds.payload(3, [entry()]))
    assert refresh() == 3
    imported_at = MetadataBlob.objects.get().imported_at

    assert refresh() is None

    assert len(blob_server.paths) == 2
    assert MetadataBlob.objects.get().imported_at == imported_at


def test_a_newer_blob_at_the_url_is_imported_on_the_next_run(pki, blob_server):
    blob_server.body = pki.blob(mds.payload(3, [entry("First edition")]))
    assert refresh() == 3
    blob_server.body = pki.blob(mds.payload(4, [entry("Second edition")]))

    assert refresh() == 4

    assert held() == [3, 4]
    model = metadata_service.metadata_current().model(AAGUID)
    assert model.description == "Second edition"


def test_an_older_blob_at_the_url_changes_nothing(pki, blob_server):
    blob_server.body = pki.blob(mds.payload(4, [entry()]))
    assert refresh() == 4
    blob_server.body = pki.blob(mds.payload(3, [entry("Older edition")]))

    assert refresh() is None

    assert held() == [4]


@pytest.mark.parametrize("forge", ["foreign root", "tampered"])
def test_a_blob_at_the_url_that_does_not_verify_is_not_imported(pki, blob_server, forge):
    genuine = pki.blob(mds.payload(1, [entry()]))
    blob_server.body = (
        pki.foreign().blob(mds.payload(1, [entry()]))
        if forge == "foreign root"
        else mds.tamper_payload(genuine, mds.payload(1, [entry("Forged edition")]))
    )

    # The job fails loudly (an operator should see it) or shrugs; either way nothing is imported.
    with contextlib.suppress(MetadataRefused):
        assert refresh() is None

    assert held() == []
    assert metadata_service.metadata_current() is None
