"""Errors of Play Integrity verdict checking, each with a stable ``code`` (family ``integrity.``).

They extend the families of :mod:`attest.errors`. Each docstring says what the check stops. Sections
cited are of Google's "Integrity verdicts" page
(https://developer.android.com/google/play/integrity/verdicts) unless another page is named.
"""

from __future__ import annotations

from attest.errors import (
    AppPackageNotAllowed,
    AppSignerNotAllowed,
    AttestationError,
    ChallengeMismatch,
    InputError,
    PolicyViolation,
)

# --- decoding -----------------------------------------------------------------------------------


class IntegrityMalformed(InputError):
    """The integrity token, or the verdict inside it, is not the documented shape (not a compact
    JWE of a compact JWS, oversized, a header outside the allow-list, a payload that is not the
    documented JSON, or a token Google's decoder refuses as invalid): stops parser confusion and
    algorithm-substitution tricks (``alg: none``, ``dir``, compression bombs) before any key is used."""

    code = "integrity.malformed"


class IntegrityDecrypt(AttestationError):
    """The token does not decrypt with the app's decryption key (A256KW + A256GCM): it was encrypted
    for another app, or its ciphertext or header was altered ("Decrypt and verify the integrity
    verdict", classic requests); GCM authentication stops edited tokens here."""

    code = "integrity.decrypt"


class IntegritySignature(AttestationError):
    """The verdict's ES256 signature does not verify with the app's verification key: stops verdicts
    that Google did not sign (a forged payload wrapped with a leaked decryption key)."""

    code = "integrity.signature"


# --- request details ----------------------------------------------------------------------------


class IntegrityPackageMismatch(AppPackageNotAllowed):
    """``requestDetails.requestPackageName`` or ``appIntegrity.packageName`` is not the app the
    client is registered for (and the key attestation named): stops a genuine verdict obtained by
    another app being presented for ours ("Request details field")."""

    code = "integrity.package_mismatch"


class IntegrityRequestHashMismatch(ChallengeMismatch):
    """``requestHash`` (standard requests) or ``nonce`` (classic requests) is not bound to the
    challenge this request consumed, or is absent: stops replay of a verdict captured for another
    request, and verdicts harvested from a healthy device for use elsewhere ("Request details field")."""

    code = "integrity.request_hash_mismatch"


class IntegrityStale(PolicyViolation):
    """``timestampMillis`` is older than the policy's maximum age: stops replay of an old verdict,
    e.g. one obtained before the device was rooted ("Request details field": check the timestamp)."""

    code = "integrity.stale"


class IntegrityTimestampInFuture(PolicyViolation):
    """``timestampMillis`` is later than the verification time plus the allowed clock skew: a verdict
    cannot come from the future, so the verdict or our clock is wrong; stops a future-dated verdict
    outliving the freshness window."""

    code = "integrity.timestamp_in_future"


# --- the verdicts -------------------------------------------------------------------------------


class IntegrityAppNotRecognized(PolicyViolation):
    """``appIntegrity.appRecognitionVerdict`` is not an accepted value (PLAY_RECOGNIZED by default):
    stops modified, re-signed or side-loaded builds that Google Play does not recognise
    ("Application integrity field")."""

    code = "integrity.app_not_recognized"


class IntegrityCertificateNotAllowed(AppSignerNotAllowed):
    """None of ``appIntegrity.certificateSha256Digest`` is an allowed signing-certificate digest, or
    none is given: stops a repackaged app signed with another key ("Application integrity field")."""

    code = "integrity.certificate_not_allowed"


class IntegrityDeviceVerdict(PolicyViolation):
    """``deviceIntegrity.deviceRecognitionVerdict`` lacks the required label (MEETS_DEVICE_INTEGRITY
    or MEETS_STRONG_INTEGRITY): stops rooted or uncertified devices, emulators and hooked
    environments ("Device integrity field")."""

    code = "integrity.device_verdict"


class IntegrityUnlicensed(PolicyViolation):
    """``accountDetails.appLicensingVerdict`` is not LICENSED while the policy requires it: stops
    copies of a paid app that the user did not get from Google Play ("Account details field")."""

    code = "integrity.unlicensed"


class IntegrityTokenMissing(PolicyViolation):
    """The client's policy requires a Play Integrity token and the request carries none: stops a
    client downgrading to the key attestation alone to avoid the app and device verdicts."""

    code = "integrity.missing"


# --- Google's decoding service ------------------------------------------------------------------


class IntegrityRemoteUnavailable(AttestationError):
    """Google's ``decodeIntegrityToken`` (or the OAuth token endpoint before it) could not be used:
    a transport error, a timeout, an oversized or unreadable answer, or a refusal of our service
    account. Nothing about the device was learned; fail closed and retry later. ``status_code`` is
    the HTTP status when there was a response."""

    code = "integrity.remote_unavailable"

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
