"""The python-fido2 adapter, the only package that imports fido2: the adapter runs the ceremony.

options: creation and request options per tenant. parsing: a browser's toJSON(), parsed once. registration and
authentication: every §7.1 / §7.2 check that needs no database, in spec order, given the parsed response, the
pending ceremony and (for login) the stored credential. attestation: the registered formats and the tenant's trust.
"""

from __future__ import annotations

from .attestation import FORMATS, format_verifier, tenant_attestation_roots
from .authentication import StoredCredential, VerifiedAuthentication, authentication_verify
from .checks import CONDITIONAL
from .metadata import (
    COMPROMISED,
    MAX_BLOB_BYTES,
    Metadata,
    MetadataRefused,
    VerifiedBlob,
    metadata_blob_verify,
    metadata_root_der,
)
from .options import authentication_options, registration_options, server_for, tenant_algorithms
from .parsing import (
    AuthenticationResponse,
    ParsedResponse,
    RegistrationResponse,
    authentication_parse,
    registration_parse,
    uncached_type_hints,
)
from .registration import MAX_CREDENTIAL_ID_BYTES, VerifiedRegistration, registration_verify

__all__ = [
    "CONDITIONAL",
    "FORMATS",
    "MAX_CREDENTIAL_ID_BYTES",
    "AuthenticationResponse",
    "ParsedResponse",
    "RegistrationResponse",
    "StoredCredential",
    "COMPROMISED",
    "MAX_BLOB_BYTES",
    "Metadata",
    "MetadataRefused",
    "VerifiedBlob",
    "metadata_blob_verify",
    "metadata_root_der",
    "VerifiedAuthentication",
    "VerifiedRegistration",
    "authentication_options",
    "authentication_parse",
    "authentication_verify",
    "format_verifier",
    "registration_options",
    "registration_parse",
    "registration_verify",
    "server_for",
    "tenant_algorithms",
    "tenant_attestation_roots",
    "uncached_type_hints",
]
