"""The demo relying party's security rules, against the live server, PostgreSQL and Redis: its offline
check of the service's login tokens (forgeries built with PyJWT from a token the service really issued),
session and CSRF token renewal at sign-in, per-IP rate limits, and sign-in options that do not tell
who has an account."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from copy import copy
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.sessions.backends.db import SessionStore

from demo.client import PasskeyServiceClient, ServiceError
from demo.models import DemoUser
from demo.services import TOKEN_LEEWAY_SECONDS, DemoError, demo_user_create, login_token_verify
from passkeys.models import SigningKey
from passkeys.tokens import _decrypt
from tests.demo.test_demo_site import (
    APPLE_PASSWORDS,
    CLOSED_PORT_URL,
    PASSWORD,
    DemoBrowser,
    assert_error,
    assert_redirect,
    assert_signed_out,
    demo_user,
)
from tests.support.api import PasskeyApi
from tests.support.authenticator import SoftAuthenticator, b64url_decode, b64url_encode

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's threads need committed rows


@pytest.fixture
def new_visitor(live_server, demo_api):
    return lambda: DemoBrowser(live_server.url)


@pytest.fixture
def visitor(new_visitor) -> DemoBrowser:
    return new_visitor()


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator(aaguid=APPLE_PASSWORDS)


@pytest.fixture
def issued(live_server, demo_api, authenticator) -> SimpleNamespace:
    """A login token the service issued over HTTP, after a real ceremony of user "u1" on the demo tenant."""
    client = PasskeyServiceClient(base_url=live_server.url, api_key=demo_api.key, tenant_id=str(demo_api.tenant.pk))
    options = client.registration_start(user_id="u1", username="u1")["public_key"]
    client.registration_finish(credential=authenticator.create(options, origin=live_server.url))
    options = client.authentication_start(user_id="u1")["public_key"]
    token = client.authentication_finish(credential=authenticator.get(options, origin=live_server.url))["token"]
    row = SigningKey.objects.get(tenant=demo_api.tenant, retired_at__isnull=True)  # as passkeys.tokens loads it
    key = _decrypt(bytes(row.private_key_encrypted), row.kid)
    assert jwt.get_unverified_header(token)["kid"] == row.kid
    claims = jwt.decode(token, options={"verify_signature": False})
    return SimpleNamespace(client=client, token=token, claims=claims, kid=row.kid, key=key)


def es256(claims: dict, key, kid: str) -> str:
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


def hs256(claims: dict, secret: bytes, kid: str) -> str:
    """By hand: PyJWT itself refuses a PEM public key as an HMAC secret."""
    header = {"alg": "HS256", "kid": kid, "typ": "JWT"}
    signing_input = ".".join(b64url_encode(json.dumps(part).encode()) for part in (header, claims))
    return f"{signing_input}.{b64url_encode(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


# Each forgery is the issued token re-signed with exactly one thing changed.
FORGERIES = {
    "wrong_iss": lambda t: es256({**t.claims, "iss": f"{t.client.base_url}/v1/tenants/{uuid.uuid4()}"}, t.key, t.kid),
    "wrong_aud": lambda t: es256({**t.claims, "aud": "shop.example"}, t.key, t.kid),
    "expired": lambda t: es256({**t.claims, "exp": int(time.time()) - TOKEN_LEEWAY_SECONDS - 5}, t.key, t.kid),
    "no_jti": lambda t: es256({k: v for k, v in t.claims.items() if k != "jti"}, t.key, t.kid),
    "other_key_same_kid": lambda t: es256(t.claims, ec.generate_private_key(ec.SECP256R1()), t.kid),
    "hs256_public_key_secret": lambda t: hs256(t.claims, public_pem(t.key), t.kid),
    "alg_none": lambda t: jwt.encode(t.claims, None, algorithm="none", headers={"kid": t.kid}),
}


# --- the login token, verified offline against the JWKS fetched over HTTP ---


def test_login_token_verify_accepts_the_issued_token_and_its_re_signed_copy(issued):
    assert login_token_verify(client=issued.client, token=issued.token) == issued.claims
    assert issued.claims["sub"] == "u1"
    copied = es256(issued.claims, issued.key, issued.kid)  # how the forgeries below are built
    assert login_token_verify(client=issued.client, token=copied) == issued.claims
    within_leeway = {**issued.claims, "exp": int(time.time()) - TOKEN_LEEWAY_SECONDS + 10}
    assert login_token_verify(client=issued.client, token=es256(within_leeway, issued.key, issued.kid))


@pytest.mark.parametrize("forgery", FORGERIES)
def test_login_token_verify_refuses_a_forged_token(issued, forgery):
    token = FORGERIES[forgery](issued)
    assert token != issued.token
    with pytest.raises(DemoError) as refused:
        login_token_verify(client=issued.client, token=token)
    assert refused.value.code == "token_invalid"


def test_login_token_verify_with_the_jwks_unreachable_is_a_service_error(issued, demo_api):
    client = PasskeyServiceClient(base_url=CLOSED_PORT_URL, api_key=demo_api.key, tenant_id=str(demo_api.tenant.pk))
    with pytest.raises(ServiceError) as raised:  # a DemoError (token_invalid) would escape this and fail
        login_token_verify(client=client, token=issued.token)
    assert raised.value.code == "service_unreachable"


# --- session and CSRF token renewal at each sign-in ---


def enter(visitor: DemoBrowser, how: str, demo_api: PasskeyApi, authenticator: SoftAuthenticator, live_server) -> None:
    """Alice signs in (her account made beforehand) or signs up; she is signed in afterwards."""
    if how == "sign_up":
        assert_redirect(visitor.sign_up("alice"), "/demo/account/")
        return
    user = demo_user_create(username="alice", password=PASSWORD)
    if how == "password":
        assert_redirect(visitor.sign_in("alice"), "/demo/account/")
        return
    registered = demo_api.register(authenticator, str(user.user_id), origin=live_server.url)
    assert registered.status_code == 201, registered.content
    _, page = visitor.passkey_sign_in(authenticator)
    assert (page.status, page.json()) == (200, {"redirect": "/demo/account/"})


WAYS_IN = ["password", "sign_up", "passkey"]


@pytest.mark.parametrize("how", WAYS_IN)
def test_sign_in_does_not_keep_a_planted_session_id(visitor, demo_api, authenticator, live_server, how):
    planted = SessionStore()
    planted["planted_by"] = "mallory"
    planted.save()
    visitor.get("/demo/")
    cookie = copy(next(c for c in visitor.jar if c.name == "csrftoken"))  # same domain and path
    cookie.name, cookie.value = "sessionid", planted.session_key
    visitor.jar.set_cookie(cookie)
    enter(visitor, how, demo_api, authenticator, live_server)
    session_id = visitor.cookie("sessionid")
    assert session_id not in (None, planted.session_key)
    assert SessionStore(session_id).load()["demo_user"] == demo_user("alice").pk
    assert not SessionStore().exists(planted.session_key)  # the server saw it, and dropped it


@pytest.mark.parametrize("how", WAYS_IN)
def test_sign_in_rotates_the_csrf_token(visitor, demo_api, authenticator, live_server, how):
    visitor.get("/demo/signup/" if how == "sign_up" else "/demo/")
    before = visitor.csrf_token()
    enter(visitor, how, demo_api, authenticator, live_server)
    assert visitor.csrf_token() != before


# --- rate limits per client IP ---


@pytest.mark.parametrize("form", ["sign_in", "sign_up"])
def test_password_forms_answer_429_past_the_login_limit(visitor, settings, form):
    demo_user_create(username="alice", password=PASSWORD)
    settings.RATE_LIMIT_LOGIN_PER_IP = 3
    for _ in range(3):  # a wrong password; a taken username
        page = visitor.sign_in("alice", "wrong guess") if form == "sign_in" else visitor.sign_up("alice")
        assert page.status == 400, page.text
    page = visitor.sign_in("alice") if form == "sign_in" else visitor.sign_up("bob")  # right this time
    assert_error(page, 429, "rate_limited")
    assert_signed_out(visitor)
    assert list(DemoUser.objects.values_list("username", flat=True)) == ["alice"]


@pytest.mark.parametrize(("path", "body", "status"), [("start", {}, 200), ("finish", {"credential": {}}, 400)])
def test_anonymous_passkey_endpoints_answer_429_past_their_limit(visitor, settings, path, body, status):
    settings.DEMO_PASSKEY_RATE_LIMIT_PER_IP = 3
    visitor.get("/demo/")
    for _ in range(3):
        page = visitor.post_json(f"/demo/api/authentications/{path}", body)
        assert page.status == status, page.text
    assert_error(visitor.post_json(f"/demo/api/authentications/{path}", body), 429, "rate_limited")


# --- what the sign-in options and tokens say about accounts ---


def allowed_credentials(visitor: DemoBrowser, username: str) -> list[dict]:
    page = visitor.post_json("/demo/api/authentications/start", {"username": username})
    assert page.status == 200, page.text
    return page.json()["public_key"].get("allowCredentials") or []


def test_passkey_options_for_a_username_do_not_tell_who_has_an_account(visitor, demo_api, authenticator, live_server):
    alice = demo_user_create(username="alice", password=PASSWORD)
    demo_user_create(username="bob", password=PASSWORD)  # an account without passkeys
    registered = demo_api.register(authenticator, str(alice.user_id), origin=live_server.url)
    assert registered.status_code == 201, registered.content
    visitor.get("/demo/")
    [real] = allowed_credentials(visitor, "alice")
    assert real["id"] == registered.json()["credential"]["id"]
    imaginary = {}
    for name in ("bob", "nobody", "somebody"):
        entries = allowed_credentials(visitor, name)
        assert len(entries) == 1, (name, entries)
        entry = imaginary[name] = entries[0]
        assert set(entry) == set(real) and entry["type"] == "public-key", entry
        assert len(b64url_decode(entry["id"])) == 32 and isinstance(entry["transports"], list), entry
        assert allowed_credentials(visitor, name) == entries  # the same each time: a new one would give it away
    ids = {real["id"]} | {entry["id"] for entry in imaginary.values()}
    assert len(ids) == 4  # one per name, none of them alice's


def test_passkey_of_a_user_the_demo_does_not_have_answers_account_not_found(
    visitor, demo_api, authenticator, live_server
):
    registered = demo_api.register(authenticator, "u1", origin=live_server.url)  # straight through /v1
    assert registered.status_code == 201, registered.content
    _, page = visitor.passkey_sign_in(authenticator)
    assert_error(page, 400, "account_not_found")
    assert_signed_out(visitor)
