"""Pages of the demo site and the JSON endpoints its JavaScript calls.

Pages render from the site's session and the service's answers; the endpoints forward a ceremony
step to the passkey service and pass its result (or its error code) back to the browser.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods, require_POST

from core.http import client_ip
from core.ratelimit import rate_limit_hit

from .client import PasskeyServiceClient, ServiceError
from .forms import PasskeyNameForm, ProfileForm, SignInForm, SignUpForm
from .models import DemoUser
from .remembered import forget, remember, remembered_cookie_sent, remembered_user
from .services import (
    DemoError,
    automatic_upgrade_finish,
    demo_configured,
    demo_user_authenticate,
    demo_user_create,
    demo_user_rename,
    login_decision_ask,
    owned_credential_check,
    passkey_request_options,
    passkey_sign_in_finish,
    service_client,
    signals_for,
    user_credentials,
)

logger = logging.getLogger(__name__)

SESSION_USER = "demo_user"
SESSION_SIGN_IN = "demo_sign_in"  # how this session signed in, and the login token's claims
SESSION_NUDGE = "demo_nudge"  # the service's answer to this session's password sign-in
# The automatic upgrade it offered with that answer: {"challenge", "offer"} (the offer is the service's
# {"public_key", "client_token"}); the account page takes the offer out when it hands it to the browser, and the
# challenge stays until the passkey is stored.
SESSION_UPGRADE = "demo_automatic_upgrade"
SESSION_KEYS = (SESSION_USER, SESSION_SIGN_IN, SESSION_NUDGE, SESSION_UPGRADE)  # the site's own keys
NUDGE_OUTCOMES = {"shown", "accepted", "dismissed"}


# --- plumbing ---


def _client(request: HttpRequest) -> PasskeyServiceClient:
    return service_client(request_base_url=request.build_absolute_uri("/"))


def _signed_in_user(request: HttpRequest) -> DemoUser | None:
    user_pk = request.session.get(SESSION_USER)
    return DemoUser.objects.filter(pk=user_pk).first() if user_pk else None


def _session_start(request: HttpRequest, user: DemoUser, *, method: str, claims: dict | None = None) -> None:
    request.session.cycle_key()  # a new session id at every sign-in: no session fixation
    rotate_token(request)  # and a new CSRF token, as django.contrib.auth.login does
    request.session[SESSION_USER] = user.pk
    request.session[SESSION_SIGN_IN] = {"method": method, "claims": claims}
    request.session.pop(SESSION_NUDGE, None)
    request.session.pop(SESSION_UPGRADE, None)


def page(view):
    """A page, or the not-configured notice until the site has its API key and the API's address."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not demo_configured():
            return render(request, "demo/not_configured.html", status=503)
        return view(request, *args, **kwargs)

    return wrapper


def signed_in_page(view):
    """A page for a signed-in user, who is passed to the view; others go to the sign-in page."""

    @page
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = _signed_in_user(request)
        if user is None:
            return redirect("demo:signin")
        return view(request, user, *args, **kwargs)

    return wrapper


def endpoint(*, signed_in: bool):
    """A JSON endpoint: the body parsed, the user found, errors as {"code", "detail"} with a 4xx."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                if not demo_configured():
                    raise DemoError("The demo has no API key configured.", code="demo_not_configured", status=503)
                body = _json_body(request)
                if signed_in:
                    user = _signed_in_user(request)
                    if user is None:
                        raise DemoError("Sign in first.", code="not_signed_in", status=401)
                    return view(request, body, user, *args, **kwargs)
                return view(request, body, *args, **kwargs)
            except DemoError as error:
                return JsonResponse({"code": error.code, "detail": error.detail}, status=error.status)
            except ServiceError as error:
                # The service's own 4xx codes go to the page; its outages become a 502 here.
                status = error.status if 400 <= error.status < 500 else 502
                return JsonResponse({"code": error.code, "detail": error.detail}, status=status)

        return wrapper

    return decorate


def _anonymous_rate_limit(request: HttpRequest) -> None:
    """The passkey sign-in endpoints need no account, so they are counted per client address: without
    this, anyone could spend a user's (or the whole tenant's) rate limit at the service."""
    decision = rate_limit_hit(
        bucket=f"demo-passkey:{client_ip(request)}", limit=settings.DEMO_PASSKEY_RATE_LIMIT_PER_IP
    )
    if not decision.allowed:
        raise DemoError(f"Too many attempts; retry in {decision.retry_after} seconds.", code="rate_limited", status=429)


def _json_body(request: HttpRequest) -> dict:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except ValueError:
        raise DemoError("The body is not JSON.", code="validation_error") from None
    if not isinstance(body, dict):
        raise DemoError("The body must be a JSON object.", code="validation_error")
    return body


def _credential_rows(credentials: list[dict]) -> list[dict]:
    return [
        {
            **c,
            "created": parse_datetime(c["created_at"]),
            "last_used": parse_datetime(c["last_used_at"]) if c["last_used_at"] else None,
        }
        for c in credentials
    ]


# --- pages ---


@page
@require_http_methods(["GET", "POST"])
def signin_page(request: HttpRequest) -> HttpResponse:
    if _signed_in_user(request) is not None:
        return redirect("demo:account")
    form = SignInForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        user = demo_user_authenticate(username=form.cleaned_data["username"], password=form.cleaned_data["password"])
        if user is not None:
            _password_sign_in(request, user, form)
            return remember(redirect("demo:account"), user)
        error = "Wrong username or password."
    return render(request, "demo/signin.html", {"form": form, "error": error}, status=400 if error else 200)


@page
@require_http_methods(["GET", "POST"])
def signup_page(request: HttpRequest) -> HttpResponse:
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = demo_user_create(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                display_name=form.cleaned_data["display_name"],
            )
        except DemoError as error:
            form.add_error("username", error.detail)
        else:
            _password_sign_in(request, user, form)
            return remember(redirect("demo:account"), user)
    return render(request, "demo/signup.html", {"form": form}, status=400 if form.errors else 200)


def _password_sign_in(request: HttpRequest, user: DemoUser, form: SignInForm) -> None:
    """Sign in, then ask the service whether to offer a passkey now (a prompt, or a silent creation where the
    browser can make one); if it fails or is slow (2 s), sign in anyway."""
    _session_start(request, user, method="password")
    try:
        answer = _client(request).sign_in_record(
            user_id=str(user.user_id),
            method="password",
            user_agent=request.headers.get("User-Agent", ""),
            platform_authenticator_available=form.platform_authenticator_available(),
            conditional_create_available=form.conditional_create_available(),
            username=user.username,
            display_name=user.name_shown,  # as registration_start names the user's passkeys
        )
    except ServiceError as error:
        logger.warning("Recording the sign-in failed: %s", error)
        return
    if answer.get("nudge"):
        request.session[SESSION_NUDGE] = answer["nudge"]
    if answer.get("automatic_upgrade"):
        offer = answer["automatic_upgrade"]
        request.session[SESSION_UPGRADE] = {"challenge": offer["public_key"]["challenge"], "offer": offer}


@signed_in_page
@require_http_methods(["GET"])
def account_page(request: HttpRequest, user: DemoUser) -> HttpResponse:
    sign_in = request.session.get(SESSION_SIGN_IN) or {}
    claims = sign_in.get("claims") or {}
    context = {
        "demo_user": user,
        "sign_in_method": sign_in.get("method"),
        "claims": json.dumps(claims, indent=2) if claims else "",
        "nudge": request.session.get(SESSION_NUDGE),
        "automatic_upgrade": _automatic_upgrade_offer(request),
    }
    return render(request, "demo/account.html", context)


def _automatic_upgrade_offer(request: HttpRequest) -> dict | None:
    """The offered creation options and their client token, handed out once: a reload must not ask the password
    manager again, since a passkey it made whose finish then failed would be one more the site does not know."""
    pending = request.session.get(SESSION_UPGRADE)
    if not pending or "offer" not in pending:
        return None
    request.session[SESSION_UPGRADE] = {"challenge": pending["challenge"]}
    return pending["offer"]


@signed_in_page
@require_http_methods(["GET"])
def settings_page(request: HttpRequest, user: DemoUser) -> HttpResponse:
    context: dict = {"demo_user": user, "credentials": [], "error": None, "signals": None}
    client = _client(request)
    try:
        listed = user_credentials(client=client, user=user)
    except ServiceError as error:
        context["error"] = f"The passkey service did not answer ({error.code})."
    else:
        context["credentials"] = _credential_rows(listed["credentials"])
        # Passkeys deleted elsewhere drop out of the passkey manager as soon as the page is seen.
        context["signals"] = signals_for(user=user, listed=listed)
    return render(request, "demo/settings.html", context)


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    for key in SESSION_KEYS:
        request.session.pop(key, None)  # the site's keys only: an admin session in this browser stays
    return redirect("demo:signin")


# --- JSON endpoints for the page's JavaScript ---


@require_POST
@endpoint(signed_in=True)
def registration_start(request: HttpRequest, body: dict, user: DemoUser) -> JsonResponse:
    started = _client(request).registration_start(
        user_id=str(user.user_id), username=user.username, display_name=user.name_shown
    )
    return JsonResponse({"public_key": started["public_key"], "client_token": started.get("client_token")})


@require_POST
@endpoint(signed_in=True)
def registration_finish(request: HttpRequest, body: dict, user: DemoUser) -> JsonResponse:
    credential = _client(request).registration_finish(
        credential=body.get("credential"), user_agent=request.headers.get("User-Agent", "")
    )
    return JsonResponse({"credential": credential}, status=201)


@require_POST
@endpoint(signed_in=True)
def automatic_upgrade(request: HttpRequest, body: dict, user: DemoUser) -> JsonResponse:
    """The passkey the browser created silently (mediation "conditional") for this session's offer."""
    offer = request.session.get(SESSION_UPGRADE)
    if not offer:
        raise DemoError("No automatic upgrade was offered in this session.", code="not_found", status=404)
    credential = automatic_upgrade_finish(
        client=_client(request),
        credential=body.get("credential"),
        offered_challenge=offer["challenge"],
        user_agent=request.headers.get("User-Agent", ""),
    )
    # The user has a passkey now: neither the offer nor the prompt is wanted any more.
    request.session.pop(SESSION_UPGRADE, None)
    request.session.pop(SESSION_NUDGE, None)
    return JsonResponse({"credential": credential}, status=201)


@require_POST
@endpoint(signed_in=False)
def authentication_start(request: HttpRequest, body: dict) -> JsonResponse:
    _anonymous_rate_limit(request)
    started = passkey_request_options(
        client=_client(request),
        username=str(body.get("username") or "")[:150],
        conditional=body.get("mediation") == "conditional",
    )
    return JsonResponse(started)


@require_http_methods(["POST", "DELETE"])
@endpoint(signed_in=False)
def login_decision(request: HttpRequest, body: dict) -> HttpResponse:
    """POST: which sign-in the page leads with, for the user who last signed in on this browser, else for an
    anonymous visitor (a name in the body is never asked about). DELETE: "Use another account", forget that user."""
    if request.method == "DELETE":
        return forget(HttpResponse(status=204))
    _anonymous_rate_limit(request)
    user = remembered_user(request)
    answer = login_decision_ask(
        client=_client(request),
        user=user,
        user_agent=request.headers.get("User-Agent", ""),
        capabilities=body.get("capabilities"),
        platform_authenticator_available=body.get("platform_authenticator_available"),
        device_credential_ids=body.get("device_credential_ids"),
    )
    response = JsonResponse(answer)
    if user is None and remembered_cookie_sent(request):
        forget(response)  # forged, expired, or an account that is gone: nothing to greet next time either
    return response


@require_POST
@endpoint(signed_in=False)
def authentication_finish(request: HttpRequest, body: dict) -> JsonResponse:
    _anonymous_rate_limit(request)
    sign_in = passkey_sign_in_finish(
        client=_client(request),
        credential=body.get("credential"),
        user_agent=request.headers.get("User-Agent", ""),
        ip=client_ip(request),
    )
    _session_start(request, sign_in.user, method="passkey", claims=sign_in.claims)
    return remember(JsonResponse({"redirect": "/demo/account/"}), sign_in.user)


@require_http_methods(["PATCH", "DELETE"])
@endpoint(signed_in=True)
def passkey_detail(request: HttpRequest, body: dict, user: DemoUser, credential_id: str) -> JsonResponse:
    client = _client(request)
    owned_credential_check(client=client, user=user, credential_id=credential_id)
    if request.method == "PATCH":
        form = PasskeyNameForm(body)
        if not form.is_valid():
            raise DemoError("A name of 1 to 200 characters, please.", code="validation_error")
        client.credential_rename(credential_id=credential_id, name=form.cleaned_data["name"])
    else:
        client.credential_delete(credential_id=credential_id)
    return HttpResponse(status=204)  # the page reloads, and the settings page signals the new state


@require_POST
@endpoint(signed_in=True)
def profile_update(request: HttpRequest, body: dict, user: DemoUser) -> JsonResponse:
    form = ProfileForm(body)
    if not form.is_valid():
        raise DemoError("A display name of at most 150 characters, please.", code="validation_error")
    demo_user_rename(user=user, display_name=form.cleaned_data["display_name"])
    return HttpResponse(status=204)


@require_POST
@endpoint(signed_in=True)
def nudge_outcome(request: HttpRequest, body: dict, user: DemoUser, nudge_id: uuid.UUID) -> JsonResponse:
    nudge = request.session.get(SESSION_NUDGE)
    if not nudge or nudge["id"] != str(nudge_id):
        raise DemoError("No such prompt in this session.", code="not_found", status=404)
    outcome = body.get("outcome")
    if outcome not in NUDGE_OUTCOMES:
        raise DemoError("outcome is shown, accepted or dismissed.", code="validation_error")
    _client(request).nudge_outcome(nudge_id=str(nudge_id), outcome=outcome)
    if outcome != "shown":
        request.session.pop(SESSION_NUDGE, None)
    return JsonResponse({"outcome": outcome})
