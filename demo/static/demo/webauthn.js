// WebAuthn Level 3 JSON forms: the browser's own parse*FromJSON / toJSON where it has them, and a
// small fallback for browsers that do not (Safari < 18.4, Firefox < 119). The service speaks exactly
// these JSON shapes, so options and results pass through untouched.

export function b64urlToBuffer(value) {
  const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
}

export function bufferToB64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const descriptors = (list) => (list || []).map((d) => ({ ...d, id: b64urlToBuffer(d.id) }));

export function creationOptionsFromJSON(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: b64urlToBuffer(json.challenge),
    user: { ...json.user, id: b64urlToBuffer(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

export function requestOptionsFromJSON(json) {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return { ...json, challenge: b64urlToBuffer(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

export function credentialToJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const response = credential.response;
  const json = {
    id: credential.id,
    rawId: bufferToB64url(credential.rawId),
    type: credential.type,
    clientExtensionResults: credential.getClientExtensionResults(),
    response: { clientDataJSON: bufferToB64url(response.clientDataJSON) },
  };
  if (credential.authenticatorAttachment) json.authenticatorAttachment = credential.authenticatorAttachment;
  if (response.attestationObject) {
    // AuthenticatorAttestationResponseJSON; the getters are missing from the oldest browsers.
    json.response.attestationObject = bufferToB64url(response.attestationObject);
    json.response.transports = response.getTransports?.() ?? [];
    const authenticatorData = response.getAuthenticatorData?.();
    if (authenticatorData) json.response.authenticatorData = bufferToB64url(authenticatorData);
    const publicKey = response.getPublicKey?.();
    if (publicKey) json.response.publicKey = bufferToB64url(publicKey);
    const algorithm = response.getPublicKeyAlgorithm?.();
    if (algorithm !== undefined) json.response.publicKeyAlgorithm = algorithm;
  } else {
    json.response.authenticatorData = bufferToB64url(response.authenticatorData);
    json.response.signature = bufferToB64url(response.signature);
    if (response.userHandle) json.response.userHandle = bufferToB64url(response.userHandle);
  }
  return json;
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

export const signalUnknownCredential = (rpId, credentialId) =>
  signal("signalUnknownCredential", { rpId, credentialId });

export async function signalAccountState(signals) {
  if (!signals) return;
  const { rpId, userId, allAcceptedCredentialIds, name, displayName } = signals;
  await signal("signalAllAcceptedCredentials", { rpId, userId, allAcceptedCredentialIds });
  await signal("signalCurrentUserDetails", { rpId, userId, name, displayName });
}
