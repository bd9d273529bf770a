"""The 26 real WebAuthn responses of fixtures/webauthn: each verifies with the values its file expects,
at its ``verify_at`` instant, or is refused with the error code of :data:`EXPECTED_ERRORS`."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from attest.errors import AttestationError
from fido import base64url
from fido.attestation import AttestationPolicy, AttestationType
from fido.authentication import StoredCredential, parse_authentication_response, verify_authentication
from fido.errors import AttestationInvalid
from fido.registration import parse_registration_response, verify_registration
from tests.fido.fixture_files import EXPECTED_ERRORS, Sample, samples

REGISTRATIONS = samples("registration")
AUTHENTICATIONS = samples("authentication")


def test_every_file_is_covered() -> None:
    assert len(REGISTRATIONS) + len(AUTHENTICATIONS) == 26
    names = {sample.name for sample in REGISTRATIONS + AUTHENTICATIONS}
    assert set(EXPECTED_ERRORS) <= names
    for sample in REGISTRATIONS + AUTHENTICATIONS:
        assert bool(sample.expected.get("error")) == (sample.name in EXPECTED_ERRORS), sample.name


def register(sample: Sample, policy: AttestationPolicy | None = None, **changes: object) -> object:
    arguments: dict[str, object] = {
        "challenge": sample.challenge,
        "rp": sample.rp,
        "require_user_verification": sample.require_user_verification,
        "policy": policy or AttestationPolicy(),
        "at": sample.at,
    }
    arguments.update(changes)
    return verify_registration(parse_registration_response(sample.credential), **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("sample", REGISTRATIONS, ids=lambda sample: sample.name)
def test_registration(sample: Sample) -> None:
    if sample.name in EXPECTED_ERRORS:
        with pytest.raises(AttestationError) as raised:
            register(sample)
        assert raised.value.code == EXPECTED_ERRORS[sample.name], raised.value.message
        return
    verified = register(sample)
    assert verified.attestation.fmt == sample.expected["fmt"]  # type: ignore[attr-defined]
    assert verified.sign_count == sample.expected["sign_count"]  # type: ignore[attr-defined]
    assert base64url.encode(verified.credential_id) == sample.expected["credential_id_b64url"]  # type: ignore[attr-defined]


def authenticate(sample: Sample, **changes: object) -> object:
    response = parse_authentication_response(sample.credential)
    public_key = base64url.decode(sample.document["credential_public_key_b64url"], max_bytes=4096)
    assert public_key is not None
    # The owner's handle: the one the response names, or, for a username-first sign-in (no
    # userHandle in the response), the handle of the account identified by its username.
    handle = response.user_handle or hashlib.sha256(sample.name.encode()).digest()
    flags = response.authenticator_data[32]
    arguments: dict[str, object] = {
        "credential": StoredCredential(
            credential_id=response.credential_id,
            user_handle=handle,
            public_key=public_key,
            sign_count=sample.document["credential_current_sign_count"],
            backup_eligible=bool(flags & 0x08),
            backup_state=bool(flags & 0x10),
        ),
        "challenge": sample.challenge,
        "rp": sample.rp,
        "require_user_verification": sample.require_user_verification,
        "expected_user_handle": None if response.user_handle else handle,
    }
    arguments.update(changes)
    return verify_authentication(response, **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("sample", AUTHENTICATIONS, ids=lambda sample: sample.name)
def test_authentication(sample: Sample) -> None:
    if sample.name in EXPECTED_ERRORS:
        with pytest.raises(AttestationError) as raised:
            authenticate(sample)
        assert raised.value.code == EXPECTED_ERRORS[sample.name], raised.value.message
        return
    verified = authenticate(sample)
    assert verified.sign_count == sample.expected["sign_count"]  # type: ignore[attr-defined]
    assert verified.user_verified == sample.expected["user_verified"]  # type: ignore[attr-defined]
    assert base64url.encode(verified.credential_id) == sample.expected["credential_id_b64url"]  # type: ignore[attr-defined]


# --- time: certificates are checked as of the verification instant ---------------------------------


@pytest.mark.parametrize(
    ("name", "valid_until"),
    [
        ("reg-apple-passkey", "2021-09-03T23:59:59+00:00"),
        ("reg-android-key-pixel-8a", "2025-02-02T00:00:00+00:00"),
        ("reg-android-safetynet", None),
    ],
)
def test_attestation_certificates_are_checked_at_the_given_time(name: str, valid_until: str | None) -> None:
    sample = next(sample for sample in REGISTRATIONS if sample.name == name)
    with pytest.raises(AttestationInvalid):
        register(sample, at=sample.at + timedelta(days=365))
    with pytest.raises(AttestationInvalid):
        register(sample, at=sample.at - timedelta(days=365))


def test_safetynet_timestamp_is_checked_against_the_given_time() -> None:
    sample = next(sample for sample in REGISTRATIONS if sample.name == "reg-android-safetynet")
    register(sample, at=sample.at + timedelta(minutes=4))
    with pytest.raises(AttestationInvalid, match="SafetyNet response was issued"):
        register(sample, at=sample.at + timedelta(minutes=6))
    with pytest.raises(AttestationInvalid, match="SafetyNet response was issued"):
        register(sample, at=sample.at - timedelta(minutes=2))


# --- attestation trust policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "trusted", "attestation_type"),
    [
        ("reg-none-localhost", False, AttestationType.NONE),
        ("reg-packed-yubikey-firefox", False, AttestationType.BASIC),
        ("reg-fido-u2f-yubikey-firefox", False, AttestationType.BASIC),
        ("reg-tpm-surface-pro-4", False, AttestationType.ATTCA),
        ("reg-android-key-pixel-8a", True, AttestationType.BASIC),
        ("reg-android-safetynet", True, AttestationType.BASIC),
        ("reg-apple-passkey", True, AttestationType.ANONCA),
    ],
)
def test_attestation_types_and_trust(name: str, trusted: bool, attestation_type: AttestationType) -> None:
    sample = next(sample for sample in REGISTRATIONS if sample.name == name)
    verified = register(sample)
    assert verified.attestation.type is attestation_type  # type: ignore[attr-defined]
    assert verified.attestation.trusted is trusted  # type: ignore[attr-defined]
    strict = AttestationPolicy(require_trusted=True)
    if trusted:
        register(sample, strict)
    else:
        with pytest.raises(AttestationError) as raised:
            register(sample, strict)
        assert raised.value.code == "webauthn.attestation_untrusted"


def test_android_app_origin_needs_its_key_hash() -> None:
    sample = next(sample for sample in REGISTRATIONS if sample.name == "swa-reg-none-android-app-origin")
    from fido.relying_party import RelyingParty

    web_only = RelyingParty.configure(
        rp_id=sample.document["expected_rp_id"], name="x", web_origins=["https://try-webauthn.appspot.com"]
    )
    with pytest.raises(AttestationError) as raised:
        register(sample, rp=web_only)
    assert raised.value.code == "webauthn.origin"
