"""verify_play_integrity: one test per check, each failure with its code; the policy's own checks."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from attest.android.play_integrity import (
    AppRecognitionVerdict,
    DeviceLevel,
    DeviceRecognitionVerdict,
    PlayIntegrityPolicy,
    nonce_for,
    parse_verdict,
    request_hash_for,
    verify_play_integrity,
)
from attest.android.play_integrity.verify import STEPS
from attest.errors import AttestationError, ConfigurationError
from tests.attest.android.play_integrity import factory as f

POLICY = PlayIntegrityPolicy(
    challenge=f.CHALLENGE, package_names=frozenset({f.PACKAGE}), certificate_digests=frozenset({f.CERTIFICATE_DIGEST})
)


def code(document: dict[str, Any], policy: PlayIntegrityPolicy = POLICY, **at: Any) -> str:
    with pytest.raises(AttestationError) as caught:
        verify_play_integrity(parse_verdict(document), policy, at=f.NOW + timedelta(**at))
    return caught.value.code


def test_binding_is_documented_exactly() -> None:
    """requestHash = unpadded base64url(SHA-256(challenge)); nonce = unpadded base64url(challenge)."""
    assert request_hash_for(b"\x00" * 32) == "Zmh6rfhivXdsj8GLjp-OIAiXFIVu4jOzkCpZHQ1fKSU"
    assert nonce_for(b"\xfb\xff" * 16) == "-__7__v_-__7__v_-__7__v_-__7__v_-__7__v_-_8"
    assert POLICY.expected_request_hash == request_hash_for(f.CHALLENGE)
    assert POLICY.expected_nonce == nonce_for(f.CHALLENGE)


@pytest.mark.parametrize("standard", [True, False])
def test_a_good_verdict_passes_every_step(standard: bool) -> None:
    steps: list[str] = []
    verdict = parse_verdict(f.payload(standard=standard))
    result = verify_play_integrity(verdict, POLICY, at=f.NOW + timedelta(seconds=30), on_step=steps.append)
    assert steps == list(STEPS)
    assert result.device_level is DeviceLevel.DEVICE
    assert result.app_recognized is True
    assert result.licensed is True
    assert result.age == timedelta(seconds=30)
    assert result.verdict is verdict


def test_padding_on_the_bound_values_is_tolerated() -> None:
    padded = f.changed(f.payload(), "requestDetails.requestHash", request_hash_for(f.CHALLENGE) + "=")
    verify_play_integrity(parse_verdict(padded), POLICY, at=f.NOW)
    padded = f.changed(f.payload(standard=False), "requestDetails.nonce", nonce_for(f.CHALLENGE) + "=")
    verify_play_integrity(parse_verdict(padded), POLICY, at=f.NOW)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("requestDetails.requestPackageName", "com.evil.app", "integrity.package_mismatch"),
        ("appIntegrity.packageName", "com.evil.app", "integrity.package_mismatch"),
        ("appIntegrity.packageName", ..., "integrity.package_mismatch"),
        ("requestDetails.requestHash", request_hash_for(b"another challenge"), "integrity.request_hash_mismatch"),
        ("requestDetails.requestHash", nonce_for(f.CHALLENGE), "integrity.request_hash_mismatch"),
        ("requestDetails.requestHash", "é", "integrity.request_hash_mismatch"),
        ("requestDetails.requestHash", ..., "integrity.request_hash_mismatch"),
        ("requestDetails.nonce", nonce_for(b"another challenge"), "integrity.request_hash_mismatch"),
        ("appIntegrity.appRecognitionVerdict", "UNRECOGNIZED_VERSION", "integrity.app_not_recognized"),
        ("appIntegrity.appRecognitionVerdict", "UNEVALUATED", "integrity.app_not_recognized"),
        ("appIntegrity.appRecognitionVerdict", "play_recognized", "integrity.app_not_recognized"),
        ("appIntegrity.certificateSha256Digest", [f.b64url(bytes(32))], "integrity.certificate_not_allowed"),
        ("appIntegrity.certificateSha256Digest", [], "integrity.certificate_not_allowed"),
        ("appIntegrity.certificateSha256Digest", ..., "integrity.certificate_not_allowed"),
        ("deviceIntegrity.deviceRecognitionVerdict", ["MEETS_BASIC_INTEGRITY"], "integrity.device_verdict"),
        ("deviceIntegrity.deviceRecognitionVerdict", [], "integrity.device_verdict"),
        ("deviceIntegrity.deviceRecognitionVerdict", ["MEETS_VIRTUAL_INTEGRITY"], "integrity.device_verdict"),
        ("deviceIntegrity.deviceRecognitionVerdict", ..., "integrity.device_verdict"),
    ],
)
def test_each_check_has_its_code(path: str, value: Any, expected: str) -> None:
    assert code(f.changed(f.payload(), path, value)) == expected


def test_both_bound_values_must_match_when_both_are_present() -> None:
    both = f.changed(f.payload(), "requestDetails.nonce", nonce_for(f.CHALLENGE))
    verify_play_integrity(parse_verdict(both), POLICY, at=f.NOW)
    wrong = f.changed(both, "requestDetails.nonce", nonce_for(b"x" * 32))
    assert code(wrong) == "integrity.request_hash_mismatch"


def test_freshness_window() -> None:
    verify_play_integrity(parse_verdict(f.payload()), POLICY, at=f.NOW + POLICY.max_age)
    assert code(f.payload(), minutes=5, milliseconds=1) == "integrity.stale"
    assert code(f.payload(), days=30) == "integrity.stale"
    verify_play_integrity(parse_verdict(f.payload()), POLICY, at=f.NOW - POLICY.clock_skew)
    assert code(f.payload(), minutes=-1, milliseconds=-1) == "integrity.timestamp_in_future"
    strict = dataclasses.replace(POLICY, max_age=timedelta(seconds=10), clock_skew=timedelta(0))
    assert code(f.payload(), strict, seconds=11) == "integrity.stale"
    assert code(f.payload(), strict, milliseconds=-1) == "integrity.timestamp_in_future"


def test_request_details_are_checked_before_the_verdicts() -> None:
    """Google: check requestDetails first; a replayed verdict from a bad device reports the replay."""
    document = f.changed(f.payload(device=()), "requestDetails.requestHash", request_hash_for(b"old"))
    assert code(document) == "integrity.request_hash_mismatch"


def test_device_levels_and_the_strong_requirement() -> None:
    strong = dataclasses.replace(POLICY, required_device_verdict=DeviceRecognitionVerdict.MEETS_STRONG_INTEGRITY)
    assert code(f.payload(), strong) == "integrity.device_verdict"
    labels = ("MEETS_BASIC_INTEGRITY", "MEETS_DEVICE_INTEGRITY", "MEETS_STRONG_INTEGRITY")
    result = verify_play_integrity(parse_verdict(f.payload(device=labels)), strong, at=f.NOW)
    assert result.device_level is DeviceLevel.STRONG
    unchecked = dataclasses.replace(POLICY, required_device_verdict=None)
    for device, level in [
        ((), DeviceLevel.NONE),
        (("MEETS_BASIC_INTEGRITY",), DeviceLevel.BASIC),
        (("MEETS_VIRTUAL_INTEGRITY",), DeviceLevel.VIRTUAL),
        (("SOMETHING_NEW",), DeviceLevel.NONE),
    ]:
        assert verify_play_integrity(parse_verdict(f.payload(device=device)), unchecked, at=f.NOW).device_level is level


def test_licensing() -> None:
    licensed = dataclasses.replace(POLICY, require_licensed=True)
    verify_play_integrity(parse_verdict(f.payload()), licensed, at=f.NOW)
    for document in (
        f.payload(licensing="UNLICENSED"),
        f.payload(licensing="UNEVALUATED"),
        f.changed(f.payload(), "accountDetails", ...),
    ):
        assert code(document, licensed) == "integrity.unlicensed"
    result = verify_play_integrity(parse_verdict(f.payload(licensing="UNLICENSED")), POLICY, at=f.NOW)
    assert result.licensed is False  # reported, not required
    result = verify_play_integrity(parse_verdict(f.payload(licensing="UNEVALUATED")), POLICY, at=f.NOW)
    assert result.licensed is None


def test_unrecognized_version_may_be_allowed_explicitly() -> None:
    lenient = dataclasses.replace(
        POLICY,
        allowed_app_verdicts=frozenset(
            {AppRecognitionVerdict.PLAY_RECOGNIZED, AppRecognitionVerdict.UNRECOGNIZED_VERSION}
        ),
    )
    document = f.changed(f.payload(), "appIntegrity.appRecognitionVerdict", "UNRECOGNIZED_VERSION")
    assert verify_play_integrity(parse_verdict(document), lenient, at=f.NOW).app_recognized is False


def test_messages_name_the_observed_and_the_configured_values() -> None:
    with pytest.raises(AttestationError) as caught:
        verify_play_integrity(parse_verdict(f.payload(device=("MEETS_BASIC_INTEGRITY",))), POLICY, at=f.NOW)
    assert "MEETS_BASIC_INTEGRITY" in caught.value.message
    assert "MEETS_DEVICE_INTEGRITY" in caught.value.message


@pytest.mark.parametrize(
    "changes",
    [
        {"challenge": b""},
        {"challenge": "text"},
        {"package_names": frozenset()},
        {"package_names": frozenset({""})},
        {"certificate_digests": frozenset()},
        {"certificate_digests": frozenset({b"short"})},
        {"max_age": timedelta(0)},
        {"max_age": timedelta(days=2)},
        {"clock_skew": timedelta(seconds=-1)},
        {"clock_skew": timedelta(hours=1)},
        {"allowed_app_verdicts": frozenset()},
        {"allowed_app_verdicts": frozenset({"PLAY_RECOGNIZED"})},
        {"required_device_verdict": "MEETS_DEVICE_INTEGRITY"},
    ],
)
def test_inconsistent_policies_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        dataclasses.replace(POLICY, **changes)


def test_verification_time_must_be_aware() -> None:
    with pytest.raises(ConfigurationError):
        verify_play_integrity(parse_verdict(f.payload()), POLICY, at=f.NOW.replace(tzinfo=None))
