// The passkey pages: sign up, sign in (autofill, username-first, or a discoverable passkey), manage, account
// recovery by email ("lost your passkey?") and email verification by link.
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
    "rate_limited": "Too many attempts. Please wait a while and try again.",
    "email.invalid": "Please enter an email address such as name@example.com.",
    "email.missing": "Enter the email address to confirm.",
    "email.already_verified": "This address is already confirmed.",
    "email.taken": "Another account already uses this address for recovery.",
    "email.not_requested": "No confirmation is pending: send a code first.",
    "email.code_invalid": "That code is wrong. Check the latest mail.",
    "email.locked": "Too many wrong codes. Send a new code, or open the link in the mail.",
    "email.expired": "This code or link expired. Send a new one.",
    "email.used": "This code or link was already used.",
    "email.token_invalid": "This link is not valid any more. Send a new confirmation mail.",
    "recovery.code_invalid":
      "That code does not work for this address. Check the address and the latest mail; after 5 wrong codes, use the link in the mail or ask for a new one.",
    "recovery.token_invalid": "This recovery link is not valid any more. Ask for a new one.",
    "recovery.expired": "This recovery link expired. Ask for a new one.",
    "recovery.used": "This recovery link was already used. Ask for a new one.",
    "recovery.session_required": "Your recovery expired. Please start again.",
    "recovery.passkey_added": "This recovery already added a passkey. Sign in with it.",
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
        // An email address as username: mail it a confirmation code (the manage page asks for it).
        if (username.includes("@")) await api("POST", "/v1/email/verification", {}).catch(() => null);
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
    showEmail();
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

  function showEmail() {
    const status = document.getElementById("email-status");
    if (!account.email) status.textContent = "No recovery email yet: add one to be able to get back in without a passkey.";
    else if (account.email_verified) status.textContent = account.email + " (confirmed)";
    else status.textContent = account.email + " (not confirmed yet: enter the code we sent, or send a new one)";
    document.getElementById("email-code-form").hidden = Boolean(account.email_verified) && !pendingEmail;
    const input = document.getElementById("email");
    if (!input.value) input.value = account.email || "";
  }

  let pendingEmail = null;

  function emailForms() {
    document.getElementById("email-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const email = document.getElementById("email").value.trim();
      busy(document.getElementById("send-email-code"), async () => {
        const sent = await api("POST", "/v1/email/verification", email ? { email } : {});
        pendingEmail = sent.email;
        document.getElementById("email-code-form").hidden = false;
        show("We sent a code to " + sent.email + ". Enter it above, or open the link in the mail.", "ok");
      });
    });
    document.getElementById("email-code-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const code = document.getElementById("email-code").value;
      busy(document.getElementById("confirm-email"), async () => {
        const confirmed = await api("POST", "/v1/email/verification/confirm", { code });
        pendingEmail = null;
        document.getElementById("email-code").value = "";
        await load();
        show(confirmed.email + " is confirmed as your recovery email.", "ok");
      });
    });
  }

  function managePage() {
    busy(null, load);
    emailForms();
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

  // --- lost your passkey? (account recovery by email) ----------------------------------------------

  const RECOVERY = "/v1/recovery";
  const STEPS = ["step-email", "step-code", "step-link", "step-passkey", "step-choice"];

  function step(name) {
    for (const id of STEPS) document.getElementById(id).hidden = id !== name;
  }

  // A mailed link carries its secret in the fragment (#token=...), which the browser never sends to a
  // server; it is taken out of the address bar (and so out of the history) at once.
  function takeToken() {
    const token = new URLSearchParams(location.hash.slice(1)).get("token");
    if (location.hash) history.replaceState(null, "", location.pathname);
    return token;
  }

  function recovering(view) {
    if (view.passkey_added) {
      document.getElementById("recover-others").textContent = String(view.other_passkeys);
      step("step-choice");
    } else {
      document.getElementById("recover-account").textContent = view.username;
      step("step-passkey");
    }
    return view;
  }

  function recoverPage() {
    let view = null;
    let email = null;
    const token = takeToken();
    if (token) {
      step("step-link");
    } else {
      api("GET", RECOVERY + "/session")
        .then((current) => (view = recovering(current)))
        .catch(() => step("step-email"));
    }
    document.getElementById("recover-start-form").addEventListener("submit", (event) => {
      event.preventDefault();
      email = document.getElementById("recover-email").value.trim();
      busy(document.getElementById("recover-start"), async () => {
        await api("POST", RECOVERY + "/start", { email });
        document.getElementById("recover-sent-to").textContent = email;
        show("");
        step("step-code");
        document.getElementById("recover-code").focus();
      });
    });
    document.getElementById("recover-again").addEventListener("click", () => {
      show("");
      step("step-email");
    });
    document.getElementById("recover-code-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const code = document.getElementById("recover-code").value;
      busy(document.getElementById("recover-verify"), async () => {
        view = recovering(await api("POST", RECOVERY + "/verify", { email, code }));
        show("");
      });
    });
    document.getElementById("recover-link-continue").addEventListener("click", () => {
      busy(document.getElementById("recover-link-continue"), async () => {
        view = recovering(await api("POST", RECOVERY + "/verify", { token }));
        show("");
      });
    });
    document.getElementById("recover-register").addEventListener("click", () => {
      if (!supported() || !view) return;
      const label = document.getElementById("recover-label").value.trim();
      busy(document.getElementById("recover-register"), async () => {
        show("Follow your browser's prompt to create a passkey…");
        await register(view.username, view.display_name, label || null);
        view = await api("GET", RECOVERY + "/session");
        if (view.other_passkeys > 0) {
          show("New passkey added.", "ok");
          recovering(view);
        } else {
          await api("POST", RECOVERY + "/complete", { remove_other_passkeys: false });
          location.assign("/passkeys/manage");
        }
      });
    });
    for (const [id, remove] of [["remove-others", true], ["keep-others", false]]) {
      document.getElementById(id).addEventListener("click", () => {
        busy(document.getElementById(id), async () => {
          await api("POST", RECOVERY + "/complete", { remove_other_passkeys: remove });
          location.assign("/passkeys/manage");
        });
      });
    }
  }

  // --- email verification by link --------------------------------------------------------------------

  function verifyEmailPage() {
    const token = takeToken();
    const button = document.getElementById("verify-email-continue");
    if (!token) {
      button.hidden = true;
      show("This page is opened from the link in a confirmation mail.", "error");
      return;
    }
    button.addEventListener("click", () => {
      busy(button, async () => {
        const confirmed = await api("POST", "/v1/email/verification/confirm", { token });
        button.hidden = true;
        show(confirmed.email + " is confirmed as your recovery email.", "ok");
      });
    });
  }

  ({
    "sign-up": signUpPage,
    "sign-in": signInPage,
    manage: managePage,
    recover: recoverPage,
    "verify-email": verifyEmailPage,
  })[page]();
})();
