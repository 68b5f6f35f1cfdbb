// The passkey service's browser library: an ES module with no dependencies, served by the service at
// /static/passkeys/passkeys.js. It runs one WebAuthn ceremony from a start answer's `public_key`, tells the
// service how it ended in this browser (POST /v1/client-events, with the answer's `client_token`), and
// returns credential.toJSON() for the relying party's finish, or throws one PasskeyError.
//
//   import { authenticate } from "https://passkeys.example.com/static/passkeys/passkeys.js";
//   const { public_key, client_token } = await startFromYourBackend();
//   const credential = await authenticate(public_key, { clientToken: client_token });
//
// What a report carries: the outcome, the DOMException's name, how long the browser took, and what
// getClientCapabilities() said. Nothing about the user: the token already names the ceremony.

// The getClientCapabilities() names the service accepts (analytics.models.CLIENT_CAPABILITIES: a test holds
// the two lists equal). Browsers answer more; a report with a name outside this list would be refused.
export const CLIENT_CAPABILITIES = Object.freeze([
  "conditionalCreate",
  "conditionalGet",
  "hybridTransport",
  "immediateGet",
  "passkeyPlatformAuthenticator",
  "userVerifyingPlatformAuthenticator",
  "relatedOrigins",
  "signalAllAcceptedCredentials",
  "signalCurrentUserDetails",
  "signalUnknownCredential",
  "extension:appid",
  "extension:appidExclude",
  "extension:credBlob",
  "extension:credProps",
  "extension:credProtect",
  "extension:getCredBlob",
  "extension:hmacCreateSecret",
  "extension:largeBlob",
  "extension:minPinLength",
  "extension:payment",
  "extension:prf",
  "extension:uvm",
]);

// WebAuthn's recommended default, which browsers use when the options name no timeout.
const DEFAULT_TIMEOUT_MS = 300_000;
// Browsers cap a ceremony at 10 minutes (Chromium does), and the service takes durations up to there.
const MAX_DURATION_MS = 600_000;
// The browser starts its timer a little after ours, and timers are coarse: a NotAllowedError this close to
// the timeout is the timeout. A person who gives up in the last second looks the same; that is the price.
const TIMEOUT_MARGIN_MS = 1_000;
const REMEMBERED_KEY = "passkeys:credential-ids";
const REMEMBERED_MAX = 20;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** The one error register() and authenticate() throw. `outcome` is what was reported; `cause` is the
 * browser's exception (its name is also `errorName`), when there was one. */
export class PasskeyError extends Error {
  constructor(outcome, cause) {
    super(cause?.message || `The passkey ceremony ended: ${outcome}`, cause ? { cause } : undefined);
    this.name = "PasskeyError";
    this.outcome = outcome;
    this.errorName = cause?.name || "";
  }
}

/** Create a passkey: `options` is PublicKeyCredentialCreationOptionsJSON (a start answer's `public_key`).
 * With mediation "conditional" (an automatic upgrade) it asks only a browser that can create silently. */
export function register(options, { clientToken, mediation, signal, serviceUrl } = {}) {
  return ceremony("create", options, { clientToken, mediation, signal, serviceUrl });
}

/** Sign in with a passkey: `options` is PublicKeyCredentialRequestOptionsJSON. mediation "conditional" is
 * passkey autofill (the page needs an input with autocomplete="username webauthn"), "immediate" fails at
 * once with no_credential when this device has no passkey to offer. */
export function authenticate(options, { clientToken, mediation, signal, serviceUrl } = {}) {
  return ceremony("get", options, { clientToken, mediation, signal, serviceUrl });
}

async function ceremony(kind, json, { clientToken, mediation, signal, serviceUrl }) {
  const report = (outcome, fields) => clientToken && send(serviceUrl, clientToken, { outcome, ...fields });
  const refuse = (outcome, cause, fields) => {
    report(outcome, { error_name: cause?.name, ...fields });
    return new PasskeyError(outcome, cause);
  };
  if (!webAuthnAvailable()) throw refuse("unsupported");
  capabilities(); // asked now, read by the report: awaiting here would cost Safari the click's user activation
  // A browser that does not know conditional mediation would take the request for a modal one and prompt.
  if (mediation === "conditional") {
    const available = kind === "create" ? conditionalCreateAvailable() : conditionalGetAvailable();
    if (!(await available)) throw refuse("unsupported");
  }

  let started, credential;
  try {
    const publicKey = kind === "create" ? creationOptionsFromJSON(json) : requestOptionsFromJSON(json);
    started = performance.now();
    credential = await navigator.credentials[kind]({ publicKey, mediation, signal });
  } catch (error) {
    const elapsed = started === undefined ? undefined : performance.now() - started;
    const outcome = classify(error, { elapsed, timeout: json?.timeout, mediation, aborted: signal?.aborted });
    throw refuse(outcome, error, { duration_ms: elapsed });
  }
  const duration_ms = performance.now() - started;
  if (!credential) throw refuse("no_credential", undefined, { duration_ms }); // get() may answer null
  report("succeeded", { duration_ms });
  // Used (or made) here: issue 14's login decisions lead with a passkey this device is known to have.
  rememberCredential(credential.id);
  return credentialToJSON(credential);
}

function webAuthnAvailable() {
  return typeof globalThis.PublicKeyCredential === "function" && !!globalThis.navigator?.credentials;
}

// WebAuthn gives a dismissed dialog, a timeout and "no passkey here" one name (NotAllowedError) on purpose, so
// that a page cannot learn which passkeys exist; the time it took and the mediation tell them apart.
function classify(error, { elapsed, timeout, mediation, aborted }) {
  if (aborted) return "aborted"; // the page's own signal, whatever reason it aborted with
  switch (error?.name) {
    case "NotAllowedError": {
      const limit = Math.min(timeout || DEFAULT_TIMEOUT_MS, MAX_DURATION_MS) - TIMEOUT_MARGIN_MS;
      if (elapsed >= limit) return "timed_out";
      if (mediation === "immediate") return "no_credential"; // nothing to offer, and nobody was asked
      return "cancelled";
    }
    case "InvalidStateError":
      return "excluded_credential"; // the authenticator already holds one of excludeCredentials
    case "SecurityError":
      return "security_error"; // the page's origin does not fit the rpId
    case "AbortError":
      return "aborted";
    default:
      return "error";
  }
}

// Fire and forget: the ceremony's answer never waits on the report, and a report that fails is dropped.
// keepalive lets it outlive the page, which usually navigates away right after a sign-in.
function send(serviceUrl, clientToken, { outcome, error_name, duration_ms }) {
  const body = { outcome };
  if (error_name) body.error_name = String(error_name).slice(0, 64);
  if (duration_ms >= 0 && duration_ms <= MAX_DURATION_MS) body.duration_ms = Math.round(duration_ms);
  capabilities()
    .then((answered) => {
      if (Object.keys(answered).length) body.capabilities = answered;
      // The service's address is where this module came from, unless the page says otherwise.
      return fetch(new URL("/v1/client-events", serviceUrl || import.meta.url), {
        method: "POST",
        keepalive: true,
        credentials: "omit",
        headers: { Authorization: `Bearer ${clientToken}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    })
    .catch(() => {});
}

let capabilitiesAnswer;

/** getClientCapabilities(), asked once per page and cut to the names the service knows ({} where the
 * browser predates WebAuthn Level 3). */
export function capabilities() {
  capabilitiesAnswer ??= (async () => {
    if (typeof globalThis.PublicKeyCredential?.getClientCapabilities !== "function") return {};
    const answer = await PublicKeyCredential.getClientCapabilities();
    const known = Object.entries(answer || {}).filter(
      ([name, value]) => CLIENT_CAPABILITIES.includes(name) && typeof value === "boolean",
    );
    return Object.fromEntries(known);
  })().catch(() => ({}));
  return capabilitiesAnswer;
}

/** Whether this browser can create a passkey silently (automatic upgrades). */
export async function conditionalCreateAvailable() {
  return (await capabilities()).conditionalCreate === true;
}

/** Whether this browser offers passkeys in autofill (the older, more widely shipped question). */
export async function conditionalGetAvailable() {
  try {
    return (await globalThis.PublicKeyCredential?.isConditionalMediationAvailable?.()) === true;
  } catch {
    return false;
  }
}

// --- credential ids this device used, for POST /v1/login-decisions' device_credential_ids ---

/** The ids of passkeys used or made in this browser, most recent first (at most 20). */
export function rememberedCredentialIds() {
  try {
    const ids = JSON.parse(localStorage.getItem(REMEMBERED_KEY) || "[]");
    if (!Array.isArray(ids)) return [];
    return ids.filter((id) => typeof id === "string" && B64URL.test(id)).slice(0, REMEMBERED_MAX);
  } catch {
    return []; // storage blocked (some private modes) or the value damaged: nothing remembered
  }
}

export function rememberCredential(id) {
  if (typeof id === "string" && B64URL.test(id)) store([id, ...rememberedCredentialIds().filter((old) => old !== id)]);
}

/** Drop an id the relying party no longer knows (its finish answered credential_not_found). */
export function forgetCredential(id) {
  store(rememberedCredentialIds().filter((old) => old !== id));
}

function store(ids) {
  try {
    localStorage.setItem(REMEMBERED_KEY, JSON.stringify(ids.slice(0, REMEMBERED_MAX)));
  } catch {
    // Remembering is a hint for the next sign-in, never a reason to fail this one.
  }
}

// --- WebAuthn Level 3 JSON forms: the browser's own where it has them, else this fallback (Safari < 18.4,
// Firefox < 119). The service speaks exactly these shapes, so nothing else is converted. ---

function toBuffer(b64url) {
  const base64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
}

function toB64url(data) {
  const bytes = ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const descriptors = (list) => list?.map((d) => ({ ...d, id: toBuffer(d.id) }));

// PRF inputs are the one binary value inside the extensions the service asks for.
function extensionsFromJSON(extensions) {
  const prf = extensions?.prf;
  if (!prf) return extensions;
  const inputs = (values) => values && Object.fromEntries(Object.entries(values).map(([k, v]) => [k, toBuffer(v)]));
  const byCredential = prf.evalByCredential && Object.fromEntries(
    Object.entries(prf.evalByCredential).map(([credentialId, values]) => [credentialId, inputs(values)]),
  );
  return { ...extensions, prf: { ...prf, eval: inputs(prf.eval), evalByCredential: byCredential } };
}

function creationOptionsFromJSON(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: toBuffer(json.challenge),
    user: { ...json.user, id: toBuffer(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
    extensions: extensionsFromJSON(json.extensions),
  };
}

function requestOptionsFromJSON(json) {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: toBuffer(json.challenge),
    allowCredentials: descriptors(json.allowCredentials),
    extensions: extensionsFromJSON(json.extensions),
  };
}

// Extension outputs (PRF results, largeBlob) hold ArrayBuffers, which JSON would turn into {}.
const binaryToJSON = (value) =>
  value instanceof ArrayBuffer || ArrayBuffer.isView(value) ? toB64url(value)
  : Array.isArray(value) ? value.map(binaryToJSON)
  : value && typeof value === "object" ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, binaryToJSON(v)]))
  : value;

function credentialToJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const response = credential.response;
  const json = {
    id: credential.id,
    rawId: toB64url(credential.rawId),
    type: credential.type,
    clientExtensionResults: binaryToJSON(credential.getClientExtensionResults()),
    response: { clientDataJSON: toB64url(response.clientDataJSON) },
  };
  if (credential.authenticatorAttachment) json.authenticatorAttachment = credential.authenticatorAttachment;
  if (response.attestationObject) {
    // AuthenticatorAttestationResponseJSON; the getters are missing from the oldest browsers.
    json.response.attestationObject = toB64url(response.attestationObject);
    json.response.transports = response.getTransports?.() ?? [];
    const authenticatorData = response.getAuthenticatorData?.();
    if (authenticatorData) json.response.authenticatorData = toB64url(authenticatorData);
    const publicKey = response.getPublicKey?.();
    if (publicKey) json.response.publicKey = toB64url(publicKey);
    const algorithm = response.getPublicKeyAlgorithm?.();
    if (algorithm !== undefined) json.response.publicKeyAlgorithm = algorithm;
  } else {
    json.response.authenticatorData = toB64url(response.authenticatorData);
    json.response.signature = toB64url(response.signature);
    if (response.userHandle) json.response.userHandle = toB64url(response.userHandle);
  }
  return json;
}
