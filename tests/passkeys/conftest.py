"""Fixtures of the passkeys tests: the test metadata PKI, trusted as the service's FIDO metadata root."""

from __future__ import annotations

import pytest

from tests.support import mds


@pytest.fixture
def mds_root(settings, tmp_path) -> mds.MdsPki:
    """A fresh metadata PKI whose root MDS_ROOT_CERT names (no database: for tests that manage their own)."""
    pki = mds.MdsPki.create()
    root = tmp_path / "mds-root.pem"
    root.write_bytes(pki.root_pem())
    settings.MDS_ROOT_CERT = str(root)
    return pki


@pytest.fixture
def pki(db, mds_root) -> mds.MdsPki:
    return mds_root
