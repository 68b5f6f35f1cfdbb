"""Where a passkey can be used without another device: the rule nudges decide by and the demo seed simulates."""

from __future__ import annotations

# Where a synced passkey from these providers can be used without another device.
PROVIDER_PLATFORMS = {
    "iCloud Keychain": {"iOS", "Mac OS X"},
    "Apple Passwords": {"iOS", "Mac OS X"},
    "Google Password Manager": {"Android", "Chrome OS", "Windows", "Mac OS X", "Linux", "Ubuntu"},
    "Windows Hello": {"Windows"},
}


def passkey_usable_on(
    *, os_family: str, registered_os: str, backed_up: bool, provider: str, attachment: str = ""
) -> bool:
    """Whether a passkey made on `registered_os` ("" when unknown) signs in on `os_family` by itself.

    A passkey registered from another device (`attachment` "cross-platform": a phone over hybrid, a security key)
    was not made on the browser's platform, whatever that browser's OS was.
    """
    if attachment == "cross-platform":
        registered_os = ""
    if registered_os and registered_os == os_family:
        return True
    if not backed_up:
        return False  # a device-bound passkey works where it was made (or through hybrid, which we do not count)
    platforms = PROVIDER_PLATFORMS.get(provider)
    return os_family in platforms if platforms is not None else bool(provider)  # third-party managers sync anywhere
