"""Check a decoded Play Integrity verdict against a policy: pure, one named function per check.

Order follows Google's "Integrity verdicts" page (https://developer.android.com/google/play/integrity/verdicts):
first the ``requestDetails`` ("You must first check that the values in the requestDetails field match
those of the original request"), then each verdict:

1. request package: ``requestPackageName`` is ours ("Request details field");
2. request binding: ``requestHash`` / ``nonce`` is bound to our challenge (:mod:`.policy`);
3. timestamp: ``timestampMillis`` is fresh and not in the future;
4. app recognition: ``appRecognitionVerdict`` is accepted ("Application integrity field");
5. app package: ``appIntegrity.packageName`` is ours (the package Play verified, unlike the request's);
6. certificate: a ``certificateSha256Digest`` is an allowed signing certificate;
7. device: ``deviceRecognitionVerdict`` holds the required label ("Device integrity field");
8. licensing: ``appLicensingVerdict`` is LICENSED when required ("Account details field").
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from attest.android.play_integrity.errors import (
    IntegrityAppNotRecognized,
    IntegrityCertificateNotAllowed,
    IntegrityDeviceVerdict,
    IntegrityPackageMismatch,
    IntegrityRequestHashMismatch,
    IntegrityStale,
    IntegrityTimestampInFuture,
    IntegrityUnlicensed,
)
from attest.android.play_integrity.policy import PlayIntegrityPolicy
from attest.android.play_integrity.verdict import (
    AppLicensingVerdict,
    AppRecognitionVerdict,
    DeviceRecognitionVerdict,
    IntegrityVerdict,
)
from attest.errors import ConfigurationError

#: The steps in the order they run; ``on_step`` hears each label once it has passed.
STEPS = (
    "request package",
    "request binding",
    "timestamp",
    "app recognition",
    "app package",
    "certificate",
    "device",
    "licensing",
)


class DeviceLevel(StrEnum):
    """The strongest device label a verdict carried (``none`` when it carried none)."""

    NONE = "none"
    BASIC = "basic"
    DEVICE = "device"
    STRONG = "strong"
    VIRTUAL = "virtual"


_LEVELS = (
    (DeviceRecognitionVerdict.MEETS_STRONG_INTEGRITY, DeviceLevel.STRONG),
    (DeviceRecognitionVerdict.MEETS_DEVICE_INTEGRITY, DeviceLevel.DEVICE),
    (DeviceRecognitionVerdict.MEETS_BASIC_INTEGRITY, DeviceLevel.BASIC),
    (DeviceRecognitionVerdict.MEETS_VIRTUAL_INTEGRITY, DeviceLevel.VIRTUAL),
)


@dataclass(frozen=True, slots=True)
class PlayIntegrityResult:
    """What a verified verdict established."""

    verdict: IntegrityVerdict
    device_level: DeviceLevel
    #: appRecognitionVerdict was PLAY_RECOGNIZED.
    app_recognized: bool
    #: True for LICENSED, False for UNLICENSED, None when not evaluated or absent.
    licensed: bool | None
    #: Verification time minus timestampMillis (negative within the allowed clock skew).
    age: timedelta


def verify_play_integrity(
    verdict: IntegrityVerdict,
    policy: PlayIntegrityPolicy,
    *,
    at: datetime,
    on_step: Callable[[str], None] | None = None,
) -> PlayIntegrityResult:
    """Run every check of :data:`STEPS` in order; raise the first failure's error (an
    :class:`~attest.errors.AttestationError` with a stable ``integrity.*`` code)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ConfigurationError("the verification time must be timezone-aware")
    passed = on_step or _ignore
    check_request_package(verdict, policy)
    passed("request package")
    check_request_binding(verdict, policy)
    passed("request binding")
    check_timestamp(verdict, policy, at=at)
    passed("timestamp")
    for label, check in _VERDICT_CHECKS:
        check(verdict, policy)
        passed(label)
    return PlayIntegrityResult(
        verdict=verdict,
        device_level=device_level_of(verdict),
        app_recognized=verdict.app_integrity.app_recognition_verdict == AppRecognitionVerdict.PLAY_RECOGNIZED,
        licensed=_licensed(verdict),
        age=at - verdict.request_details.timestamp,
    )


# --- the checks ---------------------------------------------------------------------------------


def check_request_package(verdict: IntegrityVerdict, policy: PlayIntegrityPolicy) -> None:
    """``requestDetails.requestPackageName`` is an allowed package ("Request details field")."""
    name = verdict.request_details.request_package_name
    if name not in policy.package_names:
        raise IntegrityPackageMismatch(
            f"requestPackageName is {name!r}; the policy allows {sorted(policy.package_names)}"
        )


def check_request_binding(verdict: IntegrityVerdict, policy: PlayIntegrityPolicy) -> None:
    """``requestHash`` (standard) and/or ``nonce`` (classic) equal the values derived from our
    challenge, in constant time; at least one is present ("Request details field"; binding in :mod:`.policy`)."""
    details = verdict.request_details
    if details.request_hash is None and details.nonce is None:
        raise IntegrityRequestHashMismatch("the verdict carries neither requestHash nor nonce; it is bound to nothing")
    if details.request_hash is not None and not _same(details.request_hash, policy.expected_request_hash):
        raise IntegrityRequestHashMismatch(
            "requestHash is not base64url(SHA-256(challenge)) of the challenge this request consumed"
        )
    if details.nonce is not None and not _same(details.nonce, policy.expected_nonce):
        raise IntegrityRequestHashMismatch("nonce is not the challenge this request consumed")


def check_timestamp(verdict: IntegrityVerdict, policy: PlayIntegrityPolicy, *, at: datetime) -> None:
    """``timestampMillis`` is at most ``max_age`` old and at most ``clock_skew`` ahead of ``at``
    ("Request details field": verify the timestamp is recent)."""
    issued = verdict.request_details.timestamp
    if issued > at + policy.clock_skew:
        raise IntegrityTimestampInFuture(
            f"timestampMillis is {issued.isoformat()}, later than {at.isoformat()} plus {policy.clock_skew}"
        )
    if at - issued > policy.max_age:
        raise IntegrityStale(
            f"timestampMillis is {issued.isoformat()}, {at - issued} before {at.isoformat()}; "
            f"the policy allows at most {policy.max_age}"
        )


def check_app_recognition(verdict: IntegrityVerdict, policy: PlayIntegrityPolicy) -> None:
    """``appRecognitionVerdict`` is an accepted value, PLAY_RECOGNIZED by default ("Application integrity field")."""
    observed = verdict.app_integrity.app_recognition_verdict
    if observed not in {v.value for v in policy.allowed_app_verdicts}:
        allowed = ", ".join(sorted(v.value for v in policy.allowed_app_verdicts))
        raise IntegrityAppNotRecognized(f"appRecognitionVerdict is {observed}; the policy allows {allowed}")


def check_app_package(verdict: IntegrityVerdict, policy: PlayIntegrityPolicy) -> None:
    """``appIntegrity.packageName`` is present and allowed: the package Play checked, where the
    request's package name "might be spoofed in the middle of the request" ("Application integrity field")."""
    name = verdict.app_integrity.package_name
    if name is None or name not in policy.package_names:
        raise IntegrityPackageMismatch(
            f"appIntegrity.packageName is {name!r}; the policy allows {sorted(policy.package_names)}"
        )


def check_certificate(verdict: IntegrityVerdict, policy: PlayIntegrityPolicy) -> None:
    """One of ``appIntegrity.certificateSha256Digest`` is an allowed signing-certificate digest
    ("Application integrity field")."""
    digests = verdict.app_integrity.certificate_sha256_digests
    if not any(digest in policy.certificate_digests for digest in digests):
        allowed = sorted(d.hex() for d in policy.certificate_digests)
        raise IntegrityCertificateNotAllowed(
            f"certificateSha256Digest {[d.hex() for d in digests]} holds none of the allowed {allowed}"
        )


def check_device(verdict: IntegrityVerdict, policy: PlayIntegrityPolicy) -> None:
    """``deviceRecognitionVerdict`` contains the required label ("Device integrity field")."""
    required = policy.required_device_verdict
    labels = verdict.device_integrity.device_recognition_verdict
    if required is not None and required.value not in labels:
        raise IntegrityDeviceVerdict(f"deviceRecognitionVerdict is {list(labels)}; the policy requires {required}")


def check_licensing(verdict: IntegrityVerdict, policy: PlayIntegrityPolicy) -> None:
    """``appLicensingVerdict`` is LICENSED when the policy requires it ("Account details field")."""
    if not policy.require_licensed:
        return
    account = verdict.account_details
    observed = None if account is None else account.app_licensing_verdict
    if observed != AppLicensingVerdict.LICENSED:
        raise IntegrityUnlicensed(f"appLicensingVerdict is {observed}; the policy requires LICENSED")


_VERDICT_CHECKS: tuple[tuple[str, Callable[[IntegrityVerdict, PlayIntegrityPolicy], None]], ...] = (
    ("app recognition", check_app_recognition),
    ("app package", check_app_package),
    ("certificate", check_certificate),
    ("device", check_device),
    ("licensing", check_licensing),
)


def device_level_of(verdict: IntegrityVerdict) -> DeviceLevel:
    """The strongest label of ``deviceRecognitionVerdict`` (strong > device > basic; virtual alone)."""
    labels = verdict.device_integrity.device_recognition_verdict
    for label, level in _LEVELS:
        if label.value in labels:
            return level
    return DeviceLevel.NONE


def _licensed(verdict: IntegrityVerdict) -> bool | None:
    if verdict.account_details is None:
        return None
    observed = verdict.account_details.app_licensing_verdict
    if observed == AppLicensingVerdict.LICENSED:
        return True
    if observed == AppLicensingVerdict.UNLICENSED:
        return False
    return None


def _same(observed: str, expected: str) -> bool:
    """Constant-time equality, tolerating trailing ``=`` padding on the observed value."""
    return hmac.compare_digest(observed.rstrip("=").encode("utf-8"), expected.encode("ascii"))


def _ignore(_label: str) -> None:
    return None
