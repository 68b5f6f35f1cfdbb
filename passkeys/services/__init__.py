"""Writes of the passkeys domain: ceremonies and credential management."""

from .authentication import AuthenticationResult, authentication_finish, authentication_start
from .credentials import credential_delete, credential_import, credential_rename, user_delete
from .registration import registration_finish, registration_start
from .started import StartedCeremony

__all__ = [
    "AuthenticationResult",
    "authentication_finish",
    "authentication_start",
    "credential_delete",
    "credential_import",
    "credential_rename",
    "registration_finish",
    "registration_start",
    "StartedCeremony",
    "user_delete",
]
