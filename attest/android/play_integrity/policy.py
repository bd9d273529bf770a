"""The relying party's policy for a Play Integrity verdict, and how a verdict is bound to our challenge.

The binding (Google: "Integrity verdicts", "Request details field"; "Make a standard API request",
"Make a classic API request"): the server's single-use challenge is 32 random bytes, handed out as
``base64url`` without padding (:mod:`attest.server.challenges`). The app derives the value it passes
to Play Integrity from the *same* challenge it puts into its Keystore attestation:

- standard requests: ``requestHash = base64url(SHA-256(challenge bytes))`` without padding
  (:func:`request_hash_for`); 43 characters, within Google's 500-character limit;
- classic requests: ``nonce = base64url(challenge bytes)`` without padding, i.e. the challenge string
  exactly as the server returned it (:func:`nonce_for`); 43 characters, within Google's 16 to 500.

Both are compared in constant time; trailing ``=`` padding is tolerated (Android's ``Base64.URL_SAFE``
pads unless ``NO_PADDING`` is given). A verdict carrying either value must match it; a verdict carrying
neither is rejected.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import timedelta

from attest.android.play_integrity.verdict import AppRecognitionVerdict, DeviceRecognitionVerdict
from attest.errors import ConfigurationError


def request_hash_for(challenge: bytes) -> str:
    """The ``requestHash`` a standard request must carry for ``challenge``: unpadded base64url of its SHA-256."""
    return _unpadded_b64url(hashlib.sha256(challenge).digest())


def nonce_for(challenge: bytes) -> str:
    """The ``nonce`` a classic request must carry for ``challenge``: its unpadded base64url (the challenge string)."""
    return _unpadded_b64url(challenge)


@dataclass(frozen=True, slots=True)
class PlayIntegrityPolicy:
    """What a Play Integrity verdict must show to be accepted.

    ``challenge`` is the raw bytes of the server's single-use challenge. ``package_names`` and
    ``certificate_digests`` (SHA-256 of the app signing certificates, 32 bytes each: the values of
    ``apksigner verify --print-certs`` / the Play Console's "App signing key certificate") are
    required. Defaults: PLAY_RECOGNIZED only, MEETS_DEVICE_INTEGRITY required, a verdict at most five
    minutes old (one minute of clock skew into the future), licensing not required."""

    challenge: bytes
    package_names: frozenset[str]
    certificate_digests: frozenset[bytes]
    max_age: timedelta = timedelta(minutes=5)
    clock_skew: timedelta = timedelta(minutes=1)
    allowed_app_verdicts: frozenset[AppRecognitionVerdict] = frozenset({AppRecognitionVerdict.PLAY_RECOGNIZED})
    #: None leaves the device verdict unchecked (the result still reports what it was).
    required_device_verdict: DeviceRecognitionVerdict | None = DeviceRecognitionVerdict.MEETS_DEVICE_INTEGRITY
    require_licensed: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.challenge, bytes) or not self.challenge:
            raise ConfigurationError("the policy needs the expected challenge (non-empty bytes)")
        if not self.package_names or not all(isinstance(p, str) and p for p in self.package_names):
            raise ConfigurationError("the policy needs at least one package name")
        if not self.certificate_digests:
            raise ConfigurationError("the policy needs at least one signing-certificate digest")
        for digest in self.certificate_digests:
            if not isinstance(digest, bytes) or len(digest) != 32:
                raise ConfigurationError(f"certificate digest {digest!r} is not a SHA-256 digest (32 bytes)")
        if not timedelta(seconds=1) <= self.max_age <= timedelta(days=1):
            raise ConfigurationError("max_age must be between 1 second and 1 day")
        if not timedelta(0) <= self.clock_skew <= timedelta(minutes=10):
            raise ConfigurationError("clock_skew must be between 0 and 10 minutes")
        if not self.allowed_app_verdicts or not all(
            isinstance(v, AppRecognitionVerdict) for v in self.allowed_app_verdicts
        ):
            raise ConfigurationError("allowed_app_verdicts must be a non-empty set of AppRecognitionVerdict")
        if self.required_device_verdict is not None and not isinstance(
            self.required_device_verdict, DeviceRecognitionVerdict
        ):
            raise ConfigurationError("required_device_verdict must be a DeviceRecognitionVerdict or None")

    @property
    def expected_request_hash(self) -> str:
        return request_hash_for(self.challenge)

    @property
    def expected_nonce(self) -> str:
        return nonce_for(self.challenge)


def _unpadded_b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
