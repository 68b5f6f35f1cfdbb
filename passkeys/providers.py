"""Passkey provider names by AAGUID, from the community list shipped in passkeys/data/.

For naming passkeys to end users only, never for security decisions (the list's own guidance).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

AAGUID_FILE = Path(__file__).parent / "data" / "passkey-provider-aaguids.json"


@dataclass(frozen=True)
class Provider:
    name: str
    icon_light: str | None = None
    icon_dark: str | None = None


@cache
def providers_load() -> dict[uuid.UUID, Provider]:
    entries = json.loads(AAGUID_FILE.read_text())
    return {
        uuid.UUID(aaguid): Provider(name=e["name"], icon_light=e.get("icon_light"), icon_dark=e.get("icon_dark"))
        for aaguid, e in entries.items()
    }


def provider_for(aaguid: uuid.UUID) -> Provider | None:
    return providers_load().get(aaguid)


def provider_name(aaguid: uuid.UUID) -> str:
    provider = provider_for(aaguid)
    return provider.name if provider else ""
