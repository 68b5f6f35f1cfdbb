"""A real HTTP webhook receiver on loopback, and a Standard Webhooks verifier written from the specification.

The verifier deliberately shares no code with webhooks.signing: it is what a relying party would
write from https://www.standardwebhooks.com/ (the same steps as the specification's reference
library): headers present, timestamp within ±5 minutes, HMAC-SHA256 of "id.timestamp.body" keyed
by the base64-decoded part of "whsec_…", compared in constant time against each "v1," signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 5 * 60
HANG = "hang"  # an answer that never comes


class SignatureError(Exception):
    pass


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None) -> dict[str, Any]:
    """The delivery's JSON if one of its signatures is valid under `secret`; else SignatureError."""
    msg_id, msg_timestamp, msg_signature = (
        headers.get("webhook-id"),
        headers.get("webhook-timestamp"),
        headers.get("webhook-signature"),
    )
    if not (msg_id and msg_timestamp and msg_signature):
        raise SignatureError("missing webhook headers")
    if abs((time.time() if now is None else now) - int(msg_timestamp)) > TOLERANCE_SECONDS:
        raise SignatureError("timestamp outside the tolerance")
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_") :])
    to_sign = f"{msg_id}.{msg_timestamp}.{body.decode()}".encode()
    expected = hmac.new(key, to_sign, hashlib.sha256).digest()
    for versioned in msg_signature.split(" "):
        version, signature = versioned.split(",", 1)
        if version == "v1" and hmac.compare_digest(base64.b64decode(signature), expected):
            return json.loads(body)
    raise SignatureError("no matching signature")


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    def signatures(self) -> list[str]:
        return self.headers["webhook-signature"].split(" ")


class WebhookReceiver:
    """Records every POST; answers with the queued statuses in order (200 when none is queued)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answers: list[int | str | tuple[int, dict[str, str]]] = []
        self._arrived = threading.Condition()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._arrived:
                    receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    answer = receiver.answers.pop(0) if receiver.answers else 200
                    receiver._arrived.notify_all()
                if answer == HANG:
                    receiver._release.wait(30)
                    return
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.requests if r.json()["type"] == event_type]

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
