"""Errors of Apple App Attest verification, each with a stable ``code``.

They extend the families of :mod:`attest.errors`; chain failures reuse that module's ``chain.*``
errors (``chain.signature``, ``chain.expired``, ``chain.untrusted_root``, ``chain.malformed`` ...) and
the nonce extension reuses ``extension.missing`` / ``extension.malformed`` / ``extension.duplicate``.
Each docstring says what the check stops.
"""

from __future__ import annotations

from attest.errors import (
    AppPackageNotAllowed,
    AttestationError,
    ChainError,
    ChallengeMismatch,
    InputError,
    PolicyViolation,
)

# --- attestation --------------------------------------------------------------------------------


class AppAttestMalformed(InputError):
    """The attestation object is not readable CBOR, or its authData is truncated or has trailing or
    inconsistent lengths: stops parser confusion and out-of-bounds reads with crafted encodings."""

    code = "appattest.malformed"


class AppAttestFormat(InputError):
    """The object is CBOR but not an ``apple-appattest`` attestation (other ``fmt``, missing or extra
    members, wrong types, an ``x5c`` of the wrong length): stops another WebAuthn format, or a
    self-attested object, being passed off as an App Attest attestation."""

    code = "appattest.format"


class AppAttestNonceMismatch(ChallengeMismatch):
    """The credential certificate's nonce (extension 1.2.840.113635.100.8.2) is not
    SHA-256(authData || SHA-256(clientData)): stops replay of an old attestation with new client data,
    and authData edited after Apple certified it (Apple steps 2-4)."""

    code = "appattest.nonce_mismatch"


class AppAttestKeyIdMismatch(PolicyViolation):
    """SHA-256 of the certified public key is not the key id the app reported: stops an attacker
    presenting someone else's genuine attestation for the key id they control (Apple step 5)."""

    code = "appattest.key_id_mismatch"


class AppAttestAppIdNotAllowed(AppPackageNotAllowed):
    """authData's rpIdHash is not SHA-256 of an allowed App ID: stops a genuine attestation made by
    another app (another team or bundle) being used against our server (Apple step 6)."""

    code = "appattest.app_id_not_allowed"


class AppAttestCounterNotZero(PolicyViolation):
    """An attestation's counter is not 0: the key was already used, so this is not the fresh
    attestation of a newly generated key (Apple step 7)."""

    code = "appattest.counter_not_zero"


class AppAttestEnvironmentNotAllowed(PolicyViolation):
    """The aaguid names an environment the App ID is not configured for (or no known environment):
    stops development builds, which anyone with a developer account can sign and debug, from being
    accepted by a production server (Apple step 8)."""

    code = "appattest.environment_not_allowed"


class AppAttestCredentialIdMismatch(PolicyViolation):
    """authData's credentialId is not the key id: stops authenticator data that describes a different
    credential than the certified key (Apple step 9)."""

    code = "appattest.credential_id_mismatch"


# --- assertion ----------------------------------------------------------------------------------


class AssertionMalformed(InputError):
    """The assertion is not the CBOR map ``{signature, authenticatorData}`` with a 37-byte
    authenticatorData: stops parser confusion with crafted encodings."""

    code = "assertion.malformed"


class AssertionSignature(AttestationError):
    """The assertion's signature does not verify over the nonce with the stored public key: stops
    forged requests, and client data or authenticator data altered after the device signed them
    (Apple assertion steps 1-3)."""

    code = "assertion.signature"


class AssertionAppIdNotAllowed(AppPackageNotAllowed):
    """The assertion's rpIdHash is not SHA-256 of an allowed App ID: stops assertions made by
    another app's key (Apple assertion step 4)."""

    code = "assertion.app_id_not_allowed"


class AssertionCounterNotIncreasing(PolicyViolation):
    """The assertion's counter is not greater than the stored one: stops replay of a captured
    assertion (Apple assertion step 5)."""

    code = "assertion.counter_not_increasing"


# --- receipt ------------------------------------------------------------------------------------


class ReceiptMalformed(InputError):
    """The receipt is not the documented PKCS #7 SignedData holding a SET of (type, version, value)
    attributes, or a field is missing, repeated or unreadable: stops parser confusion."""

    code = "receipt.malformed"


class ReceiptSignature(AttestationError):
    """The receipt's CMS signature does not verify with its signing certificate: stops edited
    receipts (a lowered risk metric, another App ID or key) (Apple "Verify the receipt" step 1)."""

    code = "receipt.signature"


class ReceiptSignerNotAllowed(ChainError):
    """The receipt's signing certificate is not an App Attest receipt-signing certificate (no marker
    extension 1.2.840.113635.100.12.15, or no digitalSignature key usage): Apple Root CA - G3 anchors
    many other certificates, some with keys held outside Apple; this stops any of them minting
    receipts."""

    code = "receipt.signer_not_allowed"


class ReceiptAppIdNotAllowed(AppPackageNotAllowed):
    """The receipt's App ID (field 2) is not an allowed App ID: stops another app's receipt being
    used to vouch for our attested key (Apple receipt step 4)."""

    code = "receipt.app_id_not_allowed"


class ReceiptEnvironmentNotAllowed(PolicyViolation):
    """The receipt's environment (field 7: ``sandbox`` or ``production``) is not one the App ID is
    configured for, or is absent: stops sandbox receipts, and their risk metrics, being used in
    production."""

    code = "receipt.environment_not_allowed"


class ReceiptPublicKeyMismatch(PolicyViolation):
    """The receipt's attested public key (field 3) is not the key stored at attestation: stops a
    receipt of another key (with a better risk metric) being swapped in (Apple receipt step 6)."""

    code = "receipt.public_key_mismatch"


class ReceiptStale(PolicyViolation):
    """The receipt's creation time (field 12) is older than the policy's maximum age: stops replay of
    an old receipt in place of a fresh one (Apple receipt step 5)."""

    code = "receipt.stale"


class ReceiptFromFuture(PolicyViolation):
    """The receipt's creation time is later than the verification time plus the allowed clock skew:
    a receipt cannot come from the future, so the receipt or the clock is wrong."""

    code = "receipt.created_in_future"


class ReceiptExpired(PolicyViolation):
    """The receipt is past its expiration time (field 21): Apple no longer refreshes it, so it is not
    sent; stops requests that can only fail, and reliance on a metric that can no longer be updated."""

    code = "receipt.expired"


# --- receipt refresh (Apple's attestationData endpoint) ------------------------------------------


class ReceiptRefreshError(AttestationError):
    """Apple's receipt endpoint did not return a new receipt (transport error, unexpected status, or
    an unusable body). ``status_code`` is the HTTP status when there was a response."""

    code = "receipt.refresh_failed"

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ReceiptRefreshRejected(ReceiptRefreshError):
    """Apple rejected the request (HTTP 400 or 401): the receipt or our developer token (team id, key
    id, ES256 key) is wrong for this environment; retrying the same request cannot succeed."""

    code = "receipt.refresh_rejected"


class ReceiptRefreshNoData(ReceiptRefreshError):
    """Apple holds no data for this receipt (HTTP 404; data is kept for about 30 days): keep using
    the last valid receipt."""

    code = "receipt.refresh_no_data"


class ReceiptRefreshRateLimited(ReceiptRefreshError):
    """Apple throttled the request (HTTP 429): back off before retrying."""

    code = "receipt.refresh_rate_limited"
