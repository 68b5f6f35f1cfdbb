"""Which way imports point: core is the floor (no DRF, no app above it); the demo talks to the service
only over HTTP, with core's plumbing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICE_APPS = {"api", "tenants", "passkeys", "analytics", "webhooks"}


def imported_top_packages(app: str) -> dict[str, set[str]]:
    """{module path: top-level packages it imports}, absolute imports only (relative ones stay inside)."""
    found = {}
    for path in sorted((ROOT / app).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("app, forbidden", [
    ("demo", SERVICE_APPS),
    ("core", SERVICE_APPS | {"demo", "rest_framework", "drf_spectacular", "fido2"}),
])
def test_an_app_imports_nothing_above_it(app, forbidden):
    offending = {path: sorted(names & forbidden) for path, names in imported_top_packages(app).items()}
    assert not {path: names for path, names in offending.items() if names}
