// The demo site's pages: each talks to the site's own /demo/api/ endpoints, which forward every
// step to the passkey service with the site's API key.
import {
  creationOptionsFromJSON,
  credentialToJSON,
  requestOptionsFromJSON,
  signalAccountState,
  signalUnknownCredential,
} from "./webauthn.js";

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

// What a person should read when a ceremony fails, by the browser's DOMException or the service's code.
function explain(error) {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  if (error.name === "NotAllowedError") return "The passkey request was cancelled or timed out.";
  if (error.name === "InvalidStateError") return "This device already holds a passkey for your account.";
  if (error.name === "SecurityError") {
    return `This address cannot use the site's passkeys: open the demo at http://localhost${location.port ? ":" + location.port : ""}/demo/.`;
  }
  return `${error.name || "Error"}: ${error.message}`;
}

// --- ceremonies ---

async function createPasskey() {
  const { public_key } = await api("POST", "registrations/start");
  const credential = await navigator.credentials.create({ publicKey: creationOptionsFromJSON(public_key) });
  return (await api("POST", "registrations/finish", { credential: credentialToJSON(credential) })).credential;
}

async function signInWithPasskey({ username = "", mediation, signal } = {}) {
  const { public_key } = await api("POST", "authentications/start", { username, mediation });
  const request = { publicKey: requestOptionsFromJSON(public_key), signal };
  if (mediation) request.mediation = mediation;
  const credential = await navigator.credentials.get(request);
  try {
    const { redirect } = await api("POST", "authentications/finish", { credential: credentialToJSON(credential) });
    location.assign(redirect);
  } catch (error) {
    if (error.code === "credential_not_found") {
      // The site deleted this passkey: tell the passkey manager to stop offering it.
      await signalUnknownCredential(public_key.rpId || location.hostname, credential.id);
    }
    throw error;
  }
}

// --- pages ---

async function clientCapabilities() {
  if (typeof PublicKeyCredential.getClientCapabilities !== "function") return null; // before WebAuthn Level 3
  return PublicKeyCredential.getClientCapabilities().catch(() => null);
}

// What the password forms tell the site (and it the service): whether this browser has a platform
// authenticator, and whether it can create a passkey silently (conditionalCreate). The platform field is
// filled last: a form that has it has both.
async function capabilityFields() {
  const conditional = document.getElementById("conditional-create");
  const platform = document.getElementById("platform-authenticator");
  if (conditional) {
    const capabilities = await clientCapabilities();
    conditional.value = capabilities ? String(capabilities.conditionalCreate === true) : "";
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
    if (!(await PublicKeyCredential.isConditionalMediationAvailable?.())) return;
    const controller = (conditional = new AbortController());
    try {
      await signInWithPasskey({ mediation: "conditional", signal: controller.signal });
    } catch (error) {
      if (controller.signal.aborted) return; // the button took over
      if (error.name === "NotAllowedError") console.info("Passkey autofill closed:", error.message);
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
async function upgradeAutomatically(publicKey, signal) {
  if ((await clientCapabilities())?.conditionalCreate !== true) {
    console.info("Automatic passkey upgrade: this browser cannot create passkeys silently.");
    return false;
  }
  let credential;
  try {
    const options = { publicKey: creationOptionsFromJSON(publicKey), mediation: "conditional", signal };
    credential = await navigator.credentials.create(options);
  } catch (error) {
    console.info("Automatic passkey upgrade: the browser created no passkey:", error.name, error.message);
    return false;
  }
  try {
    await api("POST", "automatic-upgrade", { credential: credentialToJSON(credential) });
    return true;
  } catch (error) {
    console.info("Automatic passkey upgrade: the site did not store the passkey:", error.code, error.message);
    // The password manager now holds a passkey the site does not know: ask it to forget it.
    await signalUnknownCredential(publicKey.rp?.id || location.hostname, credential.id);
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

async function upgradeWithin(publicKey, controller) {
  const tooLong = () => controller.abort(new DOMException("The automatic upgrade took too long.", "TimeoutError"));
  const deadline = setTimeout(tooLong, AUTOMATIC_UPGRADE_DEADLINE_MS);
  try {
    return await upgradeAutomatically(publicKey, controller.signal);
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
