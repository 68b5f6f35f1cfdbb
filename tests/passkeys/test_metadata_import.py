"""`manage.py mds_import PATH`: a FIDO MDS3 BLOB is verified against the metadata root (settings.MDS_ROOT_CERT) with
python-fido2's fido2.mds3, stored when newer than the one held, used by the next registration, and its statuses
reach every existing credential of the models it lists at once (no worker). Anything that does not verify, or is
not newer, changes nothing.
"""

from __future__ import annotations

import json
import os
import uuid
from io import StringIO
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from passkeys.models import Credential, MetadataBlob
from passkeys.services import metadata as metadata_service
from passkeys.services.metadata import metadata_current
from tests.support import mds
from tests.support.authenticator import SoftAuthenticator

AAGUID = uuid.UUID("2fc0579f-8113-47ea-b116-bb5a8db9202a")
OTHER_AAGUID = uuid.UUID("6d44ba9b-f6ec-2e49-b930-0c8fe920cb73")
SHIPPED_ROOT = Path(django_settings.BASE_DIR) / "passkeys" / "data" / "fido-mds-root.pem"
# GlobalSign Root CA - R3, the root of https://mds3.fidoalliance.org/ (SHA-256 of the DER).
GLOBALSIGN_R3_SHA256 = "cbb522d7b7f127ad6a0113865bdf1cd4102e7d0759af635a7cf4720dc963c53b"



@pytest.fixture
def run_import(tmp_path):
    """Write `blob` to a file and run the command on it; returns what it printed."""

    def run(blob: bytes, name: str = "blob.jwt") -> str:
        path = tmp_path / name
        path.write_bytes(blob)
        out = StringIO()
        call_command("mds_import", str(path), stdout=out)
        return out.getvalue()

    return run


def entry(aaguid: uuid.UUID = AAGUID, *, description: str = "Test Key 5", statuses=mds.DEFAULT_STATUSES) -> dict:
    return mds.entry(aaguid, description=description, root_certificates_der=[mds.bulk_root_der()], statuses=statuses)


def compromised(status: str, aaguid: uuid.UUID = AAGUID, description: str = "Test Key 5") -> dict:
    return entry(
        aaguid, description=description, statuses=[("FIDO_CERTIFIED_L1", "2024-01-15"), (status, "2026-01-10")]
    )


def register(api, aaguid: uuid.UUID, user_id: str) -> Credential:
    response = api.register(SoftAuthenticator(aaguid=aaguid.bytes), user_id)
    assert response.status_code == 201, response.content
    return Credential.objects.get(user__user_id=user_id, tenant=api.tenant)


def statuses() -> dict[tuple[str, str], tuple[str, str]]:
    """(tenant name, user id) -> (authenticator_status, authenticator_name) of every stored credential."""
    return {
        (c.tenant.name, c.user.user_id): (c.authenticator_status, c.authenticator_name)
        for c in Credential.objects.select_related("tenant", "user")
    }


def held() -> list[int]:
    return list(MetadataBlob.objects.order_by("no").values_list("no", flat=True))


# --- a BLOB that verifies ------------------------------------------------------------------------------------------


def test_the_first_import_stores_the_blob(pki, run_import):
    output = run_import(pki.blob(mds.payload(7, [entry(), entry(OTHER_AAGUID)], next_update="2027-02-01")))

    assert "imported MDS BLOB no 7: 2 entries" in output
    blob = MetadataBlob.objects.get()
    assert (blob.no, blob.entries, blob.next_update.isoformat()) == (7, 2, "2027-02-01")
    assert blob.legal_header == mds.LEGAL_HEADER
    assert [e["aaguid"] for e in blob.payload["entries"]] == [str(AAGUID), str(OTHER_AAGUID)]
    assert metadata_current().model(AAGUID).description == "Test Key 5"


def test_a_newer_blob_is_used_by_the_next_registration_at_once(pki, run_import, make_tenant, make_api):
    api = make_api(make_tenant())
    run_import(pki.blob(mds.payload(1, [entry(description="Key, first edition")])))
    assert register(api, AAGUID, "alice").authenticator_name == "Key, first edition"

    run_import(pki.blob(mds.payload(2, [entry(description="Key, second edition")])))

    assert held() == [1, 2]
    assert register(api, AAGUID, "bob").authenticator_name == "Key, second edition"  # no recheck interval to wait


def test_another_process_import_is_seen_after_the_recheck_interval(pki, make_tenant, make_api, monkeypatch):
    """A BLOB imported elsewhere (a row this process did not write) is picked up once METADATA_RECHECK_SECONDS pass;
    the clock is moved rather than waited for."""
    api = make_api(make_tenant())
    assert register(api, AAGUID, "alice").authenticator_name == ""  # the cache now holds "no BLOB"
    verified = metadata_service.webauthn.metadata_blob_verify(
        pki.blob(mds.payload(3, [entry(description="Imported elsewhere")])), root_der=pki.root_der()
    )
    MetadataBlob.objects.create(
        no=3, next_update=verified.next_update, legal_header="", entries=1, payload=verified.payload
    )
    now = metadata_service.time.monotonic()
    clock = type("Clock", (), {"monotonic": staticmethod(lambda: now + metadata_service.METADATA_RECHECK_SECONDS + 1)})
    monkeypatch.setattr(metadata_service, "time", clock)

    assert register(api, AAGUID, "bob").authenticator_name == "Imported elsewhere"


def test_an_import_is_used_at_once_even_when_its_no_was_held_before(pki, run_import, make_tenant, make_api):
    """After an import returns, this process uses that BLOB: here one that reuses the number of a deleted row (an
    operator clearing a bad private BLOB, a database restored from backup), which the cache must not mistake for it."""
    api = make_api(make_tenant())
    run_import(pki.blob(mds.payload(1, [entry(description="Withdrawn edition")])))
    assert register(api, AAGUID, "alice").authenticator_name == "Withdrawn edition"
    MetadataBlob.objects.all().delete()

    run_import(pki.blob(mds.payload(1, [entry(description="Corrected edition")])))

    assert register(api, AAGUID, "bob").authenticator_name == "Corrected edition"


def test_without_any_blob_there_is_no_metadata(db):
    assert metadata_current() is None


# --- refusals: nothing is stored -----------------------------------------------------------------------------------


def _claim(no: int) -> dict:
    """What a refused BLOB says: were it believed, Test Key 5 would be compromised."""
    return mds.payload(no, [compromised("USER_VERIFICATION_BYPASS")])


def _signed_with(header: dict):
    return lambda pki, no: pki.blob(_claim(no), header=header)


REFUSED = {
    "foreign root": lambda pki, no: pki.foreign().blob(_claim(no)),
    "tampered payload": lambda pki, no: mds.tamper_payload(pki.blob(mds.payload(no, [entry()])), _claim(no)),
    "expired signer": lambda pki, no: pki.with_signer(expired=True).blob(_claim(no)),
    "garbage": lambda pki, no: b"\x00\xff garbage \x89PNG\r\n",
    "empty": lambda pki, no: b"",
    "only whitespace": lambda pki, no: b" \n\t\n",
    "not a JWT": lambda pki, no: json.dumps(_claim(no)).encode(),
    "two parts": lambda pki, no: b".".join(pki.blob(_claim(no)).split(b".")[:2]),
    "x5c not base64": _signed_with({"x5c": ["this is not base64!"]}),
    "x5c not a certificate": _signed_with({"x5c": ["aGVsbG8="]}),
    "x5c empty": _signed_with({"x5c": []}),
    "alg none": _signed_with({"alg": "none"}),
    "alg mismatch": _signed_with({"alg": "ES256"}),
    "payload not MDS3": lambda pki, no: pki.blob({"hello": "world", "no": no}),
    "no not a number": lambda pki, no: pki.blob({**_claim(no), "no": "one"}),
    "entries not a list": lambda pki, no: pki.blob({**_claim(no), "entries": "none"}),
}


@pytest.mark.parametrize("make_blob", REFUSED.values(), ids=REFUSED.keys())
def test_a_blob_that_does_not_verify_is_refused_and_nothing_is_stored(pki, run_import, make_blob):
    with pytest.raises(CommandError):
        run_import(make_blob(pki, 1))
    assert held() == []
    assert metadata_current() is None


@pytest.mark.parametrize("make_blob", REFUSED.values(), ids=REFUSED.keys())
def test_a_blob_that_does_not_verify_leaves_the_held_one_and_the_credentials(
    pki, run_import, make_tenant, make_api, make_blob
):
    api = make_api(make_tenant())
    run_import(pki.blob(mds.payload(1, [entry()])))
    register(api, AAGUID, "alice")

    with pytest.raises(CommandError):
        run_import(make_blob(pki, 2))

    assert held() == [1]
    assert statuses() == {("Example", "alice"): ("FIDO_CERTIFIED_L1", "Test Key 5")}


def test_a_forged_newer_blob_cannot_revoke_a_model(pki, run_import, make_tenant, make_api):
    api = make_api(make_tenant())
    run_import(pki.blob(mds.payload(1, [entry()])))
    register(api, AAGUID, "alice")

    forged = mds.tamper_payload(pki.blob(mds.payload(1, [entry()])), mds.payload(2, [compromised("REVOKED")]))
    with pytest.raises(CommandError, match="does not verify"):
        run_import(forged)

    assert held() == [1]
    assert Credential.objects.get().authenticator_status == "FIDO_CERTIFIED_L1"


def test_a_missing_file_is_refused(pki, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("mds_import", str(tmp_path / "absent.jwt"), stdout=StringIO())
    with pytest.raises(CommandError, match="cannot read"):
        call_command("mds_import", str(tmp_path), stdout=StringIO())  # a directory
    assert held() == []


def test_an_oversized_blob_is_refused(pki, run_import, monkeypatch):
    monkeypatch.setattr(metadata_service.webauthn.metadata, "MAX_BLOB_BYTES", 4096)
    blob = pki.blob(mds.payload(1, mds.entries_bulk(5)))
    assert len(blob) > 4096
    with pytest.raises(CommandError):
        run_import(blob)
    assert held() == []


@pytest.mark.parametrize("no", [4, 5], ids=["older", "equal"])
def test_an_older_or_equal_blob_is_not_newer_and_changes_nothing(pki, run_import, make_tenant, make_api, no):
    api = make_api(make_tenant())
    run_import(pki.blob(mds.payload(5, [entry(description="Held edition")])))
    register(api, AAGUID, "alice")
    payload = MetadataBlob.objects.get().payload

    with pytest.raises(CommandError, match="not newer") as caught:
        run_import(pki.blob(mds.payload(no, [compromised("USER_VERIFICATION_BYPASS", description="Stale edition")])))

    assert f"no {no}" in str(caught.value) and "no 5" in str(caught.value)
    assert held() == [5]
    assert MetadataBlob.objects.get().payload == payload
    assert statuses() == {("Example", "alice"): ("FIDO_CERTIFIED_L1", "Held edition")}
    assert register(api, AAGUID, "bob").authenticator_name == "Held edition"


# --- the metadata root -----------------------------------------------------------------------------------------------


def test_the_shipped_root_is_the_fido_alliance_root_globalsign_r3():
    certificate = x509.load_pem_x509_certificate(SHIPPED_ROOT.read_bytes())
    assert certificate.fingerprint(hashes.SHA256()).hex() == GLOBALSIGN_R3_SHA256
    assert "OU=GlobalSign Root CA - R3" in certificate.subject.rfc4514_string()
    assert certificate.subject == certificate.issuer


@pytest.mark.skipif("MDS_ROOT_CERT" in os.environ, reason="the environment replaces the default")
def test_the_shipped_root_is_the_default():
    assert Path(django_settings.MDS_ROOT_CERT).resolve() == SHIPPED_ROOT.resolve()


def test_under_the_shipped_root_a_test_blob_is_refused(db, settings, tmp_path):
    settings.MDS_ROOT_CERT = str(SHIPPED_ROOT)
    path = tmp_path / "blob.jwt"
    path.write_bytes(mds.MdsPki.create().blob(mds.payload(1, [entry()])))
    with pytest.raises(CommandError, match="does not verify"):
        call_command("mds_import", str(path), stdout=StringIO())
    assert held() == []


@pytest.mark.parametrize("content", [None, b"", b"not a certificate"], ids=["missing", "empty", "garbage"])
def test_an_unreadable_root_refuses_every_blob(pki, run_import, settings, tmp_path, content):
    root = tmp_path / "broken-root.pem"
    if content is not None:
        root.write_bytes(content)
    settings.MDS_ROOT_CERT = str(root)
    with pytest.raises(CommandError):
        run_import(pki.blob(mds.payload(1, [entry()])))
    assert held() == []


# --- statuses reach the credentials already registered ---------------------------------------------------------------


def test_an_import_updates_every_tenants_credentials_of_that_model_only(pki, run_import, make_tenant, make_api):
    first, second = make_api(make_tenant(name="First")), make_api(make_tenant(name="Second"))
    register(first, AAGUID, "alice")
    register(second, AAGUID, "bob")
    register(first, OTHER_AAGUID, "carol")
    run_import(pki.blob(mds.payload(1, [entry(), entry(OTHER_AAGUID, description="Other Key")])))
    assert statuses() == {
        ("First", "alice"): ("FIDO_CERTIFIED_L1", "Test Key 5"),
        ("Second", "bob"): ("FIDO_CERTIFIED_L1", "Test Key 5"),
        ("First", "carol"): ("FIDO_CERTIFIED_L1", "Other Key"),
    }

    output = run_import(
        pki.blob(
            mds.payload(2, [compromised("USER_KEY_REMOTE_COMPROMISE"), entry(OTHER_AAGUID, description="Other Key")])
        )
    )

    assert "2 credentials changed status (2 now compromised)" in output
    assert statuses() == {
        ("First", "alice"): ("USER_KEY_REMOTE_COMPROMISE", "Test Key 5"),
        ("Second", "bob"): ("USER_KEY_REMOTE_COMPROMISE", "Test Key 5"),
        ("First", "carol"): ("FIDO_CERTIFIED_L1", "Other Key"),
    }


def test_credentials_registered_before_any_blob_take_their_models_name_and_status(
    pki, run_import, make_tenant, make_api
):
    api = make_api(make_tenant())
    register(api, AAGUID, "alice")
    register(api, uuid.UUID(int=0), "bob")
    assert statuses() == {("Example", "alice"): ("", ""), ("Example", "bob"): ("", "")}

    assert "1 credentials changed status (0 now compromised)" in run_import(pki.blob(mds.payload(1, [entry()])))

    assert statuses() == {("Example", "alice"): ("FIDO_CERTIFIED_L1", "Test Key 5"), ("Example", "bob"): ("", "")}
    [listed] = api.get("/v1/users/alice/credentials").json()["credentials"]
    assert (listed["authenticator_status"], listed["authenticator_name"]) == ("FIDO_CERTIFIED_L1", "Test Key 5")


def test_a_renamed_model_renames_its_existing_credentials(pki, run_import, make_tenant, make_api):
    """The metadata's description names the credential: a new edition that renames the model (same status) renames
    the credentials already registered, as it names the next registration."""
    api = make_api(make_tenant())
    run_import(pki.blob(mds.payload(1, [entry(description="Test Key 5")])))
    register(api, AAGUID, "alice")

    run_import(pki.blob(mds.payload(2, [entry(description="Test Key 5 NFC")])))

    assert register(api, AAGUID, "bob").authenticator_name == "Test Key 5 NFC"
    assert Credential.objects.get(user__user_id="alice").authenticator_name == "Test Key 5 NFC"


def test_a_model_certified_again_returns_its_credentials_to_the_new_status(pki, run_import, make_tenant, make_api):
    api = make_api(make_tenant())
    register(api, AAGUID, "alice")
    run_import(pki.blob(mds.payload(1, [compromised("USER_VERIFICATION_BYPASS")])))
    assert Credential.objects.get().authenticator_status == "USER_VERIFICATION_BYPASS"

    recertified = [("USER_VERIFICATION_BYPASS", "2025-01-10"), ("FIDO_CERTIFIED_L2", "2026-01-10")]
    run_import(pki.blob(mds.payload(2, [entry(statuses=recertified)])))

    assert Credential.objects.get().authenticator_status == "FIDO_CERTIFIED_L2"


def test_a_thousand_entry_blob_imports_and_reaches_its_credentials(pki, run_import, make_tenant, make_api):
    """Not a timing test: a BLOB with a thousand entries imports, and ten credentials of models scattered through it
    take their model's name and status (half of those models reported compromised)."""
    entries = mds.entries_bulk(1000)
    positions = range(50, 1000, 100)
    for position in positions[::2]:
        aaguid = uuid.UUID(entries[position]["aaguid"])
        entries[position] = compromised("ATTESTATION_KEY_COMPROMISE", aaguid, f"Bulk Authenticator {position}")
    api = make_api(make_tenant())
    for position in positions:
        register(api, uuid.UUID(entries[position]["aaguid"]), f"user-{position}")
    register(api, uuid.uuid4(), "unlisted")

    output = run_import(pki.blob(mds.payload(1, entries)))

    assert "imported MDS BLOB no 1: 1000 entries, 10 credentials changed status (5 now compromised)" in output
    assert MetadataBlob.objects.get().entries == 1000
    found = statuses()
    for position in positions:
        status = "ATTESTATION_KEY_COMPROMISE" if position in positions[::2] else "FIDO_CERTIFIED_L1"
        assert found[("Example", f"user-{position}")] == (status, f"Bulk Authenticator {position}")
    assert found[("Example", "unlisted")] == ("", "")
    assert metadata_current().model(uuid.UUID(entries[999]["aaguid"])).description == "Bulk Authenticator 999"
