"""Passkey users (random WebAuthn user handles), credentials, token-signing keys, challenges."""

from __future__ import annotations

from django.db import models

from tenants.models import Tenant


class PasskeyUser(models.Model):
    """The relying party's user as WebAuthn sees it: a random handle, never the RP's own id."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="passkey_users")
    user_id = models.CharField(max_length=255, help_text="The relying party's own user id.")
    handle = models.BinaryField(max_length=64, help_text="WebAuthn user.id: 32 random bytes.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user_id"], name="passkey_user_unique_user_id"),
            models.UniqueConstraint(fields=["tenant", "handle"], name="passkey_user_unique_handle"),
        ]

    def __str__(self) -> str:
        return self.user_id


class CreatedVia(models.TextChoices):
    CEREMONY = "ceremony"
    AUTOMATIC_UPGRADE = "automatic_upgrade"  # a conditional create right after another sign-in


class AttestationVerdict(models.TextChoices):
    NONE = "none"  # no statement (fmt "none")
    SELF = "self"  # signed by the credential's own key: proves nothing about the model
    VERIFIED = "verified"  # chains to a root from the metadata or the tenant's own roots
    UNTRUSTED = "untrusted"  # a certificate chain no trusted root anchors


class Credential(models.Model):
    """A registered public key credential, stored as bytes and columns."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="credentials")
    user = models.ForeignKey(PasskeyUser, on_delete=models.CASCADE, related_name="credentials")
    credential_id = models.BinaryField(max_length=1023)
    public_key = models.BinaryField(help_text="COSE_Key, CBOR-encoded.")
    algorithm = models.IntegerField()
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.UUIDField()
    provider_name = models.CharField(max_length=200, blank=True)
    attestation_format = models.CharField(max_length=32)
    backup_eligible = models.BooleanField()
    backed_up = models.BooleanField()
    user_verified = models.BooleanField()
    discoverable = models.BooleanField(
        null=True, blank=True, help_text="credProps.rk as the client reported it; empty when it did not say."
    )
    prf_enabled = models.BooleanField(default=False, help_text="The authenticator enabled the PRF extension.")
    created_via = models.CharField(max_length=20, choices=CreatedVia.choices, default=CreatedVia.CEREMONY)
    authenticator_attachment = models.CharField(
        max_length=16, blank=True, help_text="platform or cross-platform as the client reported it; empty when unknown."
    )
    attestation = models.CharField(max_length=16, choices=AttestationVerdict.choices, default=AttestationVerdict.NONE)
    authenticator_name = models.CharField(
        max_length=200, blank=True, help_text="The metadata's description of the model, else the AAGUID list's name."
    )
    authenticator_status = models.CharField(
        max_length=40, blank=True, help_text="The model's latest status report in the FIDO metadata; empty when none."
    )
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "credential_id"], name="credential_unique_per_tenant"),
            models.CheckConstraint(
                condition=models.Q(sign_count__gte=0, sign_count__lte=0xFFFFFFFF), name="credential_sign_count_range"
            ),
            models.CheckConstraint(
                condition=models.Q(backed_up=False) | models.Q(backup_eligible=True),
                name="credential_backed_up_requires_eligible",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "user"], name="credential_tenant_user"),
            models.Index(fields=["aaguid"], name="credential_aaguid"),  # a status change finds its credentials
        ]

    def __str__(self) -> str:
        return self.name or self.provider_name or "passkey"


class SigningKey(models.Model):
    """A tenant's ES256 login-token key; the private half is encrypted at rest."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="signing_keys")
    kid = models.CharField(max_length=64, unique=True)
    public_jwk = models.JSONField()
    private_key_encrypted = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True, help_text="Set when a newer key took over.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(retired_at__isnull=True), name="signing_key_one_current"
            ),
        ]

    def __str__(self) -> str:
        return self.kid


class Challenge(models.Model):
    """Pending ceremony state when no Redis is configured; consumed by one atomic DELETE."""

    key = models.CharField(max_length=200, primary_key=True)
    state = models.TextField(help_text="JSON, read back by raw SQL on every backend.")
    expires_at = models.DateTimeField(db_index=True)


class MetadataBlob(models.Model):
    """A FIDO MDS3 BLOB whose signature chained to the metadata root when it was imported; the newest `no` is the
    one in use. The verified payload is kept, so a registration reads it without re-verifying the BLOB."""

    no = models.PositiveIntegerField(unique=True, help_text="The BLOB's serial number; each import must be newer.")
    next_update = models.DateField()
    legal_header = models.TextField(blank=True)
    entries = models.PositiveIntegerField()
    payload = models.JSONField(help_text="The verified payload, as the BLOB carried it.")
    imported_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"MDS BLOB no {self.no}"
