"""The demo relying party, mounted at /demo/ when DEMO_ENABLED."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "demo"

urlpatterns = [
    path("", views.signin_page, name="signin"),
    path("signup/", views.signup_page, name="signup"),
    path("account/", views.account_page, name="account"),
    path("settings/", views.settings_page, name="settings"),
    path("signout/", views.signout, name="signout"),
    # What the page's JavaScript calls; each forwards to the passkey service with the site's API key.
    path("api/registrations/start", views.registration_start, name="registration-start"),
    path("api/registrations/finish", views.registration_finish, name="registration-finish"),
    path("api/automatic-upgrade", views.automatic_upgrade, name="automatic-upgrade"),
    path("api/login-decision", views.login_decision, name="login-decision"),
    path("api/authentications/start", views.authentication_start, name="authentication-start"),
    path("api/authentications/finish", views.authentication_finish, name="authentication-finish"),
    path("api/passkeys/<str:credential_id>", views.passkey_detail, name="passkey"),
    path("api/profile", views.profile_update, name="profile"),
    path("api/nudges/<uuid:nudge_id>/outcome", views.nudge_outcome, name="nudge-outcome"),
]
