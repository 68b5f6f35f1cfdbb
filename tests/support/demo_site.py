"""What a person does on the demo site at /demo/, in a real browser: each step waits for the page to
answer, the way a person would, and fails with what the page said when it does not."""

from __future__ import annotations

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

WAIT_SECONDS = 15
PASSWORD = "correct horse battery staple"
# A browser without passkey autofill, so that only the sign-in button asks for a passkey: Chromium's
# virtual authenticator would otherwise answer the page's conditional request as soon as it loads.
WITHOUT_AUTOFILL = "PublicKeyCredential.isConditionalMediationAvailable = async () => false;"
# A browser from before WebAuthn Level 3's JSON helpers: the demo's fallback must carry the ceremony.
WITHOUT_JSON_HELPERS = """
delete PublicKeyCredential.parseCreationOptionsFromJSON;
delete PublicKeyCredential.parseRequestOptionsFromJSON;
delete PublicKeyCredential.prototype.toJSON;
"""


class DemoSite:
    def __init__(self, driver, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    # --- looking ---

    def open(self, path: str = "/demo/") -> None:
        self.driver.get(self.base_url + path)
        self.wait_until(lambda d: d.execute_script("return document.readyState") == "complete")

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str = "main") -> str:
        return self.find(css).text

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.base_url).split("?")[0]

    def wait_until(self, condition, what: str = "") -> None:
        try:
            WebDriverWait(self.driver, WAIT_SECONDS).until(condition)
        except TimeoutException:
            raise AssertionError(
                f"waited {WAIT_SECONDS} s for {what or condition} on {self.path}: {self.message()!r}"
            ) from None

    def wait_for_path(self, path: str) -> None:
        self.wait_until(lambda d: self.path == path, f"the page {path}")
        self.wait_until(lambda d: d.execute_script("return document.readyState") == "complete")

    def reloaded_after(self, action) -> None:
        """Do the action and wait for the next document: a message left from the last one does not count."""
        self.driver.execute_script("window.beforeReload = true")
        action()
        fresh = "return window.beforeReload === undefined && document.readyState === 'complete'"
        self.wait_until(lambda d: d.execute_script(fresh), "the page to load again")

    def message(self) -> str:
        """The page's message box (errors and confirmations), or "" while hidden."""
        boxes = self.find_all("#message")
        return boxes[0].text if boxes and boxes[0].is_displayed() else ""

    def wait_for_message(self, containing: str) -> str:
        self.wait_until(lambda d: containing in self.message(), f"a message with {containing!r}")
        return self.message()

    # --- doing ---

    def emulate(self, script: str) -> None:
        """Run the script before the page's own in every document from now on (WITHOUT_… above)."""
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})

    def sign_up(self, username: str, password: str, display_name: str = "") -> None:
        self.open("/demo/signup/")
        self._platform_check_done()
        self.find("#username").send_keys(username)
        self.find("#display-name").send_keys(display_name)
        self.find("#password").send_keys(password)
        self.find("#signup").click()
        self.wait_for_path("/demo/account/")

    def sign_in_with_password(self, username: str, password: str) -> None:
        self.open("/demo/")
        self._platform_check_done()
        self.find("#username").send_keys(username)
        self.find("#password").send_keys(password)
        self.find("#password-signin").click()
        self.wait_for_path("/demo/account/")

    def _platform_check_done(self) -> None:
        """The page fills in what isUserVerifyingPlatformAuthenticatorAvailable() said before the form posts."""
        self.wait_until(lambda d: self.find("#platform-authenticator").get_attribute("value") != "", "the check")

    def click_passkey_sign_in(self, username: str = "") -> None:
        if username:
            self.find("#username").send_keys(username)
        self.find("#passkey-signin").click()

    def sign_out(self) -> None:
        """Lands on the sign-in page, where passkey autofill may sign the user straight back in."""
        self.reloaded_after(self.find("#signout").click)

    def create_passkey_on_settings(self) -> None:
        self.open("/demo/settings/")
        self.reloaded_after(self.find("#create-passkey").click)
        self.wait_for_message("Passkey created.")

    def passkey_items(self) -> list:
        return self.find_all("li.passkey")

    def passkey_item(self, credential_id: str):
        return self.find(f'li.passkey[data-credential-id="{credential_id}"]')

    def rename_passkey(self, credential_id: str, name: str) -> None:
        item = self.passkey_item(credential_id)
        item.find_element(By.CSS_SELECTOR, ".rename-start").click()
        field = item.find_element(By.CSS_SELECTOR, "form.rename input[name=name]")
        field.clear()
        field.send_keys(name)
        self.reloaded_after(item.find_element(By.CSS_SELECTOR, "form.rename button[type=submit]").click)
        self.wait_for_message("Passkey renamed.")

    def delete_passkey(self, credential_id: str) -> None:
        def confirmed_delete() -> None:
            self.passkey_item(credential_id).find_element(By.CSS_SELECTOR, ".delete").click()
            WebDriverWait(self.driver, WAIT_SECONDS).until(expected_conditions.alert_is_present())
            self.driver.switch_to.alert.accept()  # "Delete the passkey …?"

        self.reloaded_after(confirmed_delete)
        self.wait_for_message("Passkey deleted.")

    def change_display_name(self, display_name: str) -> None:
        field = self.find("#profile-display-name")
        field.clear()
        field.send_keys(display_name)
        self.reloaded_after(self.find("#profile-form button[type=submit]").click)
        self.wait_for_message("Name saved.")
