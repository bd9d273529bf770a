"""Parsing the verdict JSON: Google's documented shape, strict types, unknown members ignored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from attest.android.play_integrity import (
    AppRecognitionVerdict,
    EnvironmentDetails,
    parse_verdict,
    parse_verdict_json,
)
from attest.android.play_integrity.errors import IntegrityMalformed
from tests.attest.android.play_integrity import factory as f

#: The example of Google's "Integrity verdicts" page, with every optional part opted in.
DOCUMENTED = {
    "requestDetails": {
        "requestPackageName": "com.package.name",
        "requestHash": "aGVsbG8gd29scmQgdGhlcmU",
        "timestampMillis": "1675655009345",
    },
    "appIntegrity": {
        "appRecognitionVerdict": "PLAY_RECOGNIZED",
        "packageName": "com.package.name",
        "certificateSha256Digest": [f.b64url(bytes(range(32)))],
        "versionCode": "42",
    },
    "deviceIntegrity": {
        "deviceRecognitionVerdict": ["MEETS_DEVICE_INTEGRITY"],
        "recentDeviceActivity": {"deviceActivityLevel": "LEVEL_2"},
        "deviceAttributes": {"sdkVersion": 33},
    },
    "accountDetails": {"appLicensingVerdict": "LICENSED"},
    "environmentDetails": {
        "playProtectVerdict": "NO_ISSUES",
        "appAccessRiskVerdict": {"appsDetected": ["KNOWN_INSTALLED", "UNKNOWN_CAPTURING"]},
    },
}


def test_documented_example() -> None:
    verdict = parse_verdict_json(json.dumps(DOCUMENTED))
    assert verdict.request_details.timestamp_millis == 1675655009345
    assert verdict.request_details.timestamp.isoformat() == "2023-02-06T03:43:29.345000+00:00"
    assert verdict.app_integrity.app_recognition_verdict == AppRecognitionVerdict.PLAY_RECOGNIZED
    assert verdict.app_integrity.certificate_sha256_digests == (bytes(range(32)),)
    assert verdict.device_integrity.sdk_version == 33
    assert verdict.device_integrity.device_activity_level == "LEVEL_2"
    assert verdict.environment_details == EnvironmentDetails("NO_ISSUES", ("KNOWN_INSTALLED", "UNKNOWN_CAPTURING"))
    assert verdict.account_details is not None
    assert verdict.account_details.app_licensing_verdict == "LICENSED"


def test_minimal_verdict_and_unknown_members() -> None:
    """An UNEVALUATED app has no package or digests; a device meeting nothing has no labels."""
    minimal = {
        "requestDetails": {"requestPackageName": "p.q", "nonce": "bm9uY2U", "timestampMillis": 5, "new": 1},
        "appIntegrity": {"appRecognitionVerdict": "SOMETHING_NEW"},
        "deviceIntegrity": {},
        "futureDetails": {"x": [1, 2]},
    }
    verdict = parse_verdict(minimal)
    assert verdict.app_integrity.package_name is None
    assert verdict.app_integrity.certificate_sha256_digests == ()
    assert verdict.app_integrity.app_recognition_verdict == "SOMETHING_NEW"
    assert verdict.device_integrity.device_recognition_verdict == ()
    assert verdict.account_details is None
    assert verdict.environment_details is None


def test_padded_certificate_digest_is_read() -> None:
    padded = f.changed(DOCUMENTED, "appIntegrity.certificateSha256Digest", [f.b64url(bytes(32)) + "="])
    assert parse_verdict(padded).app_integrity.certificate_sha256_digests == (bytes(32),)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("requestDetails", ...),
        ("requestDetails", []),
        ("appIntegrity", ...),
        ("deviceIntegrity", ...),
        ("deviceIntegrity", "MEETS_DEVICE_INTEGRITY"),
        ("accountDetails", "LICENSED"),
        ("accountDetails", {}),
        ("environmentDetails", []),
        ("requestDetails.requestPackageName", ...),
        ("requestDetails.requestPackageName", 7),
        ("requestDetails.timestampMillis", ...),
        ("requestDetails.timestampMillis", "-1"),
        ("requestDetails.timestampMillis", "\uff11\uff12\uff13"),  # fullwidth digits
        ("requestDetails.timestampMillis", "1e3"),
        ("requestDetails.timestampMillis", 1.5),
        ("requestDetails.timestampMillis", True),
        ("requestDetails.timestampMillis", -5),
        ("requestDetails.timestampMillis", "99999999999999999999"),
        ("requestDetails.timestampMillis", str(253_402_300_800_000)),
        ("requestDetails.requestHash", ["x"]),
        ("requestDetails.nonce", 1),
        ("appIntegrity.appRecognitionVerdict", ...),
        ("appIntegrity.appRecognitionVerdict", ["PLAY_RECOGNIZED"]),
        ("appIntegrity.packageName", {}),
        ("appIntegrity.certificateSha256Digest", "abc"),
        ("appIntegrity.certificateSha256Digest", [1]),
        ("appIntegrity.certificateSha256Digest", ["x" * 43]),
        ("appIntegrity.certificateSha256Digest", [f.b64url(bytes(20))]),
        ("appIntegrity.certificateSha256Digest", ["+" * 43]),
        ("appIntegrity.certificateSha256Digest", ["é" * 43]),
        ("appIntegrity.certificateSha256Digest", [f.b64url(bytes(32))] * 65),
        ("appIntegrity.versionCode", "4.2"),
        ("deviceIntegrity.deviceRecognitionVerdict", "MEETS_DEVICE_INTEGRITY"),
        ("deviceIntegrity.deviceRecognitionVerdict", [None]),
        ("deviceIntegrity.deviceAttributes", 33),
        ("deviceIntegrity.deviceAttributes.sdkVersion", "thirty"),
        ("deviceIntegrity.recentDeviceActivity.deviceActivityLevel", 2),
        ("accountDetails.appLicensingVerdict", True),
        ("environmentDetails.playProtectVerdict", 0),
        ("environmentDetails.appAccessRiskVerdict", "none"),
        ("environmentDetails.appAccessRiskVerdict.appsDetected", [1]),
    ],
)
def test_wrong_shapes_are_malformed(path: str, value: Any) -> None:
    with pytest.raises(IntegrityMalformed):
        parse_verdict(f.changed(DOCUMENTED, path, value))


def test_certificate_digest_with_stray_bits_is_malformed() -> None:
    text = f.b64url(bytes(32))  # ends in "A"; "B" sets a bit that decoding drops
    with pytest.raises(IntegrityMalformed):
        parse_verdict(f.changed(DOCUMENTED, "appIntegrity.certificateSha256Digest", [text[:-1] + "B"]))


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"[]",
        b"null",
        b'{"requestDetails": {}, "requestDetails": {}}',
        b'{"x": NaN}',
        b'{"x": Infinity}',
        b"\xff\xfe\x00",
        b"[" * 100_000,
    ],
)
def test_unreadable_json(document: bytes) -> None:
    with pytest.raises(IntegrityMalformed):
        parse_verdict_json(document)
