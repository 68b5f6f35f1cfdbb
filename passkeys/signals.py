"""The seam through which ceremonies announce what happened; analytics listens, passkeys never imports it.

Every signal is sent with `tenant`, `ceremony` ("registration" or "authentication") and
`user_id` (None when not yet known), plus:
- ceremony_started: `mediation` ("conditional", "immediate" or None), `ceremony_ref` (the name of the
  ceremony in its events and client reports: challenges.ceremony_ref);
- ceremony_succeeded: `credential` (the stored Credential), `user_agent`, `ip`, `mediation` (the started
  ceremony's), `attachment` (the response's authenticatorAttachment, or None), `ceremony_ref`;
- ceremony_failed: `code` (the contract's error code), `credential` (when one was identified),
  `user_agent`, `ip`.
"""

from django.dispatch import Signal

ceremony_started = Signal()
ceremony_succeeded = Signal()
ceremony_failed = Signal()

# Sent with `tenant` and `user_id` after a user's passkey data was erased, so that every app
# erases what it holds about that user too.
user_erased = Signal()

# Sent with `tenant` and `credential` (the deleted Credential, its owner loaded) after a deletion.
credential_deleted = Signal()

# Sent with `tenant`, `aaguid`, `status`, `authenticator_name` and `credentials` (the tenant's credentials of that
# model, owners loaded) when an imported FIDO metadata BLOB newly reports the model compromised.
authenticator_status_changed = Signal()
