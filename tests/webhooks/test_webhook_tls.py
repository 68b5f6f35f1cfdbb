"""https deliveries go to the checked address yet verify the certificate against the URL's host name."""

from __future__ import annotations

import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.utils import timezone

from webhooks import transport
from webhooks.models import Delivery, DeliveryStatus
from webhooks.sending import delivery_attempt


def _certificate(name: str, issuer_key, issuer_name, *, ca: bool, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
    return key, builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture
def tls_receiver(tmp_path):
    """A loopback https server whose certificate names hooks.example, issued by a test CA; (port, CA PEM, hits)."""
    ca_key, ca_cert = _certificate("Test CA", None, None, ca=True)
    key, cert = _certificate("hooks.example", ca_key, ca_cert.subject, ca=False)
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hits.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1], ca_cert.public_bytes(serialization.Encoding.PEM).decode(), hits
    server.shutdown()
    server.server_close()


def _delivery(make_endpoint, tenant, url: str) -> Delivery:
    endpoint = make_endpoint(tenant, url).endpoint
    now = timezone.now()
    payload = {"type": "user.deleted", "timestamp": now.isoformat(), "data": {}}
    return Delivery.objects.create(endpoint=endpoint, event_type="user.deleted", payload=payload, next_attempt_at=now)


@pytest.fixture
def trust_test_ca(monkeypatch, tls_receiver):
    _port, ca_pem, _hits = tls_receiver
    real = ssl.create_default_context  # the default context's checks, trusting the test CA instead of the system's
    monkeypatch.setattr(transport.ssl, "create_default_context", lambda: real(cadata=ca_pem))


def test_https_connects_to_the_checked_address_and_verifies_the_name(
    tenant, make_endpoint, dns, tls_receiver, trust_test_ca
):
    port, _ca, hits = tls_receiver
    dns.names["hooks.example"] = ["127.0.0.1"]
    outcome = delivery_attempt(delivery_id=_delivery(make_endpoint, tenant, f"https://hooks.example:{port}/h").pk)
    assert (outcome.status, outcome.response_code) == (DeliveryStatus.SUCCEEDED, 204)
    assert hits == [f"hooks.example:{port}"]


def test_a_certificate_for_another_name_is_a_tls_error(tenant, make_endpoint, dns, tls_receiver, trust_test_ca):
    port, _ca, hits = tls_receiver
    dns.names["other-name.example"] = ["127.0.0.1"]
    outcome = delivery_attempt(delivery_id=_delivery(make_endpoint, tenant, f"https://other-name.example:{port}/h").pk)
    assert (outcome.response_code, outcome.error) == (None, "tls_error")
    assert hits == []


def test_an_untrusted_certificate_is_a_tls_error(tenant, make_endpoint, dns, tls_receiver):
    port, _ca, hits = tls_receiver
    dns.names["hooks.example"] = ["127.0.0.1"]
    outcome = delivery_attempt(delivery_id=_delivery(make_endpoint, tenant, f"https://hooks.example:{port}/h").pk)
    assert (outcome.response_code, outcome.error) == (None, "tls_error")
    assert hits == []
