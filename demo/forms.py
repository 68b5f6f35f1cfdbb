from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password


class SignInForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(max_length=1024, strip=False)
    # What the page learned from isUserVerifyingPlatformAuthenticatorAvailable(): "true", "false" or "".
    platform_authenticator = forms.CharField(required=False, max_length=5)
    # What getClientCapabilities() said of conditionalCreate (automatic passkey upgrades), likewise.
    conditional_create = forms.CharField(required=False, max_length=5)

    def platform_authenticator_available(self) -> bool | None:
        return _tristate(self.cleaned_data.get("platform_authenticator", ""))

    def conditional_create_available(self) -> bool | None:
        return _tristate(self.cleaned_data.get("conditional_create", ""))


def _tristate(value: str) -> bool | None:
    """The page's "true" or "false"; None when it could not tell (no JavaScript, an older browser)."""
    return {"true": True, "false": False}.get(value)


class SignUpForm(SignInForm):
    display_name = forms.CharField(max_length=150, required=False)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        validate_password(password)
        return password


class ProfileForm(forms.Form):
    display_name = forms.CharField(max_length=150, required=False)


class PasskeyNameForm(forms.Form):
    name = forms.CharField(max_length=200)
