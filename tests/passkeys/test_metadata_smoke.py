"""The FIDO metadata end to end, in its shortest form: a BLOB imported by the command, a packed registration
verified against it under enforce, a status change that stops the credential's logins."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from passkeys.models import Credential
from tests.support import mds
from tests.support.api import assert_problem
from tests.support.authenticator import SoftAuthenticator

AAGUID = uuid.UUID("2fc0579f-8113-47ea-b116-bb5a8db9202a")


def _import(pki, tmp_path, no: int, entries: list[dict]) -> str:
    path = tmp_path / f"blob-{no}.jwt"
    path.write_bytes(pki.blob(mds.payload(no, entries)))
    out = StringIO()
    call_command("mds_import", str(path), stdout=out)
    return out.getvalue()


def test_enforce_accepts_a_verified_model_and_refuses_it_once_revoked(pki, tmp_path, make_tenant, make_api):
    authenticator = SoftAuthenticator(attestation="packed", aaguid=AAGUID.bytes, backed_up=False, backup_eligible=False)
    entry = mds.entry(AAGUID, description="Test Key 5", root_certificates_der=[authenticator.attestation_root_der])
    assert "imported MDS BLOB no 1" in _import(pki, tmp_path, 1, [entry])
    api = make_api(make_tenant(attestation="direct", attestation_policy="enforce"))

    registered = api.register(authenticator, "alice")
    assert registered.status_code == 201, registered.content
    credential = registered.json()["credential"]
    assert (credential["attestation"], credential["authenticator_name"]) == ("verified", "Test Key 5")
    assert credential["authenticator_status"] == "FIDO_CERTIFIED_L1"
    assert api.login(authenticator, "alice").status_code == 200

    revoked = mds.entry(
        AAGUID, description="Test Key 5", root_certificates_der=[authenticator.attestation_root_der],
        statuses=[("FIDO_CERTIFIED_L1", "2024-01-15"), ("REVOKED", "2026-11-30")],
    )  # fmt: skip
    assert "1 credentials changed status" in _import(pki, tmp_path, 2, [revoked])

    assert Credential.objects.get().authenticator_status == "REVOKED"
    assert_problem(api.login(authenticator, "alice"), 400, "authenticator_not_allowed")


def test_an_older_blob_changes_nothing_and_fails(pki, tmp_path):
    _import(pki, tmp_path, 5, [])
    with pytest.raises(CommandError, match="not newer"):
        _import(pki, tmp_path, 5, [])


def test_a_blob_under_a_foreign_root_is_refused(pki, tmp_path):
    path = tmp_path / "foreign.jwt"
    path.write_bytes(pki.foreign().blob(mds.payload(1, [])))
    with pytest.raises(CommandError, match="does not verify"):
        call_command("mds_import", str(path), stdout=StringIO())


def test_enforce_refuses_an_unlisted_model(pki, tmp_path, make_tenant, make_api):
    _import(pki, tmp_path, 1, [])
    api = make_api(make_tenant(attestation="direct", attestation_policy="enforce"))

    assert_problem(api.register(SoftAuthenticator(attestation="packed"), "alice"), 400, "attestation_untrusted")
    assert not Credential.objects.exists()
