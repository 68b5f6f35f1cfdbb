"""The one check of a tenant's settings, used by the admin, the commands and the services alike.

A setting that passes here cannot make a ceremony fail with a 500: every value is parsed the way
the ceremony code will read it (PEM roots with cryptography, algorithms against the ones the
adapter verifies), normalised (lowercase rp id and AAGUIDs, no duplicates), and limits stay
inside the bounds the operator set for shared infrastructure.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from django.conf import settings

from core.errors import DomainError

from .models import AttestationPolicy, AttestationPreference, CredentialKinds, Requirement

ANDROID_ORIGIN_PREFIX = "android:apk-key-hash:"
# What passkeys/webauthn/registration.py verifies (_check_public_key): EdDSA, ES256, RS256. Any other id would be
# offered to browsers and then refuse every key made with it.
SUPPORTED_ALGORITHMS = {-8: "EdDSA", -7: "ES256", -257: "RS256"}
CHALLENGE_TIMEOUT_RANGE = (10, 3600)  # seconds; also a check constraint on the table
EVENT_RETENTION_RANGE = (1, 3660)  # days
MAX_ORIGINS = 100
MAX_AAGUIDS = 1000
MAX_ROOTS = 50
MAX_ROOTS_CHARS = 200_000
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_KEY_HASH = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LOCAL_HOSTS = ("localhost", "127.0.0.1")


class TenantSettingsInvalid(DomainError):
    """One or more settings are refused; `errors` names each field with its reasons."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(reasons)}" for field, reasons in errors.items()))


class _Invalid(ValueError):
    pass


# --- one check per setting: each returns the value to store or raises _Invalid ------------------


def _text(value: Any, *, max_length: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("Required.")
    value = value.strip()
    if len(value) > max_length or _CONTROL.search(value):
        raise _Invalid(f"At most {max_length} printable characters.")
    return value


def rp_id_validate(value: Any) -> str:
    """A domain (WebAuthn §5.1.2: an RP ID is a valid domain string), never a URL, port or IP address."""
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("Required: a domain such as example.com.")
    rp_id = value.strip().lower()
    if "/" in rp_id or ":" in rp_id or "@" in rp_id:
        raise _Invalid(f"{rp_id!r} is not a domain: give it without scheme, port or path, e.g. example.com.")
    try:
        rp_id = rp_id.encode("idna").decode("ascii")
    except UnicodeError:
        raise _Invalid(f"{rp_id!r} is not a valid domain name.") from None
    try:
        ipaddress.ip_address(rp_id)
    except ValueError:
        pass
    else:
        raise _Invalid("An RP ID is a domain name, not an IP address.")
    labels = rp_id.split(".")
    if len(rp_id) > 253 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise _Invalid(f"{rp_id!r} is not a valid domain name.")
    return rp_id


def origin_validate(origin: Any, *, web_only: bool = False) -> str:
    """An exact origin as clientDataJSON carries it: https://host[:port], http://localhost[:port],
    or (unless web_only) android:apk-key-hash:<base64url SHA-256 of the signing certificate>."""
    if not isinstance(origin, str) or not origin.strip():
        raise _Invalid("An origin cannot be empty.")
    origin = origin.strip()
    if origin.startswith(ANDROID_ORIGIN_PREFIX) and not web_only:
        if not _KEY_HASH.match(origin[len(ANDROID_ORIGIN_PREFIX) :]):
            raise _Invalid(f"{origin!r} needs a base64url key hash after {ANDROID_ORIGIN_PREFIX}")
        return origin
    shape = "https://example.com[:port]" + ("" if web_only else " or android:apk-key-hash:…")
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        raise _Invalid(f"{origin!r} is not an origin like {shape}") from None
    host = parts.hostname or ""
    scheme = parts.scheme.lower()
    secure = scheme == "https" or (scheme == "http" and host in LOCAL_HOSTS)
    if not secure or not host or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise _Invalid(f"{origin!r} is not an origin like {shape} (plain http only on localhost)")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            host = rp_id_validate(host)  # a domain, in punycode as browsers serialise it
        except _Invalid:
            raise _Invalid(f"{origin!r} has an invalid host name.") from None
    else:
        if not loopback:
            raise _Invalid(f"{origin!r}: WebAuthn needs a domain name here, not an IP address.")
    if port == {"https": 443, "http": 80}[scheme]:
        port = None  # browsers leave the default port out of the origin, so keeping it would never match
    netloc = f"[{host}]" if ":" in host else host
    return f"{scheme}://{netloc}" + (f":{port}" if port is not None else "")


def _origins(value: Any, *, web_only: bool = False, required: bool = True) -> list[str]:
    if not isinstance(value, list | tuple):
        raise _Invalid("A list of origins.")
    if required and not value:
        raise _Invalid("At least one origin is needed.")
    if len(value) > MAX_ORIGINS:
        raise _Invalid(f"At most {MAX_ORIGINS} origins.")
    return list(dict.fromkeys(origin_validate(origin, web_only=web_only) for origin in value))


def _choice(choices: type) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices.values:
            raise _Invalid(f"{value!r} is not one of {', '.join(choices.values)}.")
        return value

    return check


def _integer(low: int, high: int, unit: str = "") -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid("A whole number.")
        if not low <= value <= high:
            raise _Invalid(f"Between {low} and {high}{unit}.")
        return value

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("True or false.")
    return value


def algorithms_validate(value: Any) -> list[int]:
    """A non-empty list, in order of preference, of COSE algorithm ids the service can verify."""
    known = ", ".join(f"{alg} ({name})" for alg, name in SUPPORTED_ALGORITHMS.items())
    if not isinstance(value, list) or not value:
        raise _Invalid(f"A non-empty list of COSE algorithm ids from {known}, e.g. [-8, -7, -257].")
    # Integers only: -7.0 == -7 would pass a membership test and then be ignored by the ceremonies, and a
    # list or dict is not hashable.
    unknown = [alg for alg in value if type(alg) is not int or alg not in SUPPORTED_ALGORITHMS]
    if unknown:
        raise _Invalid(f"Unknown or unsupported algorithms {unknown}; choose from {known}.")
    if len(set(value)) != len(value):
        raise _Invalid("Each algorithm at most once.")
    return list(value)


def attestation_roots_validate(value: Any) -> str:
    """PEM certificates that parse as passkeys/webauthn/attestation.py will parse them, each a CA valid today."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if not isinstance(value, str) or len(value) > MAX_ROOTS_CHARS:
        raise _Invalid(f"PEM text of at most {MAX_ROOTS_CHARS} characters.")
    try:
        certificates = x509.load_pem_x509_certificates(value.encode())
    except ValueError:
        raise _Invalid("Not PEM X.509 certificates (-----BEGIN CERTIFICATE----- …).") from None
    if value.count("-----BEGIN") != len(certificates):
        raise _Invalid("Every PEM block must be an X.509 certificate.")
    if len(certificates) > MAX_ROOTS:
        raise _Invalid(f"At most {MAX_ROOTS} root certificates.")
    now = datetime.now(tz=UTC)
    for certificate in certificates:
        name = certificate.subject.rfc4514_string() or "a certificate without subject"
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        except (x509.ExtensionNotFound, ValueError):
            constraints = None
        if constraints is None or not constraints.ca:
            raise _Invalid(f"{name} is not a CA certificate (basicConstraints CA:TRUE).")
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise _Invalid(f"{name} is not valid today (valid {certificate.not_valid_before_utc.date()} to "
                           f"{certificate.not_valid_after_utc.date()}).")  # fmt: skip
    return value.strip() + "\n"


def allowed_aaguids_validate(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise _Invalid("A list of AAGUIDs.")
    if len(value) > MAX_AAGUIDS:
        raise _Invalid(f"At most {MAX_AAGUIDS} AAGUIDs.")
    try:
        return list(dict.fromkeys(str(uuid.UUID(str(aaguid).strip())) for aaguid in value))
    except ValueError:
        raise _Invalid("Each AAGUID is a UUID such as cb69481e-8ff7-4039-93ec-0a2729a154a8.") from None


def _rate_limit(name: str) -> Callable[[Any], int]:
    # Read at each check so operators (and tests) change the bounds without a restart of this module.
    def check(value: Any) -> int:
        low, high = getattr(settings, f"{name}_MIN"), getattr(settings, f"{name}_MAX")
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid("A whole number of requests per minute.")
        if not low <= value <= high:
            off = " (0 turns the limit off, which this service does not allow)" if value == 0 else ""
            raise _Invalid(f"Between {low} and {high} requests per minute on this service{off}.")
        return value

    return check


CHECKS: dict[str, Callable[[Any], Any]] = {
    "name": _text,
    "rp_name": _text,
    "rp_id": rp_id_validate,
    "origins": _origins,
    "allow_cross_origin": _boolean,
    "top_origins": lambda value: _origins(value, web_only=True, required=False),
    "user_verification": _choice(Requirement),
    "resident_key": _choice(Requirement),
    "attestation": _choice(AttestationPreference),
    "attestation_policy": _choice(AttestationPolicy),
    "credential_kinds": _choice(CredentialKinds),
    "attestation_roots": attestation_roots_validate,
    "algorithms": algorithms_validate,
    "challenge_timeout": _integer(*CHALLENGE_TIMEOUT_RANGE, " seconds"),
    "allowed_aaguids": allowed_aaguids_validate,
    "automatic_upgrades": _boolean,
    "rate_limit_per_key": _rate_limit("RATE_LIMIT_PER_KEY"),
    "rate_limit_per_user": _rate_limit("RATE_LIMIT_PER_USER"),
    "event_retention_days": _integer(*EVENT_RETENTION_RANGE, " days"),
}
SETTINGS = tuple(CHECKS)


def tenant_settings_validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check the settings given (a whole tenant, or the fields a form shows) and return them normalised.

    Raises TenantSettingsInvalid naming every refused field, not just the first.
    """
    unknown = sorted(set(values) - set(CHECKS))
    if unknown:
        raise TenantSettingsInvalid({field: ["Not a tenant setting."] for field in unknown})
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field, value in values.items():
        try:
            cleaned[field] = CHECKS[field](value)
        except _Invalid as error:
            errors[field] = [str(error)]
    if cleaned.get("allow_cross_origin") and "top_origins" not in errors and not cleaned.get("top_origins"):
        # Without a list every embedding page would do (a crossOrigin ceremony names the top origin).
        errors["top_origins"] = ["List the top-level origins that may embed the ceremony when cross-origin is allowed."]
    if cleaned.get("attestation_policy") == AttestationPolicy.ENFORCE and cleaned.get("attestation") == "none":
        # Browsers strip the statement when the options ask for none: enforce would refuse every registration.
        errors["attestation_policy"] = ["Enforcing needs attestation (direct or enterprise) to check."]
    if errors:
        raise TenantSettingsInvalid(errors)
    return cleaned
