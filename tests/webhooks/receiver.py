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
import socket
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

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[Received] = []
        # An answer: a status, HANG, (status, headers) or (status, headers, body).
        self.answers: list[int | str | tuple] = []
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
                status, headers, content = (*answer, b"ok")[:3] if isinstance(answer, tuple) else (answer, {}, b"ok")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hooks", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

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


class _RawListener:
    """A loopback port with an accept loop; each subclass says what to do with a connection."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._stop = threading.Event()
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.05)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()


class TricklingReceiver(_RawListener):
    """Reads each POST, then answers one byte every `interval` seconds and never finishes the headers.

    Every byte arrives well inside a socket timeout, so only a total deadline ends such a delivery.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.arrivals: list[float] = []  # monotonic time each request arrived
        self.open_connections = 0
        self.most_open = 0  # the most connections open at once
        self._lock = threading.Lock()
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with self._lock:
            self.open_connections += 1
            self.most_open = max(self.most_open, self.open_connections)
        try:
            conn.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            with self._lock:
                self.arrivals.append(time.monotonic())
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: aaaaa":  # 15 s of it, then it hangs up
                if self._stop.wait(self.interval):
                    break
                conn.sendall(bytes([byte]))
        except OSError:
            pass  # the sender hung up: what a deadline does
        finally:
            conn.close()
            with self._lock:
                self.open_connections -= 1


class CountingListener(_RawListener):
    """A loopback port that only counts the connections it accepts: proof that a refused send never connected."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.accepted = 0
        super().__init__(host)

    def _handle(self, conn: socket.socket) -> None:
        self.accepted += 1
        conn.close()
