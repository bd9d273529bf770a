// The passkey pages: sign up, sign in (autofill, username-first, or a discoverable passkey), manage.
// Talks to the JSON API of fido/routes.py; WebAuthn options and credentials travel as the JSON forms of
// WebAuthn Level 3 section 5.1.8. No framework, no inline script (the pages' CSP forbids it); text is
// only ever put in the page with textContent.
"use strict";

(() => {
  const API = "/v1/passkeys";
  const page = document.body.dataset.page;
  const statusLine = document.getElementById("status");

  // --- messages -----------------------------------------------------------------------------------

  const PROBLEMS = {
    "webauthn.unknown_credential":
      "This passkey is not registered here (it may have been removed). Choose another passkey, or create an account.",
    "webauthn.origin":
      "The passkey was used from an address this site does not accept (wrong origin). Open the site at its usual address.",
    "webauthn.rp_id": "This passkey belongs to another site.",
    "webauthn.challenge_expired": "The request took too long and expired. Please try again.",
    "webauthn.challenge_used": "This request was already used. Please try again.",
    "webauthn.challenge_unknown": "This request is not valid any more. Please try again.",
    "webauthn.challenge_binding": "This request was started in another browser window or session. Please try again.",
    "webauthn.user_verification":
      "Your device did not verify that it is you (fingerprint, face, PIN). Please try again and confirm.",
    "webauthn.user_presence": "Please touch or confirm on your authenticator.",
    "webauthn.signature": "The passkey's signature did not verify. Please try again.",
    "webauthn.counter":
      "This passkey was refused because it may be a copy of your authenticator. If you did not expect this, contact support.",
    "webauthn.credential_exists": "This passkey is already registered.",
    "webauthn.attestation_untrusted": "This site accepts certified authenticators only; this one is not.",
    "webauthn.algorithm": "Your authenticator uses an algorithm this site does not accept.",
    "passkey.username_taken": "That username is taken. If it is yours, sign in to add a passkey to it.",
    "passkey.unknown_user": "No account with passkeys has that username.",
    "session.required": "Please sign in first.",
  };

  const DOM_ERRORS = {
    NotAllowedError: "The passkey request was cancelled or timed out. Nothing was changed; you can try again.",
    InvalidStateError: "This authenticator already holds a passkey for your account. Use another device or security key.",
    SecurityError:
      "This page's address is not allowed to use passkeys for this site (wrong origin or RP ID). Open the site at its usual address.",
    NotSupportedError: "Your browser or authenticator does not support the passkey options this site needs.",
    ConstraintError: "Your authenticator cannot verify you (no PIN or biometric set up).",
  };

  class Problem extends Error {
    constructor(status, code, detail) {
      super(detail);
      this.status = status;
      this.code = code;
    }
  }

  function explain(error) {
    if (error instanceof Problem) return PROBLEMS[error.code] || error.message;
    if (error && DOM_ERRORS[error.name]) return DOM_ERRORS[error.name];
    return "Something went wrong: " + (error && error.message ? error.message : String(error));
  }

  function show(message, kind) {
    statusLine.textContent = message;
    statusLine.className = kind || "";
    statusLine.dataset.kind = kind || "";
  }

  // --- the API ------------------------------------------------------------------------------------

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return null;
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      const code = data && data.code ? data.code : "http." + response.status;
      throw new Problem(response.status, code, (data && data.detail) || response.statusText);
    }
    return data;
  }

  // --- WebAuthn JSON (section 5.1.8) ----------------------------------------------------------------

  function fromBase64url(value) {
    const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  }

  function toBase64url(buffer) {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map((item) => ({ ...item, id: fromBase64url(item.id) }));
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    return {
      ...json,
      challenge: fromBase64url(json.challenge),
      user: { ...json.user, id: fromBase64url(json.user.id) },
      excludeCredentials: descriptors(json.excludeCredentials),
    };
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    return { ...json, challenge: fromBase64url(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const response = credential.response;
    const json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      if (response.userHandle) json.response.userHandle = toBase64url(response.userHandle);
    }
    return json;
  }

  function supported() {
    if (window.PublicKeyCredential && navigator.credentials) return true;
    show("This browser does not support passkeys. Try a current version of Chrome, Edge, Firefox or Safari.", "error");
    return false;
  }

  async function busy(button, work) {
    if (button) button.disabled = true;
    try {
      await work();
    } catch (error) {
      show(explain(error), "error");
      if (error instanceof Problem && error.code === "webauthn.unknown_credential" && error.credentialId) {
        signalUnknown(error.credentialId);
      }
    } finally {
      if (button) button.disabled = false;
    }
  }

  // Section 5.1.10 (Signal API): tell the passkey provider that a credential it offered is unknown here,
  // so that it can stop offering it.
  function signalUnknown(credentialId) {
    if (!PublicKeyCredential.signalUnknownCredential) return;
    PublicKeyCredential.signalUnknownCredential({ rpId: location.hostname, credentialId }).catch(() => {});
  }

  // --- ceremonies ---------------------------------------------------------------------------------

  async function register(username, displayName, label) {
    const started = await api("POST", API + "/registration/options", { username, display_name: displayName });
    const credential = await navigator.credentials.create({ publicKey: creationOptions(started.options) });
    const body = { ceremony_id: started.ceremony_id, credential: credentialJSON(credential) };
    if (label) body.label = label;
    return api("POST", API + "/registration/verify", body);
  }

  async function assert(path, startBody, verify, mediation, signal) {
    const started = await api("POST", path, startBody);
    const request = { publicKey: requestOptions(started.options) };
    if (mediation) request.mediation = mediation;
    if (signal) request.signal = signal;
    const credential = await navigator.credentials.get(request);
    const json = credentialJSON(credential);
    try {
      return await verify({ ceremony_id: started.ceremony_id, credential: json });
    } catch (error) {
      if (error instanceof Problem) error.credentialId = json.id;
      throw error;
    }
  }

  // --- sign up ------------------------------------------------------------------------------------

  function signUpPage() {
    const form = document.getElementById("sign-up-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!supported()) return;
      const username = document.getElementById("username").value;
      const displayName = document.getElementById("display-name").value;
      busy(document.getElementById("sign-up"), async () => {
        show("Follow your browser's prompt to create a passkey…");
        await register(username, displayName, null);
        show("Your account and passkey are ready.", "ok");
        location.assign("/passkeys/manage");
      });
    });
  }

  // --- sign in ------------------------------------------------------------------------------------

  let autofill = null;

  function signedIn() {
    show("Signed in.", "ok");
    location.assign("/passkeys/manage");
  }

  const verifySignIn = (body) => api("POST", API + "/authentication/verify", body);

  // Passkeys offered in the username field's autofill (conditional mediation), from page load on.
  async function startAutofill() {
    if (!window.PublicKeyCredential || !PublicKeyCredential.isConditionalMediationAvailable) return;
    if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
    autofill = new AbortController();
    try {
      await assert(API + "/authentication/options", {}, verifySignIn, "conditional", autofill.signal);
      signedIn();
    } catch (error) {
      if (error.name === "AbortError") return; // the user chose another way to sign in
      show(explain(error), "error");
      if (error instanceof Problem && error.code === "webauthn.unknown_credential") signalUnknown(error.credentialId);
    }
  }

  function stopAutofill() {
    if (autofill) autofill.abort();
    autofill = null;
  }

  function signInPage() {
    document.getElementById("sign-in-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (!supported()) return;
      const username = document.getElementById("username").value.trim();
      if (!username) {
        show("Enter your username, or use “Sign in with a passkey”.", "error");
        return;
      }
      stopAutofill();
      busy(document.getElementById("continue"), async () => {
        show("Follow your browser's prompt to use your passkey…");
        await assert(API + "/authentication/options", { username }, verifySignIn);
        signedIn();
      });
    });
    document.getElementById("passkey-sign-in").addEventListener("click", () => {
      if (!supported()) return;
      stopAutofill();
      busy(document.getElementById("passkey-sign-in"), async () => {
        show("Choose a passkey in your browser's prompt…");
        await assert(API + "/authentication/options", {}, verifySignIn);
        signedIn();
      });
    });
    if (window.PublicKeyCredential) startAutofill();
  }

  // --- manage -------------------------------------------------------------------------------------

  let account = null;

  function describe(passkey) {
    const kind = passkey.synced ? "Synced passkey" : passkey.transports.includes("internal") ? "This device" : "Security key";
    return kind + (passkey.synced ? (passkey.backed_up ? ", backed up" : ", not backed up yet") : "");
  }

  function when(value) {
    return value ? new Date(value).toLocaleString() : "never";
  }

  async function load() {
    let listed;
    try {
      listed = await api("GET", API);
    } catch (error) {
      if (error instanceof Problem && error.code === "session.required") {
        location.assign("/passkeys/sign-in");
        return;
      }
      throw error;
    }
    account = listed.account;
    document.getElementById("account-name").textContent = account.display_name + " (" + account.username + ")";
    const list = document.getElementById("passkeys");
    const template = document.getElementById("passkey-item");
    list.replaceChildren();
    for (const passkey of listed.passkeys) {
      const item = template.content.firstElementChild.cloneNode(true);
      item.dataset.credentialId = passkey.credential_id;
      item.querySelector(".passkey-label").textContent = passkey.label;
      item.querySelector(".passkey-kind").textContent = describe(passkey);
      item.querySelector(".passkey-meta").textContent =
        "Added " + when(passkey.created_at) + " · last used " + when(passkey.last_used_at);
      const input = item.querySelector(".rename-input");
      input.value = passkey.label;
      item.querySelector(".rename-form").addEventListener("submit", (event) => {
        event.preventDefault();
        busy(item.querySelector(".rename"), async () => {
          await api("PATCH", API + "/" + passkey.credential_id, { label: input.value });
          await load();
          show("Renamed.", "ok");
        });
      });
      item.querySelector(".remove").addEventListener("click", () => {
        busy(item.querySelector(".remove"), async () => {
          show("Confirm with one of your passkeys to remove “" + passkey.label + "”…");
          await assert(API + "/" + passkey.credential_id + "/removal/options", undefined, (body) =>
            api("DELETE", API + "/" + passkey.credential_id, body),
          );
          await load();
          show("Removed “" + passkey.label + "”.", "ok");
        });
      });
      list.append(item);
    }
  }

  function managePage() {
    busy(null, load);
    document.getElementById("add-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (!supported() || !account) return;
      const label = document.getElementById("new-label").value.trim();
      busy(document.getElementById("add-passkey"), async () => {
        show("Follow your browser's prompt to create another passkey…");
        await register(account.username, account.display_name, label || null);
        document.getElementById("new-label").value = "";
        await load();
        show("Passkey added.", "ok");
      });
    });
    document.getElementById("sign-out").addEventListener("click", () => {
      busy(document.getElementById("sign-out"), async () => {
        await api("DELETE", "/v1/session");
        location.assign("/passkeys/sign-in");
      });
    });
  }

  ({ "sign-up": signUpPage, "sign-in": signInPage, manage: managePage })[page]();
})();
