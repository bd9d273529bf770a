"""Play Integrity verdicts: a second Android signal next to Key Attestation.

Decode a token locally with the app's keys (:func:`decode_integrity_token`, classic requests) or at
Google (:class:`PlayIntegrityApiClient`, standard and classic requests), then check the verdict with
:func:`verify_play_integrity` against a :class:`PlayIntegrityPolicy` bound to the server's challenge.
"""

from attest.android.play_integrity.local import LocalTokenDecoder, PlayIntegrityKeys, decode_integrity_token
from attest.android.play_integrity.policy import PlayIntegrityPolicy, nonce_for, request_hash_for
from attest.android.play_integrity.remote import PlayIntegrityApiClient
from attest.android.play_integrity.verdict import (
    AccountDetails,
    AppIntegrity,
    AppLicensingVerdict,
    AppRecognitionVerdict,
    DeviceIntegrity,
    DeviceRecognitionVerdict,
    EnvironmentDetails,
    IntegrityVerdict,
    RequestDetails,
    parse_verdict,
    parse_verdict_json,
)
from attest.android.play_integrity.verify import DeviceLevel, PlayIntegrityResult, verify_play_integrity

__all__ = [
    "AccountDetails",
    "AppIntegrity",
    "AppLicensingVerdict",
    "AppRecognitionVerdict",
    "DeviceIntegrity",
    "DeviceLevel",
    "DeviceRecognitionVerdict",
    "EnvironmentDetails",
    "IntegrityVerdict",
    "LocalTokenDecoder",
    "PlayIntegrityApiClient",
    "PlayIntegrityKeys",
    "PlayIntegrityPolicy",
    "PlayIntegrityResult",
    "RequestDetails",
    "decode_integrity_token",
    "nonce_for",
    "parse_verdict",
    "parse_verdict_json",
    "request_hash_for",
    "verify_play_integrity",
]
