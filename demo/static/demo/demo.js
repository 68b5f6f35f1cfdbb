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
  rememberedCredentialIds,
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

// `started`: a start the page already has (a login decision's); else the site asks the service for one.
async function signInWithPasskey({ username = "", mediation, signal, started } = {}) {
  const { public_key, client_token } = started ?? (await api("POST", "authentications/start", { username, mediation }));
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

// --- what the browser can do, for the site and the service ---

let platformAnswer;

// isUserVerifyingPlatformAuthenticatorAvailable(), asked once per page; false where the browser cannot say.
function platformAuthenticatorAvailable() {
  platformAnswer ??= Promise.resolve()
    .then(() => PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable())
    .catch(() => false);
  return platformAnswer;
}

// Which sign-in to lead with, decided by the service (POST /v1/login-decisions through the site), for the user who
// last signed in on this browser (the site's signed cookie says who; the page never names anyone), else for an
// anonymous visitor. The passkeys this browser used go along: one of theirs is the surest sign of a one-tap sign-in.
async function loginDecision() {
  const answered = { ...(await capabilities()) };
  // A browser from before getClientCapabilities() answers the older question of autofill.
  if (!("conditionalGet" in answered) && (await conditionalGetAvailable())) answered.conditionalGet = true;
  return api("POST", "login-decision", {
    capabilities: answered,
    platform_authenticator_available: await platformAuthenticatorAvailable(),
    device_credential_ids: rememberedCredentialIds(),
  });
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
  if (platform) platform.value = String(await platformAuthenticatorAvailable());
}

// Why a decision leads a user the page greets with the password form.
const PASSWORD_LEAD_NOTES = {
  recent_failures: "Your passkey has not worked on this device lately: sign in with your password.",
  no_passkey_for_platform: "None of your passkeys works on this device yet: sign in with your password.",
};

// The sign-in page leads with what the login decision says: "passkey" is a one-tap "Continue with your passkey"
// above the form (the decision's start, bound to the user this browser remembers), "passkey_autofill" passkeys in
// the username field's suggestions, "password" the form alone. The form and the passkey button are always there.
async function signinPage() {
  const section = document.getElementById("signin");
  const lead = document.getElementById("passkey-lead");
  const oneTap = document.getElementById("passkey-continue");
  const intro = document.getElementById("signin-intro");
  const note = document.getElementById("decision-note");
  const autofillIntro = intro.textContent;
  // One WebAuthn request at a time: `conditional` stops the autofill request, `busy` is a button's ceremony.
  let conditional = null;
  let busy = false;
  let autofill = false; // what the decision asks for (or, without one, what the page always did)
  let offered = null; // a passkey decision's start, until the one-tap button runs it

  // Passkey autofill: armed with the decision's start, and with a new one after a button's failed request; never
  // straight after its own failure (a browser that answers at once would loop); the button and a reload remain.
  const armAutofill = async (started) => {
    if (!autofill || busy || !(await conditionalGetAvailable())) return;
    const controller = (conditional = new AbortController());
    try {
      await signInWithPasskey({ mediation: "conditional", signal: controller.signal, started });
    } catch (error) {
      if (controller.signal.aborted) return; // a button took over
      // Closed, or left alone past the options' timeout: the page stays as it is, with the password form.
      if (["cancelled", "timed_out"].includes(error.outcome)) console.info("Passkey autofill closed:", error.message);
      else show(explain(error));
    }
  };

  const follow = (answer) => {
    section.dataset.decision = answer.decision;
    section.dataset.reason = answer.reason;
    const name = answer.user?.name;
    lead.hidden = answer.decision !== "passkey";
    document.getElementById("remembered-name").textContent = name || "";
    note.hidden = !(name && answer.decision === "password"); // a user the page greets, led to the password
    note.textContent = `Welcome back, ${name}. ${PASSWORD_LEAD_NOTES[answer.reason] || ""}`.trim();
    intro.hidden = answer.decision === "passkey" || !note.hidden;
    intro.textContent = answer.decision === "password" ? "Sign in with your username and password." : autofillIntro;
    offered = answer.decision === "passkey" ? answer : null;
    autofill = answer.decision === "passkey_autofill";
    if (autofill) armAutofill(answer);
  };

  const decide = async () => {
    let answer;
    try {
      answer = await loginDecision();
    } catch (error) {
      // Without a decision the page is what it always was: the form, autofill where the browser has it.
      console.warn("No login decision:", error.message);
      section.dataset.decision = "none";
      autofill = true;
      armAutofill();
      return;
    }
    follow(answer);
  };

  // A button's ceremony stops the autofill request first, and after a failure autofill is armed again (when the
  // decision asks for it).
  const onClick = (element, ceremony) =>
    element.addEventListener("click", async () => {
      conditional?.abort();
      busy = element.disabled = true;
      let failed = false;
      try {
        await ceremony();
      } catch (error) {
        show(explain(error));
        failed = true;
      } finally {
        busy = element.disabled = false;
      }
      if (failed) armAutofill();
    });

  // A start is good for one try (the library reports how it ended); the next tap asks the service again, which
  // leads with the password form once this browser has failed the user three times.
  onClick(oneTap, async () => {
    let started = offered;
    if (!started) {
      const answer = await loginDecision();
      follow(answer);
      if (answer.decision !== "passkey") return;
      started = answer;
    }
    offered = null;
    await signInWithPasskey({ started });
  });
  onClick(document.getElementById("passkey-signin"), () =>
    signInWithPasskey({ username: document.getElementById("username").value.trim() }),
  );
  document.getElementById("use-another-account").addEventListener("click", async () => {
    lead.hidden = true;
    offered = null;
    try {
      await api("DELETE", "login-decision"); // the site forgets who signed in here: the page asks anonymously
    } catch (error) {
      show(explain(error));
    }
    document.getElementById("username").focus();
    await decide();
  });
  await decide();
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
