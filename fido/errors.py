"""Errors of the passkey package, in the `attest` hierarchy (:class:`attest.errors.AttestationError`).

Three families, each with stable codes: ``webauthn.*`` (a ceremony response failed a check of WebAuthn
Level 3 section 7), ``session.*`` (who is signed in) and ``passkey.*`` (accounts and their passkeys).
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
