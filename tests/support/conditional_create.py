"""Conditional create (WebAuthn L3 automatic passkey upgrades) in the browser tests: scripts for
DemoSite.emulate() and a look at what the page asked of navigator.credentials.create().

Chromium's testing API cannot complete a conditional create (Chromium 156 headless; tried with a ctap2
virtual authenticator on internal or usb transport, with and without UV, user consenting or not, with a
saved and autofilled password or none, with the feature flags that might exist): with WebAuthn.enable
(enableUI false) create({publicKey, mediation: "conditional"}) stays pending until the options' timeout,
then rejects with NotAllowedError; with enableUI true, or without the testing API, it rejects with
NotAllowedError at once. getClientCapabilities() still says conditionalCreate: true. So a
test either watches that real behaviour (RECORD_CONDITIONAL_CREATES) or lets the virtual authenticator
stand in for the password manager that would have answered (PASSWORD_MANAGER_CREATES_SILENTLY).
"""

from __future__ import annotations

# Every conditional create a page of the tab starts, and how it ended, kept in sessionStorage so that it
# outlives the page; the call itself goes on unchanged.
RECORD_CONDITIONAL_CREATES = """
const browserCreate = navigator.credentials.create.bind(navigator.credentials);
navigator.credentials.create = (options) => {
  if (options?.mediation !== "conditional") return browserCreate(options);
  const records = JSON.parse(sessionStorage.getItem("conditionalCreates") || "[]");
  const index = records.push({ state: "pending", userName: options.publicKey.user.name }) - 1;
  const update = (fields) => {
    records[index] = { ...records[index], ...fields };
    sessionStorage.setItem("conditionalCreates", JSON.stringify(records));
  };
  update({});
  const answer = window.answerConditionalCreate ? window.answerConditionalCreate(options) : browserCreate(options);
  return answer.then(
    (credential) => {
      update({ state: "resolved", id: credential.id });
      return credential;
    },
    (error) => {
      update({ state: "rejected", error: error.name });
      throw error;
    },
  );
};
"""

# A password manager that makes the passkey the conditional create asks for: the virtual authenticator
# answers the same options without the mediation (it cannot answer a conditional request). Keeps the
# abort signal, so a page that gives up still can. Works through RECORD_CONDITIONAL_CREATES, which must
# be emulated too.
PASSWORD_MANAGER_CREATES_SILENTLY = """
window.answerConditionalCreate = ({ publicKey, signal }) => {
  const browserCreate = CredentialsContainer.prototype.create.bind(navigator.credentials);
  return browserCreate({ publicKey, signal });
};
"""

# A browser that cannot create passkeys silently: getClientCapabilities() says conditionalCreate false.
WITHOUT_CONDITIONAL_CREATE = """
const browserCapabilities = PublicKeyCredential.getClientCapabilities.bind(PublicKeyCredential);
PublicKeyCredential.getClientCapabilities = async () => {
  return { ...(await browserCapabilities()), conditionalCreate: false };
};
"""


def conditional_creates(driver) -> list[dict]:
    """What RECORD_CONDITIONAL_CREATES saw in this tab so far: [{"state", "userName", "error"?, "id"?}]."""
    return driver.execute_script('return JSON.parse(sessionStorage.getItem("conditionalCreates") || "[]")')
