"""One POST to a checked target: connect to the checked address, never redirect, end at a total deadline.

http.client rather than urllib: urllib resolves the host itself (a second DNS answer an attacker can
rebind) and follows redirects. Here the socket goes to an address egress.target_check approved,
while the Host header and TLS (server name and certificate check) use the URL's host name.
Socket timeouts bound each recv only, so a receiver trickling a byte every half second could hold a
delivery forever; a timer shuts the socket down at the deadline instead.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time

from .egress import Target

# The fixed error classes of an attempt that got no usable answer (the log never keeps more).
TIMEOUT = "timeout"
CONNECTION_REFUSED = "connection_refused"
CONNECTION_ERROR = "connection_error"
TLS_ERROR = "tls_error"
INVALID_RESPONSE = "invalid_response"
REDIRECT_NOT_FOLLOWED = "redirect_not_followed"

USER_AGENT = "passkey-service-webhooks/1"


class _Deadline:
    """Shuts the connection's socket down when the total time is up, which ends any blocked call at once."""

    def __init__(self, seconds: float) -> None:
        self.ends_at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return max(self.ends_at - time.monotonic(), 0.001)

    def watch(self, connection: http.client.HTTPConnection) -> None:
        self._connection = connection
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sock = self._connection.sock if self._connection is not None else None
            if sock is not None:
                try:
                    # The plain socket's shutdown, also under TLS: it leaves the SSL object to the reading thread.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass  # closed or not yet connected: the connect timeout bounds that

    def cancel(self) -> None:
        with self._lock:
            self._timer.cancel()
            self._connection = None


def _pinned_socket(target: Target, *, timeout: float, deadline: _Deadline) -> socket.socket:
    """A socket connected to one of the checked addresses, tried in order; never a new DNS lookup."""
    error: OSError | None = None
    for address in target.addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(min(timeout, deadline.remaining()))
            sock.connect((str(address), target.port))
            sock.settimeout(timeout)  # each later recv/send; the deadline bounds their sum
            return sock
        except OSError as failed:
            sock.close()
            error = failed
    raise error or OSError("no address")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, *, timeout: float, deadline: _Deadline) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._target, self._deadline = target, deadline

    def connect(self) -> None:
        self.sock = _pinned_socket(self._target, timeout=self.timeout, deadline=self._deadline)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, *, timeout: float, deadline: _Deadline) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._target, self._deadline = target, deadline

    def connect(self) -> None:
        self.sock = _pinned_socket(self._target, timeout=self.timeout, deadline=self._deadline)
        # The certificate is verified against the URL's name, not the address connected to. The handshake
        # runs once self.sock is the TLS socket, so the deadline can cut a trickling handshake short too.
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host, do_handshake_on_connect=False)
        self.sock.do_handshake()


def _error_class(error: Exception) -> str:
    if isinstance(error, TimeoutError):  # socket.timeout is TimeoutError
        return TIMEOUT
    if isinstance(error, ConnectionRefusedError):
        return CONNECTION_REFUSED
    if isinstance(error, (ssl.SSLError, ssl.CertificateError)):
        return TLS_ERROR
    if isinstance(error, http.client.HTTPException):
        return INVALID_RESPONSE
    return CONNECTION_ERROR


def post(
    target: Target, *, path: str, body: bytes, headers: dict[str, str], timeout: float, deadline_seconds: float
) -> tuple[int | None, str]:
    """POST once; (status code or None when no answer came, "" on a 2xx else a fixed error class)."""
    deadline = _Deadline(deadline_seconds)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout=timeout, deadline=deadline)
    deadline.watch(connection)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        # Only the status line and headers are read: the body is the endpoint's business, never logged.
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException, ValueError) as error:
        return None, TIMEOUT if deadline.expired else _error_class(error)
    finally:
        deadline.cancel()
        connection.close()
    if deadline.expired:
        return None, TIMEOUT
    if 200 <= status < 300:
        return status, ""
    if 300 <= status < 400:  # the endpoint's answer, not an instruction: following it could reach any host
        return status, f"HTTP {status}: {REDIRECT_NOT_FOLLOWED}"
    return status, f"HTTP {status}"
