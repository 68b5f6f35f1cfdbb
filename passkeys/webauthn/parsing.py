"""A browser's credential.toJSON(), checked for shape and parsed once (§7.1 steps 5-6 and 12, §7.2 steps 8-9).

python-fido2 does the decoding; this module refuses what its decoders would silently accept (characters outside
the base64url alphabet) and turns every exception hostile input raises into a validation_error.
"""

from __future__ import annotations

import functools
import json
import re
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import fido2.utils
from fido2.utils import websafe_encode
from fido2.webauthn import AuthenticationResponse, CollectedClientData, RegistrationResponse

from core.errors import ErrorCode

from ..errors import PasskeyError

__all__ = [
    "AuthenticationResponse",
    "ParsedResponse",
    "RegistrationResponse",
    "authentication_parse",
    "registration_parse",
    "uncached_type_hints",
]

# python-fido2 2.2.1 resolves the type hints of a class on every parse, uncached: about 85 % of a parse and
# verify. They never change at run time, so resolve each class once.
fido2.utils.get_type_hints = functools.cache(typing.get_type_hints)

TRANSPORTS = frozenset({"usb", "nfc", "ble", "smart-card", "hybrid", "internal"})
ATTACHMENTS = frozenset({"platform", "cross-platform"})
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class ParsedResponse:
    """A browser's credential.toJSON(), parsed once."""

    response: RegistrationResponse | AuthenticationResponse
    client_data: CollectedClientData
    client_data_members: dict[str, Any]
    transports: list[str]
    attachment: str | None = None  # authenticatorAttachment, when the client said platform or cross-platform
    discoverable: bool | None = None  # clientExtensionResults.credProps.rk, when the client said
    prf_enabled: bool = False  # clientExtensionResults.prf.enabled

    @property
    def challenge(self) -> str:
        return websafe_encode(self.client_data.challenge)

    @property
    def raw_id(self) -> bytes:
        return self.response.raw_id

    @property
    def user_handle(self) -> bytes | None:
        """An assertion's userHandle (None when absent); registrations carry none."""
        return getattr(self.response.response, "user_handle", None)


def _fail(detail: str) -> PasskeyError:
    return PasskeyError(detail, code=ErrorCode.VALIDATION_ERROR)


def _require_b64url(container: Mapping[str, Any], name: str, *, optional: bool = False) -> None:
    # The library's decoder silently drops characters outside the alphabet; reject them instead.
    value = container.get(name)
    if value is None and optional:
        return
    if not isinstance(value, str) or not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise _fail(f"{name} must be base64url without padding")


def _parse(data: Any, cls: type[RegistrationResponse] | type[AuthenticationResponse], binary: tuple[str, ...]):
    if not isinstance(data, Mapping) or not isinstance(data.get("response"), Mapping):
        raise _fail("credential must be the object credential.toJSON() returns")
    if data.get("type") != "public-key":
        raise _fail("credential type must be public-key")
    _require_b64url(data, "id")
    _require_b64url(data, "rawId")
    if data["id"] != data["rawId"]:
        raise _fail("id must equal rawId")
    response = data["response"]
    for name in binary:
        _require_b64url(response, name, optional=name == "userHandle")
    try:
        parsed = cls.from_dict(data)
        client_data = parsed.response.client_data
        members = json.loads(client_data)  # JSONtext and C
    except Exception as exc:  # the library raises many types on hostile input; all are bad input
        raise _fail(f"credential could not be parsed: {exc}") from None
    if not isinstance(members.get("type"), str) or not isinstance(members.get("origin"), str):
        raise _fail("clientDataJSON must carry type and origin strings")
    transports = response.get("transports")
    transports = (
        [t for t in transports if isinstance(t, str) and t in TRANSPORTS] if isinstance(transports, list) else []
    )
    attachment = data.get("authenticatorAttachment")
    outputs = _client_outputs(data.get("clientExtensionResults"))
    return ParsedResponse(
        response=parsed,
        client_data=client_data,
        client_data_members=members,
        transports=transports[:8],
        attachment=attachment if isinstance(attachment, str) and attachment in ATTACHMENTS else None,
        discoverable=outputs.get("rk"),
        prf_enabled=outputs.get("prf_enabled") is True,
    )


def _client_outputs(results: Any) -> dict[str, bool]:
    """The two client extension outputs the service keeps: credProps.rk and prf.enabled, when they are booleans.

    Everything else is dropped here, above all prf.results: PRF outputs are the relying party's secrets.
    """
    if not isinstance(results, Mapping):
        return {}
    outputs = {}
    cred_props, prf = results.get("credProps"), results.get("prf")
    if isinstance(cred_props, Mapping) and isinstance(cred_props.get("rk"), bool):
        outputs["rk"] = cred_props["rk"]
    if isinstance(prf, Mapping) and isinstance(prf.get("enabled"), bool):
        outputs["prf_enabled"] = prf["enabled"]
    return outputs


def registration_parse(data: Any) -> ParsedResponse:
    """RegistrationResponseJSON; the attestation object is CBOR-decoded here (§7.1 step 12)."""
    return _parse(data, RegistrationResponse, ("clientDataJSON", "attestationObject"))


def authentication_parse(data: Any) -> ParsedResponse:
    """AuthenticationResponseJSON."""
    return _parse(data, AuthenticationResponse, ("clientDataJSON", "authenticatorData", "signature", "userHandle"))


@contextmanager
def uncached_type_hints() -> Iterator[None]:
    """python-fido2 as shipped, for the benchmark that measures what the cache saves."""
    cached = fido2.utils.get_type_hints
    fido2.utils.get_type_hints = typing.get_type_hints
    try:
        yield
    finally:
        fido2.utils.get_type_hints = cached
