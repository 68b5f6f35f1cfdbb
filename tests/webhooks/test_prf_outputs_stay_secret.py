"""PRF outputs in clientExtensionResults are the relying party frontend's secrets (keys for end-to-end
encryption, say): after PRF logins, a failed one included, no table row, log line, webhook body or answer
holds them, in any encoding the service might have written them in."""

from __future__ import annotations

import base64
import logging

from django.db import connection

from tests.support.authenticator import SoftAuthenticator, b64url_decode, b64url_encode
from webhooks.sending import deliveries_send_due

ORIGIN = "https://example.com"
SALTS = {"first": b64url_encode(b"vault key salt"), "second": b64url_encode(b"rotation salt")}


def _every_row_as_text() -> str:
    """Each row of each table of the test database, as PostgreSQL prints it (bytea as hex, JSON as text)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        tables = [name for (name,) in cursor.fetchall()]
        rows = []
        for table in tables:
            cursor.execute(f"SELECT t::text FROM {connection.ops.quote_name(table)} t")  # noqa: S608 - our tables
            rows += [row for (row,) in cursor.fetchall()]
    assert any("passkeys_credential" in table for table in tables)
    return "\n".join(rows)


def _encodings(secret: bytes) -> list[str]:
    return [
        b64url_encode(secret),
        base64.b64encode(secret).decode(),
        secret.hex(),
        secret.decode("latin-1"),
    ]


def test_prf_outputs_are_never_stored_logged_sent_or_answered(api, receiver, endpoint, caplog):
    caplog.set_level(logging.DEBUG)
    authenticator = SoftAuthenticator()
    registered = api.register(authenticator, "alice", start={"prf": True}, finish={"user_agent": "Firefox"})
    assert registered.status_code == 201, registered.content
    answers, secrets = [registered.content.decode()], []

    for bad_signature in (False, True):
        options = api.authentication_options("alice", prf={"eval": SALTS})
        assertion = authenticator.get(options, ORIGIN, bad_signature=bad_signature)
        results = assertion["clientExtensionResults"]["prf"]["results"]
        secrets += [b64url_decode(results["first"]), b64url_decode(results["second"])]
        response = api.post("/v1/authentications/finish", {"credential": assertion, "user_agent": "Firefox"})
        assert response.status_code == (400 if bad_signature else 200), response.content
        answers.append(response.content.decode())
    expected = authenticator.prf_output(next(iter(authenticator.credentials)), b64url_decode(SALTS["first"]))
    assert secrets[0] == expected  # the authenticator did evaluate the PRF: there is a secret to look for

    assert deliveries_send_due() >= 3  # passkey.created, the login, the failure
    webhooks = [request.body.decode() for request in receiver.wait_for(3)]
    stored = _every_row_as_text()
    logged = [record.getMessage() + repr(record.args) for record in caplog.records]

    assert stored and logged and webhooks
    for secret in secrets:
        for encoded in _encodings(secret):
            assert encoded not in stored
            assert not [line for line in logged if encoded in line]
            assert not [body for body in webhooks if encoded in body]
            assert not [answer for answer in answers if encoded in answer]
