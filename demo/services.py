"""The demo site's own logic: its users and passwords, and its side of each passkey ceremony.

Everything passkey-related goes through PasskeyServiceClient over HTTP, as in any relying party.
"""

from __future__ import annotations

import hmac
import json
import uuid
from dataclasses import dataclass
from functools import cache

import jwt
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError

from core.encoding import b64url_decode, b64url_encode
from core.errors import DomainError

from .client import PasskeyServiceClient, ServiceError
from .models import DemoUser

TOKEN_LEEWAY_SECONDS = 30
AUTOMATIC_UPGRADE_NAME = "Created automatically"  # what the passkey list calls a passkey made without a prompt


class DemoError(Exception):
    def __init__(self, detail: str, *, code: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail, self.code, self.status = detail, code, status


@dataclass(frozen=True)
class PasskeySignIn:
    user: DemoUser
    claims: dict  # the verified login token's claims


def demo_configured() -> bool:
    # Outside development the API's address must be configured: a Host header, even one that passed
    # a wildcard ALLOWED_HOSTS, must never decide where the API key goes or whose JWKS is trusted.
    has_address = settings.DEBUG or settings.DEMO_API_URL or settings.SERVICE_URL
    return bool(settings.DEMO_API_KEY and settings.DEMO_TENANT_ID and has_address)


def service_client(*, request_base_url: str) -> PasskeyServiceClient:
    """The configured service, else (in development only) this very server at the address the browser used."""
    base_url = settings.DEMO_API_URL or settings.SERVICE_URL or request_base_url
    return PasskeyServiceClient(base_url=base_url, api_key=settings.DEMO_API_KEY, tenant_id=settings.DEMO_TENANT_ID)


def _normalized(username: str) -> str:
    return username.strip().lower()


# --- the site's own accounts ---


def demo_user_create(*, username: str, password: str, display_name: str = "") -> DemoUser:
    try:
        return DemoUser.objects.create(
            username=_normalized(username), display_name=display_name.strip(), password=make_password(password)
        )
    except IntegrityError:
        raise DemoError("That username is taken.", code="username_taken") from None


def demo_user_authenticate(*, username: str, password: str) -> DemoUser | None:
    user = demo_user_by_username(username)
    if user is None:
        make_password(password)  # as slow as a wrong password, so timing does not reveal usernames
        return None
    return user if check_password(password, user.password) else None


def demo_user_by_username(username: str) -> DemoUser | None:
    return DemoUser.objects.filter(username=_normalized(username)).first()


def demo_user_rename(*, user: DemoUser, display_name: str) -> DemoUser:
    user.display_name = display_name.strip()
    user.save(update_fields=["display_name"])
    return user


# --- passkeys, through the service ---


def passkey_request_options(*, client: PasskeyServiceClient, username: str = "", conditional: bool = False) -> dict:
    """The start's answer for the page: options for navigator.credentials.get() (`public_key`), bound to the
    named account's passkeys, else discoverable, and the `client_token` the page's passkeys.js reports with.

    Autofill (conditional) requests are always discoverable: nobody has typed a name yet.
    """
    if conditional or not username:
        started = client.authentication_start(mediation="conditional" if conditional else None)
        return {"public_key": started["public_key"], "client_token": started.get("client_token")}
    user = demo_user_by_username(username)
    started = client.authentication_start(user_id=str(user.user_id) if user else None)
    options = started["public_key"]
    if not options.get("allowCredentials"):
        # WebAuthn §14.6.2: an unknown account, or one without passkeys, answers like one with a passkey,
        # so the options do not tell who has an account here.
        options["allowCredentials"] = [
            {"type": "public-key", "id": _imaginary_credential_id(username), "transports": ["internal", "hybrid"]}
        ]
    return {"public_key": options, "client_token": started.get("client_token")}


def login_decision_ask(
    *,
    client: PasskeyServiceClient,
    user: DemoUser | None,
    user_agent: str,
    capabilities: object = None,
    platform_authenticator_available: object = None,
    device_credential_ids: object = None,
) -> dict:
    """Which sign-in the page leads with, as the service decides it, for the page: the decision, its reason, the
    start it made (passed through: the one-tap button and autofill run it, the usual finish completes it) and the
    name to greet `user` by.

    `user` is the account this browser last signed in to, or None: never a name someone typed. A decision says
    whether an account has passkeys, which the sign-in options hide from anonymous visitors (§14.6.2, above); the
    browser that signed in as the user already knows. The ids of passkeys used on this device go along only with
    that user, the one thing they are compared with.
    """
    answer = client.login_decision(
        user_id=str(user.user_id) if user else None,
        user_agent=user_agent,
        capabilities=capabilities if isinstance(capabilities, dict) else None,
        platform_authenticator_available=(
            platform_authenticator_available if isinstance(platform_authenticator_available, bool) else None
        ),
        device_credential_ids=device_credential_ids if user and isinstance(device_credential_ids, list) else None,
    )
    return {
        "decision": answer["decision"],
        "reason": answer["reason"],
        "public_key": answer.get("public_key"),
        "client_token": answer.get("client_token"),
        "user": {"name": user.name_shown} if user else None,
    }


def _imaginary_credential_id(username: str) -> str:
    """The same 32 bytes for a name each time (a random one per request would give it away)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), b"demo-credential:" + _normalized(username).encode(), "sha256")
    return b64url_encode(digest.digest())


def automatic_upgrade_finish(
    *, client: PasskeyServiceClient, credential: dict, offered_challenge: str, user_agent: str
) -> dict:
    """Store the passkey the browser made silently for the offer of this session's password sign-in.

    Only the credential that answers that offer's challenge is passed on, so this endpoint finishes nothing else
    under the automatic upgrade's name; the service checks the rest (WebAuthn L3 §7.1, UP not required).
    """
    if _client_data_challenge(credential) != offered_challenge:
        raise DemoError("This passkey does not answer the automatic upgrade offered here.", code="validation_error")
    return client.registration_finish(credential=credential, user_agent=user_agent, name=AUTOMATIC_UPGRADE_NAME)


def _client_data_challenge(credential: object) -> str | None:
    """The challenge in a RegistrationResponseJSON's clientDataJSON, or None when it is not one."""
    try:
        client_data = json.loads(b64url_decode(credential["response"]["clientDataJSON"]))
        return client_data.get("challenge")
    except (KeyError, TypeError, AttributeError, ValueError, DomainError):
        return None


def passkey_sign_in_finish(
    *, client: PasskeyServiceClient, credential: dict, user_agent: str, ip: str
) -> PasskeySignIn:
    """Let the service verify the assertion, check its login token offline, and find our user."""
    result = client.authentication_finish(credential=credential, user_agent=user_agent, ip=ip)
    claims = login_token_verify(client=client, token=result["token"])
    user = demo_user_by_user_id(claims["sub"])
    if user is None:
        raise DemoError("This passkey belongs to an account that no longer exists.", code="account_not_found")
    return PasskeySignIn(user=user, claims=claims)


def demo_user_by_user_id(user_id: str) -> DemoUser | None:
    """Ours are UUIDs; the tenant may hold other users too (scripts/serve seeds some)."""
    try:
        return DemoUser.objects.filter(user_id=uuid.UUID(user_id)).first()
    except ValueError:
        return None


def login_token_verify(*, client: PasskeyServiceClient, token: str) -> dict:
    """The token's signature against the tenant's JWKS (keys cached), and its issuer, audience and expiry."""
    issuer_base = settings.SERVICE_URL or client.base_url
    try:
        signing_key = _jwks_client(client.jwks_url).get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            signing_key.key,
            algorithms=["ES256"],
            audience=settings.DEMO_RP_ID,
            issuer=f"{issuer_base}/v1/tenants/{client.tenant_id}",
            leeway=TOKEN_LEEWAY_SECONDS,
            options={"require": ["sub", "exp", "iat", "iss", "aud", "jti"]},
        )
    except jwt.PyJWKClientConnectionError as error:
        raise ServiceError(503, "service_unreachable", f"The service's JWKS did not answer: {error}") from None
    except jwt.PyJWTError as error:
        raise DemoError(f"The login token did not verify: {error}", code="token_invalid") from None


@cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300)


def user_credentials(*, client: PasskeyServiceClient, user: DemoUser) -> dict:
    return client.credentials_list(user_id=str(user.user_id))


def owned_credential_check(*, client: PasskeyServiceClient, user: DemoUser, credential_id: str) -> None:
    """The service's credential endpoints act tenant-wide: the site checks the passkey is this user's."""
    listed = user_credentials(client=client, user=user)
    if credential_id not in {c["id"] for c in listed["credentials"]}:
        raise DemoError("No such passkey on your account.", code="not_found", status=404)


def signals_for(*, user: DemoUser, listed: dict) -> dict | None:
    """What the browser's signalAllAcceptedCredentials and signalCurrentUserDetails need, from the
    service's list of the user's passkeys; None before the user's first ceremony (no user handle)."""
    if listed["user_handle"] is None:
        return None
    return {
        "rpId": listed["rp_id"],
        "userId": listed["user_handle"],
        "allAcceptedCredentialIds": [c["id"] for c in listed["credentials"]],
        "name": user.username,
        "displayName": user.name_shown,
    }
