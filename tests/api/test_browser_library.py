"""The browser library at /static/passkeys/passkeys.js: served to pages of any origin (a module script loaded
across origins needs CORS), and speaking the same vocabulary as POST /v1/client-events, whose lists live in
analytics.models. What it does in a browser is tested in Chromium (tests/e2e/test_client_outcomes.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from analytics.models import CLIENT_CAPABILITIES, ClientOutcome

LIBRARY = Path(settings.BASE_DIR) / "passkeys" / "static" / "passkeys" / "passkeys.js"
URL = "/static/passkeys/passkeys.js"


@pytest.fixture(scope="module")
def source() -> str:
    return LIBRARY.read_text()


def test_capability_names_are_the_services(source):
    """A report naming a capability the service does not know is refused whole: the library filters to this list."""
    declared = re.search(r"export const CLIENT_CAPABILITIES = Object\.freeze\(\[(.*?)\]\);", source, re.S)
    assert declared, "CLIENT_CAPABILITIES is declared as a frozen array literal"
    names = re.findall(r'"([^"]+)"', declared.group(1))
    assert len(names) == len(set(names))
    assert set(names) == CLIENT_CAPABILITIES


def test_outcomes_it_can_report_are_the_services_every_one(source):
    """Each outcome the library classifies into (return "…", refuse("…"), report("…")) is one the service takes,
    and each the service takes is one the library can give."""
    given = set(re.findall(r'(?:return |refuse\(|report\()"([a-z_]+)"', source))
    assert given == set(ClientOutcome.values)


def test_served_as_a_javascript_module_to_any_origin(db):
    response = Client().get(URL, HTTP_ORIGIN="https://shop.example")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    # A module script from another origin runs only when the answer allows that origin (Fetch's CORS check).
    assert response["Access-Control-Allow-Origin"] == "*"
    assert b"".join(response.streaming_content).decode() == LIBRARY.read_text()


def test_has_no_dependencies(source):
    """Imports nothing: a page can load it from the service alone, with no bundler and no third-party host."""
    assert not re.search(r"^\s*import\b|\bimport\(", source, re.M)
