"""Verdicts on the real device chains of fixtures/android, as PROVENANCE.md records them."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from attest.android import (
    AndroidPolicy,
    AppIdentityPolicy,
    RevocationMode,
    SecurityLevel,
    VerifiedBootState,
    parse_status_list,
    verify_android_attestation,
)
from attest.android.chain import serial_hex
from attest.errors import AttestationError, ChainExpired
from tests.attest.android.fixture_files import ANDROID_FIXTURES, chain_der, expected_json

GOOGLE_TEST_SIGNER = bytes.fromhex("103938ee4537e59e8ee792f654504fb8346fc6b346d0bbc4415fc339fcfc8ec1")


@dataclass(frozen=True)
class Sample:
    name: str
    inside: datetime
    before: datetime
    after: datetime
    locked_and_verified: bool
    root: str  # "RSA" or "EC"
    key_type: str  # JWK kty
    remotely_provisioned: bool


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _samples() -> list[Sample]:
    out = []
    for name in ("SB_RSA_NONE", "SB_RSA_NONE_USERAUTH"):
        out.append(
            Sample(
                f"blueline/sdk28/{name}",
                _day("2026-11-24"),
                _day("2018-06-19"),
                _day("2028-05-24"),
                False,
                "RSA",
                "RSA",
                False,
            )
        )
    for name, key in (("TEE_EC_NONE", "EC"), ("TEE_RSA_BASE+IMEI", "RSA"), ("TEE_RSA_NONE", "RSA")):
        out.append(
            Sample(
                f"blueline/sdk28/{name}",
                _day("2026-11-24"),
                _day("2018-07-22"),
                _day("2028-07-21"),
                False,
                "RSA",
                key,
                False,
            )
        )
    for name, key in (
        ("SB_RSA_NONE", "RSA"),
        ("TEE_EC_NONE", "EC"),
        ("TEE_RSA_BASE+IMEI", "RSA"),
        ("TEE_RSA_NONE", "RSA"),
        ("TEE_RSA_NONE_USERAUTH", "RSA"),
    ):
        out.append(
            Sample(
                f"akita/sdk34/{name}",
                _day("2024-09-20"),
                _day("2024-09-09"),
                _day("2024-10-10"),
                False,
                "RSA",
                key,
                True,
            )
        )
    for name in ("SB_EC_RKP", "TEE_EC_RKP"):
        out.append(
            Sample(
                f"caiman/sdk36/{name}",
                _day("2025-09-30"),
                _day("2025-09-23"),
                _day("2025-10-04"),
                True,
                "RSA",
                "EC",
                True,
            )
        )
    for name in ("SB_EC_2026_ROOT", "TEE_EC_2026_ROOT"):
        out.append(
            Sample(
                f"tegu/sdk36/{name}", _day("2026-03-01"), _day("2026-02-18"), _day("2026-03-09"), True, "EC", "EC", True
            )
        )
    out.append(
        Sample(
            "tokay/sdk37/TEE_MLDSA_FACTORY",
            _day("2026-11-24"),
            _day("2023-10-15"),
            _day("2033-10-14"),
            False,
            "RSA",
            "AKP",
            False,
        )
    )
    out.append(
        Sample(
            "tokay/sdk37/TEE_MLDSA_RKP",
            _day("2026-05-01"),
            _day("2026-04-25"),
            _day("2026-05-10"),
            False,
            "EC",
            "AKP",
            True,
        )
    )
    return out


SAMPLES = _samples()
STATUS_LIST = parse_status_list((ANDROID_FIXTURES / "status-list-sample.json").read_bytes(), source="sample")


def challenge_of(sample: Sample) -> bytes:
    if sample.name.startswith(("caiman", "tegu")):
        return base64.b64decode(expected_json(sample.name)["attestationChallenge"])
    return b"challenge"


def policy_for(sample: Sample, **overrides: object) -> AndroidPolicy:
    return AndroidPolicy(challenge=challenge_of(sample), app=None, **overrides)  # type: ignore[arg-type]


def test_every_captured_chain_is_listed() -> None:
    on_disk = {str(p.relative_to(ANDROID_FIXTURES).with_suffix("")) for p in ANDROID_FIXTURES.glob("*/sdk*/*.pem")}
    assert on_disk == {sample.name for sample in SAMPLES}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_default_policy_verdict(sample: Sample) -> None:
    """caiman and tegu are valid under the default policy; the unlocked test devices are rejected for boot state."""
    certificates = chain_der(sample.name)
    if sample.locked_and_verified:
        result = verify_android_attestation(certificates, policy_for(sample), at=sample.inside, status_list=STATUS_LIST)
        assert result.verified_boot_state is VerifiedBootState.VERIFIED
        assert result.device_locked is True
        assert result.revocation.checked is True
    else:
        with pytest.raises(AttestationError) as caught:
            verify_android_attestation(certificates, policy_for(sample), at=sample.inside, status_list=STATUS_LIST)
        assert caught.value.code == "device.boot_state"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_allow_unverified_boot_accepts_every_chain(sample: Sample) -> None:
    policy = policy_for(sample, require_verified_boot=False, require_locked_bootloader=False)
    result = verify_android_attestation(chain_der(sample.name), policy, at=sample.inside, status_list=STATUS_LIST)
    assert ("RSA" in result.root_name) == (sample.root == "RSA")
    assert ("P-384" in result.root_name) == (sample.root == "EC")
    assert result.public_key_jwk["kty"] == sample.key_type
    assert "d" not in result.public_key_jwk
    assert result.remotely_provisioned is sample.remotely_provisioned
    expected = expected_json(sample.name)
    assert result.attestation_version == int(expected["attestationVersion"])
    assert result.attestation_security_level.name == expected["attestationSecurityLevel"]
    assert result.keymint_security_level.name == expected["keyMintSecurityLevel"]
    assert result.os_version == int(expected["hardwareEnforced"]["osVersion"])
    assert result.os_patch_level == int(expected["hardwareEnforced"]["osPatchLevel"])
    assert list(result.package_names) == [
        p["name"] for p in expected["softwareEnforced"]["attestationApplicationId"]["packages"]
    ]
    assert [base64.b64encode(d).decode() for d in result.signer_digests] == (
        expected["softwareEnforced"]["attestationApplicationId"]["signatures"]
    )
    assert result.app_checked is False
    assert len(result.chain_summary()) == len(chain_der(sample.name))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
@pytest.mark.parametrize("edge", ["before", "after"])
def test_outside_the_window_is_expired(sample: Sample, edge: str) -> None:
    policy = policy_for(sample, require_verified_boot=False, require_locked_bootloader=False)
    with pytest.raises(ChainExpired) as caught:
        verify_android_attestation(chain_der(sample.name), policy, at=getattr(sample, edge), status_list=STATUS_LIST)
    assert caught.value.code == "chain.expired"
    assert "certificate " in caught.value.message


def test_expired_2016_root_certificate_still_anchors() -> None:
    """blueline ends in root 1 (expired 2026-05-24); the anchor is its key, so the chain is valid in 2026-11."""
    sample = next(s for s in SAMPLES if s.name == "blueline/sdk28/TEE_EC_NONE")
    policy = policy_for(sample, require_verified_boot=False, require_locked_bootloader=False)
    result = verify_android_attestation(chain_der(sample.name), policy, at=_day("2026-11-24"), status_list=STATUS_LIST)
    assert result.chain_summary()[-1].not_after < _day("2026-11-24")
    assert result.root_name.startswith("Google Hardware Attestation Root")


def test_strongbox_minimum_rejects_tee_and_accepts_strongbox() -> None:
    tee = next(s for s in SAMPLES if s.name == "caiman/sdk36/TEE_EC_RKP")
    strongbox = next(s for s in SAMPLES if s.name == "caiman/sdk36/SB_EC_RKP")
    policy_level = SecurityLevel.STRONG_BOX
    with pytest.raises(AttestationError) as caught:
        verify_android_attestation(
            chain_der(tee.name),
            policy_for(tee, min_security_level=policy_level),
            at=tee.inside,
            status_list=STATUS_LIST,
        )
    assert caught.value.code == "device.security_level"
    result = verify_android_attestation(
        chain_der(strongbox.name),
        policy_for(strongbox, min_security_level=policy_level),
        at=strongbox.inside,
        status_list=STATUS_LIST,
    )
    assert result.attestation_security_level is SecurityLevel.STRONG_BOX


CAIMAN = next(s for s in SAMPLES if s.name == "caiman/sdk36/TEE_EC_RKP")


def test_app_policy_accepts_the_attested_app() -> None:
    app = AppIdentityPolicy(
        package_names=frozenset({"com.google.android.attestation"}), signer_digests=frozenset({GOOGLE_TEST_SIGNER})
    )
    result = verify_android_attestation(
        chain_der(CAIMAN.name),
        AndroidPolicy(challenge=challenge_of(CAIMAN), app=app),
        at=CAIMAN.inside,
        status_list=STATUS_LIST,
    )
    assert result.app_checked is True
    assert result.package_names == ("com.google.android.attestation",)


@pytest.mark.parametrize(
    ("app", "code"),
    [
        (AppIdentityPolicy(package_names=frozenset({"com.example.other"})), "app.package_not_allowed"),
        (AppIdentityPolicy(signer_digests=frozenset({bytes(32)})), "app.signer_not_allowed"),
        (
            AppIdentityPolicy(
                package_names=frozenset({"com.google.android.attestation"}), signer_digests=frozenset({bytes(32)})
            ),
            "app.signer_not_allowed",
        ),
    ],
)
def test_app_policy_rejects_other_apps(app: AppIdentityPolicy, code: str) -> None:
    with pytest.raises(AttestationError) as caught:
        verify_android_attestation(
            chain_der(CAIMAN.name),
            AndroidPolicy(challenge=challenge_of(CAIMAN), app=app),
            at=CAIMAN.inside,
            status_list=STATUS_LIST,
        )
    assert caught.value.code == code


def test_wrong_challenge_is_rejected() -> None:
    with pytest.raises(AttestationError) as caught:
        verify_android_attestation(
            chain_der(CAIMAN.name),
            AndroidPolicy(challenge=b"another", app=None),
            at=CAIMAN.inside,
            status_list=STATUS_LIST,
        )
    assert caught.value.code == "challenge.mismatch"


def test_patch_and_os_minimums() -> None:
    at, chain = CAIMAN.inside, chain_der(CAIMAN.name)
    accept = AndroidPolicy(
        challenge=challenge_of(CAIMAN),
        app=None,
        min_os_version=160000,
        min_os_patch_level=202511,
        min_vendor_patch_level=202511,
        min_boot_patch_level=20251105,
    )
    verify_android_attestation(chain, accept, at=at, status_list=STATUS_LIST)
    for field, value, code in (
        ("min_os_version", 170000, "device.os_version"),
        ("min_os_patch_level", 202512, "device.patch_level"),
        ("min_vendor_patch_level", 20251106, "device.patch_level"),
        ("min_boot_patch_level", 202512, "device.patch_level"),
    ):
        policy = AndroidPolicy(challenge=challenge_of(CAIMAN), app=None, **{field: value})  # type: ignore[arg-type]
        with pytest.raises(AttestationError) as caught:
            verify_android_attestation(chain, policy, at=at, status_list=STATUS_LIST)
        assert caught.value.code == code, field


def test_revoked_intermediate_is_rejected() -> None:
    chain = chain_der(CAIMAN.name)
    from cryptography import x509

    intermediate = x509.load_der_x509_certificate(chain[2])
    listed = parse_status_list(
        b'{"entries": {"%s": {"status": "REVOKED", "reason": "KEY_COMPROMISE"}}}' % serial_hex(intermediate).encode()
    )
    with pytest.raises(AttestationError) as caught:
        verify_android_attestation(chain, policy_for(CAIMAN), at=CAIMAN.inside, status_list=listed)
    assert caught.value.code == "chain.revoked"
    assert "certificate 2" in caught.value.message


def test_revocation_required_without_a_list_fails_closed() -> None:
    with pytest.raises(AttestationError) as caught:
        verify_android_attestation(chain_der(CAIMAN.name), policy_for(CAIMAN), at=CAIMAN.inside, status_list=None)
    assert caught.value.code == "revocation.unavailable"


def test_revocation_best_effort_says_it_was_not_checked() -> None:
    result = verify_android_attestation(
        chain_der(CAIMAN.name),
        policy_for(CAIMAN, revocation=RevocationMode.BEST_EFFORT),
        at=CAIMAN.inside,
        status_list=None,
    )
    assert result.revocation.checked is False


MALFORMED_ROT_CHALLENGE = bytes.fromhex(
    "019b115a17fdf26b371309467080d0aec1b5a0c1c6a7a3350b920560659fa79b97a21a751a9bf9f031323b99253619dcc4c31a4a8aba03"
    "35006321620f2c70b3e80f0c504f6474b5f487898fe5877cf2d9d7c2cd255e235fa7"
)


def test_ber_boolean_device_is_accepted_as_locked() -> None:
    result = verify_android_attestation(
        chain_der("invalid/malformed_rot_device_locked"),
        AndroidPolicy(challenge=MALFORMED_ROT_CHALLENGE, app=None),
        at=_day("2025-01-01"),
        status_list=STATUS_LIST,
    )
    assert result.device_locked is True
    assert result.package_names == ("com.google.android.apps.photos",)


def test_edited_chain_with_unordered_tags_fails_its_signature() -> None:
    policy = AndroidPolicy(
        challenge=b"challenge", app=None, require_verified_boot=False, require_locked_bootloader=False
    )
    with pytest.raises(AttestationError) as caught:
        verify_android_attestation(
            chain_der("invalid/tags_not_in_ascending_order"), policy, at=_day("2025-01-01"), status_list=STATUS_LIST
        )
    assert caught.value.code == "chain.signature"
    assert "certificate 0" in caught.value.message


def test_naive_time_is_refused() -> None:
    with pytest.raises(AttestationError):
        verify_android_attestation(chain_der(CAIMAN.name), policy_for(CAIMAN), at=datetime(2025, 9, 30))
