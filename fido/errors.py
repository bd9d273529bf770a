"""Errors of the passkey package, in the `attest` hierarchy (:class:`attest.errors.AttestationError`).

Families, each with stable codes: ``webauthn.*`` (a ceremony response failed a check of WebAuthn Level 3
section 7), ``session.*`` (who is signed in), ``passkey.*`` (accounts and their passkeys), ``email.*`` (the
account's address, its verification and mail delivery) and ``recovery.*`` (getting back in by email).
Every class docstring says what the check stops. ``message`` names the value that failed and never
contains a secret (no challenge, session token or private material).
"""

from __future__ import annotations

from attest.errors import AttestationError

# --- webauthn: the ceremony response ------------------------------------------------------------


class WebAuthnError(AttestationError):
    """A registration or authentication response failed a check of WebAuthn Level 3 section 7."""

    code = "webauthn.invalid"


class ResponseMalformed(WebAuthnError):
    """The PublicKeyCredential JSON is not the documented shape (section 5.1.8: missing members,
    wrong types, values that are not base64url): nothing in it can be trusted or even read."""

    code = "webauthn.malformed"


class ClientDataMalformed(ResponseMalformed):
    """clientDataJSON is not UTF-8 JSON with the members of CollectedClientData (section 5.8.1):
    stops parser confusion with crafted client data."""

    code = "webauthn.client_data"


class AuthenticatorDataMalformed(ResponseMalformed):
    """authenticatorData does not follow its byte layout (section 6.1): too short, trailing bytes,
    unreadable CBOR. Stops parser differentials between what was signed and what is read."""

    code = "webauthn.authenticator_data"


class AttestationObjectMalformed(ResponseMalformed):
    """attestationObject is not the CBOR map {fmt, attStmt, authData} (section 6.5.4)."""

    code = "webauthn.attestation_object"


class PublicKeyInvalid(ResponseMalformed):
    """The credential public key is not a COSE_Key we can use (section 6.5.1.1): unknown key type,
    a curve that does not match its algorithm, a point not on the curve, an RSA key under 2048 bits."""

    code = "webauthn.public_key"


class CredentialIdInvalid(ResponseMalformed):
    """``id`` and ``rawId`` disagree, the credential ID is longer than 1023 bytes (section 7.1 step 25),
    or the attested credential ID is not ``rawId``: stops one credential posing as another."""

    code = "webauthn.credential_id"


class TypeMismatch(WebAuthnError):
    """``C.type`` is not the ceremony's (section 7.1 step 7, 7.2 step 10): stops an assertion being
    replayed as a registration and the reverse."""

    code = "webauthn.type"


class ChallengeMismatch(WebAuthnError):
    """``C.challenge`` is not the challenge of this ceremony (section 7.1 step 8, 7.2 step 11): stops
    replay of a response signed for another ceremony."""

    code = "webauthn.challenge"


class ChallengeUnknown(WebAuthnError):
    """No ceremony with this id was started (or it was started for another ceremony kind): stops
    made-up ceremonies."""

    code = "webauthn.challenge_unknown"


class ChallengeExpired(WebAuthnError):
    """The ceremony's short lifetime has passed: bounds the window for relaying a response."""

    code = "webauthn.challenge_expired"


class ChallengeUsed(WebAuthnError):
    """The ceremony was already completed or failed once: every challenge is single use (section 13.4.3),
    which stops replay."""

    code = "webauthn.challenge_used"


class ChallengeBinding(WebAuthnError):
    """The ceremony was started in another browser session (its binding cookie is missing or
    different): stops a ceremony id lifted from one browser being completed in another (login CSRF,
    session fixation)."""

    code = "webauthn.challenge_binding"


class OriginNotAllowed(WebAuthnError):
    """``C.origin`` is not one of our origins, or the ceremony ran in a cross-origin frame (section 7.1
    steps 9-11, 7.2 steps 12-14, section 13.4.9): stops phishing sites relaying a ceremony."""

    code = "webauthn.origin"


class TokenBindingUnsupported(WebAuthnError):
    """``C.tokenBinding`` claims a state that does not match our TLS connections (Level 2 section 7.1
    step 10; Level 3 removed Token Binding): we never negotiate Token Binding, so "present" is a
    response made on another connection, and a status no published level defines is refused
    rather than guessed at."""

    code = "webauthn.token_binding"


class RpIdMismatch(WebAuthnError):
    """The authenticator signed for another RP ID (section 7.1 step 14, 7.2 step 15): stops a
    credential of another site being used here."""

    code = "webauthn.rp_id"


class UserNotPresent(WebAuthnError):
    """The UP flag is clear (section 7.1 step 15, 7.2 step 16): nobody touched the authenticator, so
    malware may be driving it."""

    code = "webauthn.user_presence"


class UserNotVerified(WebAuthnError):
    """User verification was required and the UV flag is clear (section 7.1 step 16, 7.2 step 17):
    whoever holds the authenticator did not prove to be its owner (PIN, biometric)."""

    code = "webauthn.user_verification"


class BackupFlagsInvalid(WebAuthnError):
    """BS is set without BE (section 7.1 step 17, 7.2 step 18), or BE differs from the value registered
    (section 7.2 step 19): backup eligibility is fixed when a credential is created, so a change means
    a different authenticator answered."""

    code = "webauthn.backup_flags"


class AlgorithmNotAllowed(WebAuthnError):
    """The credential's algorithm is not one we offered in pubKeyCredParams (section 7.1 step 20)."""

    code = "webauthn.algorithm"


class AttestationFormatUnsupported(WebAuthnError):
    """``fmt`` is not a registered attestation statement format we verify (section 7.1 step 21)."""

    code = "webauthn.attestation_format"


class AttestationInvalid(WebAuthnError):
    """The attestation statement does not verify by its format's procedure (section 7.1 step 22,
    section 8): stops forged or tampered attestations."""

    code = "webauthn.attestation"


class AttestationUntrusted(WebAuthnError):
    """The policy requires certified authenticators and the attestation does not chain to a trust
    anchor (section 7.1 steps 23, 24 and 29): stops unknown or software authenticators where a
    deployment allows only certified ones."""

    code = "webauthn.attestation_untrusted"


class CredentialExists(WebAuthnError):
    """This credential ID is already registered (section 7.1 step 26): stops one credential being bound
    to a second account."""

    code = "webauthn.credential_exists"


class CredentialUnknown(WebAuthnError):
    """No registered passkey has this credential ID (it was never registered here, or was removed)."""

    code = "webauthn.unknown_credential"


class CredentialNotAllowed(WebAuthnError):
    """The credential is not one the ceremony allowed (section 7.2 steps 5 and 6): stops a passkey of
    one account completing a sign-in that was started for another."""

    code = "webauthn.credential_not_allowed"


class UserHandleMismatch(WebAuthnError):
    """``response.userHandle`` is missing from a discoverable sign-in, or names another account than the
    credential's owner (section 7.2 step 6)."""

    code = "webauthn.user_handle"


class SignatureInvalid(WebAuthnError):
    """The assertion signature does not verify with the registered public key (section 7.2 step 21):
    stops forged and tampered assertions."""

    code = "webauthn.signature"


class SignCountRegression(WebAuthnError):
    """The signature counter did not increase (section 7.2 step 22, section 6.1.1): a signal that the
    authenticator may have been cloned, so the sign-in is refused and the event audited."""

    code = "webauthn.counter"


# --- session: who is signed in --------------------------------------------------------------------


class SessionError(AttestationError):
    """The request needs a signed-in user."""

    code = "session.invalid"


class SessionRequired(SessionError):
    """No valid session cookie came with the request (absent, unknown, ended or expired)."""

    code = "session.required"


# --- passkey: accounts and their passkeys ---------------------------------------------------------


class PasskeyError(AttestationError):
    """An account or passkey operation is refused."""

    code = "passkey.error"


class UsernameInvalid(PasskeyError):
    """The username is not 3 to 64 characters of letters, digits and ``. _ @ + -``: stops look-alike
    and control characters in names users see."""

    code = "passkey.username_invalid"


class UsernameTaken(PasskeyError):
    """An account with this username exists; sign in to add a passkey to it."""

    code = "passkey.username_taken"


class AccountMismatch(PasskeyError):
    """A signed-in user asked to register a passkey for another username: passkeys are added only to
    the signed-in account."""

    code = "passkey.account_mismatch"


class UnknownUser(PasskeyError):
    """No account has this username."""

    code = "passkey.unknown_user"


class PasskeyNotFound(PasskeyError):
    """The signed-in user has no passkey with this credential ID."""

    code = "passkey.not_found"


class LastPasskey(PasskeyError):
    """Removing the account's last passkey would lock the user out: allowed only when a verified
    recovery email exists."""

    code = "passkey.last_passkey"


class LabelInvalid(PasskeyError):
    """A passkey label must be 1 to 64 printable characters."""

    code = "passkey.label_invalid"


# --- login_token: the signed login result -----------------------------------------------------------


class LoginTokenInvalid(AttestationError):
    """A login result JWT does not verify: bad signature, unknown key, wrong ``typ`` or issuer, expired,
    or missing claims. Stops forged, replayed-after-expiry and cross-purpose tokens."""

    code = "login_token.invalid"


# --- email: the account's email address and its verification -----------------------------------------


class EmailError(AttestationError):
    """An email address, or the proof of owning one, is refused."""

    code = "email.error"


class EmailInvalid(EmailError):
    """The address is not a plain ``local@domain`` of RFC 5321 section 4.1.2 within the lengths of section
    4.5.3.1 (ASCII only, no quoting, no comments): stops header injection and look-alike addresses before
    anything is mailed or stored."""

    code = "email.invalid"


class EmailMissing(EmailError):
    """The account has no email address and the request named none."""

    code = "email.missing"


class EmailAlreadyVerified(EmailError):
    """This address is already the account's verified address: nothing to prove again."""

    code = "email.already_verified"


class EmailTaken(EmailError):
    """Another account has verified this address. Reported only after the code or link proved that the
    requester reads the mailbox (so it reveals nothing the mailbox owner does not know): one verified
    address recovers exactly one account."""

    code = "email.taken"


class EmailNotRequested(EmailError):
    """No verification of an address is pending for this account (none requested, or a newer one
    replaced it)."""

    code = "email.not_requested"


class EmailCodeInvalid(EmailError):
    """The code does not match the pending verification: stops guessing (each guess uses one of the five
    attempts of NIST SP 800-63B section 5.2.2)."""

    code = "email.code_invalid"


class EmailCodeLocked(EmailError):
    """Five wrong codes were tried for this verification (NIST SP 800-63B section 5.2.2): the code can no
    longer be used; request a new one, or follow the link."""

    code = "email.locked"


class EmailTokenInvalid(EmailError):
    """The link's token is not one we issued, or a newer verification replaced it: stops forged links."""

    code = "email.token_invalid"


class EmailSecretExpired(EmailError):
    """The code or link is older than its lifetime: bounds the window for a leaked mail to be used."""

    code = "email.expired"


class EmailSecretUsed(EmailError):
    """The code or link was already used: every secret is single use, which stops replay."""

    code = "email.used"


class MailDeliveryFailed(EmailError):
    """A mail could not be handed to the SMTP server this time (connection refused, timeout, TLS failure,
    4xx reply; RFC 5321 section 4.2.1): the outbox keeps it and retries later. Never an HTTP answer."""

    code = "email.delivery_failed"


class MailDeliveryRefused(MailDeliveryFailed):
    """The SMTP server refused the mail for good (a 5xx reply to the sender or recipient, RFC 5321
    section 4.2.1): retrying cannot help, so the outbox marks it failed and keeps it."""

    code = "email.delivery_refused"


# --- recovery: getting back in by proving the email address -------------------------------------------


class RecoveryError(AttestationError):
    """An account recovery step is refused."""

    code = "recovery.error"


class RecoveryCodeInvalid(RecoveryError):
    """The email and code do not match a live recovery. One answer for every reason (unknown address,
    unverified address, no recovery started, wrong code, expired, used, five wrong codes already):
    stops the code path from telling which addresses have accounts. ``reason`` names the real cause
    for the audit log only."""

    code = "recovery.code_invalid"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class RecoveryTokenInvalid(RecoveryError):
    """The link's token is not one we issued, or a newer recovery replaced it: stops forged links."""

    code = "recovery.token_invalid"


class RecoveryExpired(RecoveryError):
    """The recovery link is older than 15 minutes: bounds the window for a leaked mail to be used."""

    code = "recovery.expired"


class RecoveryUsed(RecoveryError):
    """The recovery link was already used (or its code was): every recovery secret is single use."""

    code = "recovery.used"


class RecoverySessionRequired(RecoveryError):
    """No live recovery session came with the request (absent, unknown, ended or expired): only a verified
    recovery secret opens one."""

    code = "recovery.session_required"


class RecoveryPasskeyAdded(RecoveryError):
    """This recovery session already added its one passkey: a recovery adds exactly one, so a stolen
    recovery cookie cannot enrol more authenticators."""

    code = "recovery.passkey_added"


class RecoveryPasskeyMissing(RecoveryError):
    """The other passkeys can be removed only after the recovery added a new one: stops a recovery from
    leaving the account without any passkey."""

    code = "recovery.passkey_missing"
