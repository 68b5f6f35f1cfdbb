"""Login tokens: ES256 JWTs signed by the tenant's current key, verifiable through its JWKS.

Private keys are stored encrypted by core.crypto (AES-256-GCM, the key id as associated data)
under a key derived from SIGNING_KEY_ENCRYPTION_KEY, or SECRET_KEY when that is unset.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from datetime import timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from jwt.algorithms import ECAlgorithm

from core.crypto import decrypt, encrypt
from core.encoding import b64url_encode
from tenants.audit import audit_actor, audit_record
from tenants.models import AuditAction, Tenant

from .models import SigningKey

TOKEN_LIFETIME_SECONDS = 300
# A process keeps the decrypted current key this long before asking which key is current.
KEY_CACHE_SECONDS = 60
CLOCK_SKEW_SECONDS = 60
# A retired key stays published while a token it signed can still be valid anywhere.
RETIRED_KEY_PUBLISHED = timedelta(seconds=TOKEN_LIFETIME_SECONDS + KEY_CACHE_SECONDS + CLOCK_SKEW_SECONDS)

_current_keys: dict[uuid.UUID, tuple[float, str, ec.EllipticCurvePrivateKey]] = {}
_current_keys_lock = threading.Lock()


# core.crypto's purpose for these keys: changing it strands every stored key.
ENCRYPTION_PURPOSE = b"passkey-service signing keys"


def _encrypt(private_key: ec.EllipticCurvePrivateKey, kid: str) -> bytes:
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return encrypt(der, purpose=ENCRYPTION_PURPOSE, associated_data=kid.encode())


def _decrypt(blob: bytes, kid: str) -> ec.EllipticCurvePrivateKey:
    der = decrypt(blob, purpose=ENCRYPTION_PURPOSE, associated_data=kid.encode())
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # noqa: S101 - we only ever store EC keys
    return key


def _public_jwk(private_key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    jwk = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    # RFC 7638 thumbprint as the key id: stable and derived from the key itself.
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    jwk["kid"] = b64url_encode(hashlib.sha256(canonical.encode()).digest())
    jwk.update(use="sig", alg="ES256")
    return jwk


def signing_key_rotate(*, tenant: Tenant) -> SigningKey:
    """Retire the current key (it stays published until its tokens expire) and make a new one."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = _public_jwk(private_key)
    with transaction.atomic():
        current = SigningKey.objects.filter(tenant=tenant, retired_at__isnull=True)
        old_kid = current.values_list("kid", flat=True).first()
        current.update(retired_at=timezone.now())
        key = SigningKey.objects.create(
            tenant=tenant, kid=jwk["kid"], public_jwk=jwk, private_key_encrypted=_encrypt(private_key, jwk["kid"])
        )
        audit_record(
            tenant=tenant,
            action=AuditAction.SIGNING_KEY_ROTATED,
            target=f"Signing key {key.kid}",
            changes={"kid": [old_kid, key.kid]},
        )
    with _current_keys_lock:
        _current_keys.pop(tenant.pk, None)
    return key


def _current_key(tenant: Tenant) -> tuple[str, ec.EllipticCurvePrivateKey]:
    now = time.monotonic()
    cached = _current_keys.get(tenant.pk)
    if cached and cached[0] > now:
        return cached[1], cached[2]
    row = SigningKey.objects.filter(tenant=tenant, retired_at__isnull=True).first()
    if row is None:
        try:
            # The first key is made on demand, by the service rather than by whoever's login needed it.
            with audit_actor("first signing key"):
                row = signing_key_rotate(tenant=tenant)
        except IntegrityError:  # another process made the first key at the same moment
            row = SigningKey.objects.get(tenant=tenant, retired_at__isnull=True)
    private_key = _decrypt(bytes(row.private_key_encrypted), row.kid)
    with _current_keys_lock:
        _current_keys[tenant.pk] = (now + KEY_CACHE_SECONDS, row.kid, private_key)
    return row.kid, private_key


def token_issue(
    *, tenant: Tenant, issuer: str, user_id: str, credential_id: bytes, user_verified: bool, backed_up: bool
) -> str:
    """A 5-minute ES256 JWT saying this user just signed in with this passkey, and how (for step-up)."""
    kid, private_key = _current_key(tenant)
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": user_id,
        "aud": tenant.rp_id,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECONDS,
        "jti": uuid.uuid4().hex,
        "cred": b64url_encode(credential_id),
        "amr": ["passkey"],
        # Step-up inputs for the relying party: the assertion's UV and BS flags, and when it was made.
        "uv": bool(user_verified),
        "auth_time": now,
        "cred_backed_up": bool(backed_up),
    }
    return jwt.encode(claims, private_key, algorithm="ES256", headers={"kid": kid, "typ": "JWT"})


def jwks(*, tenant: Tenant) -> dict[str, list[dict[str, str]]]:
    """The public keys whose tokens may still be valid: the current one and recently retired ones."""
    if not SigningKey.objects.filter(tenant=tenant, retired_at__isnull=True).exists():
        _current_key(tenant)  # publish a key before the first token needs it
    cutoff = timezone.now() - RETIRED_KEY_PUBLISHED
    keys = SigningKey.objects.filter(Q(retired_at__isnull=True) | Q(retired_at__gt=cutoff), tenant=tenant)
    return {"keys": [key.public_jwk for key in keys.order_by("-created_at")]}
