// The demo site's pages: each talks to the site's own /demo/api/ endpoints, which forward every
// step to the passkey service with the site's API key. Every WebAuthn ceremony goes through the service's
// browser library, which reports how it ended with the client token each start answer carries.
import {
  authenticate,
  capabilities,
  conditionalGetAvailable,
  forgetCredential,
  PasskeyError,
  register,
} from "/static/passkeys/passkeys.js";

const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
// How long an automatic passkey upgrade may take before the page stops waiting for it: a browser may
// leave a conditional create unanswered, and the nudge card must not wait on it for ever.
const AUTOMATIC_UPGRADE_DEADLINE_MS = 5000;

class ApiError extends Error {
  constructor(code, detail) {
    super(detail);
    this.code = code;
  }
}

async function api(method, path, body) {
  const response = await fetch(`/demo/api/${path}`, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(data.code || `http_${response.status}`, data.detail || response.statusText);
  return data;
}

function show(text, kind = "error") {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = false;
  if (kind === "error") console.error(text);
}

// What a person should read when a ceremony fails, by the library's outcome or the service's code.
const localAddress = `http://localhost${location.port ? ":" + location.port : ""}/demo/`;
const OUTCOME_TEXT = {
  cancelled: "The passkey request was cancelled.",
  timed_out: "The passkey request timed out.",
  no_credential: "This device has no passkey for this site.",
  excluded_credential: "This device already holds a passkey for your account.",
  unsupported: "This browser cannot use passkeys here; the password still works.",
  security_error: `This address cannot use the site's passkeys: open the demo at ${localAddress}.`,
};

function explain(error) {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  if (error instanceof PasskeyError && OUTCOME_TEXT[error.outcome]) return OUTCOME_TEXT[error.outcome];
  return `${error.errorName || error.name || "Error"}: ${error.message}`;
}

// --- ceremonies ---

async function createPasskey() {
  const { public_key, client_token } = await api("POST", "registrations/start");
  const credential = await register(public_key, { clientToken: client_token });
  return (await api("POST", "registrations/finish", { credential })).credential;
}

async function signInWithPasskey({ username = "", mediation, signal } = {}) {
  const { public_key, client_token } = await api("POST", "authentications/start", { username, mediation });
  const credential = await authenticate(public_key, { clientToken: client_token, mediation, signal });
  try {
    const { redirect } = await api("POST", "authentications/finish", { credential });
    location.assign(redirect);
  } catch (error) {
    if (error.code === "credential_not_found") {
      // The site deleted this passkey: tell the passkey manager to stop offering it, and forget it here.
      forgetCredential(credential.id);
      await signalUnknownCredential(public_key.rpId || location.hostname, credential.id);
    }
    throw error;
  }
}

// Signal API (WebAuthn Level 3 §5.1.10): keeps the user's passkey manager in step with the site.
// Best effort by design: an unsupported browser or a rejected signal changes nothing for the user.
async function signal(method, payload) {
  if (typeof PublicKeyCredential[method] !== "function") return false;
  try {
    await PublicKeyCredential[method](payload);
    return true;
  } catch (error) {
    console.warn(`${method} failed:`, error);
    return false;
  }
}

const signalUnknownCredential = (rpId, credentialId) => signal("signalUnknownCredential", { rpId, credentialId });

async function signalAccountState(signals) {
  if (!signals) return;
  const { rpId, userId, allAcceptedCredentialIds, name, displayName } = signals;
  await signal("signalAllAcceptedCredentials", { rpId, userId, allAcceptedCredentialIds });
  await signal("signalCurrentUserDetails", { rpId, userId, name, displayName });
}

// --- pages ---

// What the password forms tell the site (and it the service): whether this browser has a platform
// authenticator, and whether it can create a passkey silently (conditionalCreate; "" where the browser
// predates getClientCapabilities()). The platform field is filled last: a form that has it has both.
async function capabilityFields() {
  const conditional = document.getElementById("conditional-create");
  const platform = document.getElementById("platform-authenticator");
  if (conditional) {
    const answered = await capabilities();
    conditional.value = "conditionalCreate" in answered ? String(answered.conditionalCreate) : "";
  }
  if (platform) {
    const available = await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable().catch(() => false);
    platform.value = String(available);
  }
}

async function signinPage() {
  // Passkey autofill: armed on load and again after the button's request, never straight after its
  // own failure (a browser that answers at once would loop); the button and a reload remain.
  let conditional = null;
  const armAutofill = async () => {
    if (!(await conditionalGetAvailable())) return;
    const controller = (conditional = new AbortController());
    try {
      await signInWithPasskey({ mediation: "conditional", signal: controller.signal });
    } catch (error) {
      if (controller.signal.aborted) return; // the button took over
      // Closed, or left alone past the options' timeout: the page stays as it is, with the password form.
      if (["cancelled", "timed_out"].includes(error.outcome)) console.info("Passkey autofill closed:", error.message);
      else show(explain(error));
    }
  };
  const button = document.getElementById("passkey-signin");
  button.addEventListener("click", async () => {
    conditional?.abort(); // one WebAuthn request at a time
    button.disabled = true;
    try {
      await signInWithPasskey({ username: document.getElementById("username").value.trim() });
    } catch (error) {
      show(explain(error));
      armAutofill();
    } finally {
      button.disabled = false;
    }
  });
  armAutofill();
}

// Automatic passkey upgrade (WebAuthn Level 3 conditional create): right after a password sign-in the
// password manager may create a passkey without asking anything. Silent on failure: the console says
// why, the page shows no error, and the nudge card stays as the fallback. True once the site stored it.
// The library asks only a browser that can create silently (getClientCapabilities().conditionalCreate).
async function upgradeAutomatically({ public_key, client_token }, signal) {
  let credential;
  try {
    credential = await register(public_key, { clientToken: client_token, mediation: "conditional", signal });
  } catch (error) {
    if (error.outcome === "unsupported") {
      console.info("Automatic passkey upgrade: this browser cannot create passkeys silently.");
    } else {
      console.info("Automatic passkey upgrade: the browser created no passkey:", error.errorName, error.message);
    }
    return false;
  }
  try {
    await api("POST", "automatic-upgrade", { credential });
    return true;
  } catch (error) {
    console.info("Automatic passkey upgrade: the site did not store the passkey:", error.code, error.message);
    // The password manager now holds a passkey the site does not know: ask it to forget it.
    forgetCredential(credential.id);
    await signalUnknownCredential(public_key.rp?.id || location.hostname, credential.id);
    return false;
  }
}

// The nudge card: wired at once (it is on the page from the start), and reported shown when it is what
// the user is left with, or as soon as they answer it. stopUpgrade() ends a silent attempt still under way
// (one WebAuthn request at a time: a pending one would refuse the card's) and says whether it made a passkey.
function nudgeCard(nudge, stopUpgrade) {
  const outcome = (value) => api("POST", `nudges/${nudge.dataset.nudgeId}/outcome`, { outcome: value });
  let reported = null;
  const shown = () => (reported ??= outcome("shown").catch((error) => console.warn("nudge shown:", error)));
  document.getElementById("nudge-accept").addEventListener("click", async () => {
    if (await stopUpgrade()) return; // it made the passkey the card offers
    try {
      await shown();
      await createPasskey();
      await outcome("accepted");
      location.assign("/demo/settings/?created=1");
    } catch (error) {
      show(explain(error));
    }
  });
  document.getElementById("nudge-dismiss").addEventListener("click", async () => {
    if (await stopUpgrade()) return;
    try {
      await shown();
      await outcome("dismissed");
    } catch (error) {
      console.warn("nudge dismissed:", error);
    }
    nudge.remove();
  });
  return { shown };
}

async function upgradeWithin(offer, controller) {
  const tooLong = () => controller.abort(new DOMException("The automatic upgrade took too long.", "TimeoutError"));
  const deadline = setTimeout(tooLong, AUTOMATIC_UPGRADE_DEADLINE_MS);
  try {
    return await upgradeAutomatically(offer, controller.signal);
  } finally {
    clearTimeout(deadline);
  }
}

async function accountPage() {
  const nudge = document.getElementById("nudge");
  const offer = document.getElementById("automatic-upgrade");
  const controller = new AbortController();
  const upgrade = offer ? upgradeWithin(JSON.parse(offer.textContent), controller) : Promise.resolve(false);
  const card = nudge
    ? nudgeCard(nudge, () => {
        controller.abort();
        return upgrade;
      })
    : null;
  if (await upgrade) {
    nudge?.remove(); // the passkey the card would have offered exists now
    show("Your password manager saved a passkey for this account: next time, sign in with it.", "success");
  } else {
    card?.shown();
  }
}

async function settingsPage() {
  // The passkeys the site accepts and the user's names, so the passkey manager drops what was deleted
  // (here or elsewhere) and shows current names.
  signalAccountState(JSON.parse(document.getElementById("account-signals").textContent));
  if (new URLSearchParams(location.search).has("created")) show("Passkey created.", "success");
  // After a change the page reloads; the reloaded page signals the new state (above).
  const afterChange = (message) => {
    sessionStorage.setItem("demo-message", message);
    location.reload();
  };
  const pending = sessionStorage.getItem("demo-message");
  if (pending) {
    sessionStorage.removeItem("demo-message");
    show(pending, "success");
  }

  document.getElementById("create-passkey").addEventListener("click", async () => {
    try {
      await createPasskey();
      location.assign("/demo/settings/?created=1");
    } catch (error) {
      show(explain(error));
    }
  });

  for (const item of document.querySelectorAll(".passkey")) {
    const id = item.dataset.credentialId;
    const form = item.querySelector("form.rename");
    item.querySelector(".rename-start").addEventListener("click", () => {
      form.hidden = false;
      form.elements.name.focus();
    });
    form.querySelector(".cancel").addEventListener("click", () => (form.hidden = true));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("PATCH", `passkeys/${id}`, { name: form.elements.name.value });
        afterChange("Passkey renamed.");
      } catch (error) {
        show(explain(error));
      }
    });
    item.querySelector(".delete").addEventListener("click", async () => {
      const name = item.querySelector(".passkey-name").textContent;
      if (!confirm(`Delete the passkey "${name}"? You will no longer be able to sign in with it.`)) return;
      try {
        await api("DELETE", `passkeys/${id}`);
        afterChange("Passkey deleted.");
      } catch (error) {
        show(explain(error));
      }
    });
  }

  document.getElementById("profile-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", "profile", { display_name: event.target.elements.display_name.value });
      afterChange("Name saved.");
    } catch (error) {
      show(explain(error));
    }
  });
}

const pages = { signin: signinPage, signup: async () => {}, account: accountPage, settings: settingsPage };
const page = pages[document.body.dataset.page];
if (page) {
  if (!window.PublicKeyCredential) {
    show("This browser does not support passkeys; the password still works.");
  } else {
    capabilityFields();
    page();
  }
}
