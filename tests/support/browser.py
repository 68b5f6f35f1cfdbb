"""Debian's headless Chromium under Selenium for the browser tests, and what a failure should leave.

CI must run browser tests: there a missing browser fails them; elsewhere it skips them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


def browser_unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def chromium(*, width: int = 1280, height: int = 900) -> Iterator:
    """A fresh browser with its own profile and the console log kept (read with console_log)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        browser_unavailable(f"{CHROMIUM} or {CHROMEDRIVER} is missing: apt-get install chromium chromium-driver")
    try:
        from selenium import webdriver
    except ImportError:
        browser_unavailable("selenium is not installed: pip install -r requirements-test.txt")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="chromium-")
    for argument in (*CHROMIUM_FLAGS, f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # A given chromedriver: Selenium Manager would otherwise try to download one.
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def chromium_version() -> str:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} missing"
    try:
        answer = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=10)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{CHROMIUM} does not start: {error}"
    return answer.stdout.strip() or answer.stderr.strip()


def console_log(driver) -> list[dict]:
    """The console messages since the last call (chromedriver drains its buffer on each read)."""
    try:
        return driver.get_log("browser")
    except Exception as error:  # the browser may be the thing that failed
        return [{"level": "UNKNOWN", "message": f"could not read the console: {error!r}"}]


def screenshot(driver, name: str, *, width: int = 1280) -> Path:
    """The whole page as artifacts/screenshots/<name>.png: the window grows to hold the document."""
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        height, chrome = driver.execute_script(
            "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
        )
        driver.set_window_size(width, max(int(height) + int(chrome), 720))
    finally:
        driver.save_screenshot(str(path))
    return path
