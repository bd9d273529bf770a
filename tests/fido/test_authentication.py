"""fido.authentication: options, and every check of WebAuthn Level 3 section 7.2 with its error code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from attest.errors import AttestationError
from fido import base64url
from fido.authentication import (
    StoredCredential,
    VerifiedAuthentication,
    authentication_options,
    parse_authentication_response,
    verify_authentication,
)
from fido.registration import CredentialDescriptor, UserEntity, registration_options
from fido.relying_party import RelyingParty
from tests.fido.authenticator import AT, BE, BS, EDDSA, ES256, RS256, UP, UV, SoftAuthenticator

RP = RelyingParty.configure(rp_id="example.com", name="Example", web_origins=["https://example.com"])
ORIGIN = "https://example.com"
CHALLENGE = bytes(range(32, 64))
HANDLE = b"\x02" * 64


def registered(**settings: Any) -> tuple[SoftAuthenticator, StoredCredential]:
    """An authenticator holding one credential, and the record a relying party stored for it."""
    authenticator = SoftAuthenticator(**settings)
    created = registration_options(
        rp=RP,
        user=UserEntity(id=HANDLE, name="alice", display_name="Alice"),
        challenge=b"\x00" * 32,
        exclude=[],
        require_user_verification=True,
        attestation="none",
        timeout=timedelta(minutes=1),
    )
    authenticator.create(created, origin=ORIGIN)
    (stored,) = authenticator.credentials.values()
    from tests.fido.authenticator import cose_key

    record = StoredCredential(
        credential_id=stored.credential_id,
        user_handle=HANDLE,
        public_key=cose_key(stored.key, stored.alg),
        sign_count=0,
        backup_eligible=authenticator.backup_eligible,
        backup_state=authenticator.backup_state,
    )
    return authenticator, record


def options(allow: list[bytes] | None = None) -> dict[str, Any]:
    return authentication_options(
        rp=RP,
        challenge=CHALLENGE,
        allow=[CredentialDescriptor(id=item, transports=("internal",)) for item in allow or []],
        require_user_verification=True,
        timeout=timedelta(minutes=5),
    )


def verify(credential: dict[str, Any], record: StoredCredential, **changes: Any) -> VerifiedAuthentication:
    arguments: dict[str, Any] = {
        "credential": record,
        "challenge": CHALLENGE,
        "rp": RP,
        "require_user_verification": True,
    }
    arguments.update(changes)
    return verify_authentication(parse_authentication_response(credential), **arguments)


def code_of(credential: dict[str, Any], record: StoredCredential, **changes: Any) -> str:
    with pytest.raises(AttestationError) as raised:
        verify(credential, record, **changes)
    return raised.value.code


def test_options_are_the_documented_json() -> None:
    assert options() == {
        "challenge": base64url.encode(CHALLENGE),
        "timeout": 300_000,
        "rpId": "example.com",
        "allowCredentials": [],
        "userVerification": "required",
    }
    assert options([b"\x09" * 16])["allowCredentials"] == [
        {"id": base64url.encode(b"\x09" * 16), "type": "public-key", "transports": ["internal"]}
    ]


@pytest.mark.parametrize("alg", [ES256, EDDSA, RS256])
def test_discoverable_sign_in(alg: int) -> None:
    authenticator, record = registered(alg=alg)
    verified = verify(authenticator.get(options(), origin=ORIGIN), record)
    assert (verified.credential_id, verified.sign_count, verified.user_verified) == (record.credential_id, 1, True)
    assert verified.backup_state_changed is False


def test_username_first_sign_in_without_user_handle() -> None:
    authenticator, record = registered()
    credential = authenticator.get(options([record.credential_id]), origin=ORIGIN, with_user_handle=False)
    verify(credential, record, allowed_credentials=[record.credential_id], expected_user_handle=HANDLE)
    # Without a prior identification, the user handle is what names the account.
    credential = authenticator.get(options(), origin=ORIGIN, with_user_handle=False)
    assert code_of(credential, record) == "webauthn.user_handle"


def test_credential_and_account_checks() -> None:
    authenticator, record = registered()
    credential = authenticator.get(options(), origin=ORIGIN)
    assert code_of(credential, record, allowed_credentials=[b"\x01" * 16]) == "webauthn.credential_not_allowed"
    assert code_of(credential, record, expected_user_handle=b"\x03" * 64) == "webauthn.credential_not_allowed"
    other = StoredCredential(**{**record.__dict__, "user_handle": b"\x03" * 64})
    assert code_of(credential, other) == "webauthn.user_handle"


@pytest.mark.parametrize(
    ("client_data", "code"),
    [
        ({"type": "webauthn.create"}, "webauthn.type"),
        ({"challenge": base64url.encode(b"\x00" * 32)}, "webauthn.challenge"),
        ({"origin": "https://evil.example"}, "webauthn.origin"),
        ({"crossOrigin": True}, "webauthn.origin"),
        ({"type": None}, "webauthn.client_data"),
    ],
)
def test_client_data_checks(client_data: dict[str, Any], code: str) -> None:
    authenticator, record = registered()
    assert code_of(authenticator.get(options(), origin=ORIGIN, client_data=client_data), record) == code


@pytest.mark.parametrize(
    ("flags", "code"),
    [
        (UV, "webauthn.user_presence"),
        (UP, "webauthn.user_verification"),
        (UP | UV | BS, "webauthn.backup_flags"),
        (UP | UV | BE, "webauthn.backup_flags"),
        (UP | UV | AT, "webauthn.authenticator_data"),
    ],
)
def test_flag_checks(flags: int, code: str) -> None:
    authenticator, record = registered()
    assert code_of(authenticator.get(options(), origin=ORIGIN, flags=flags), record) == code


def test_user_verification_only_recorded_when_not_required() -> None:
    authenticator, record = registered()
    verified = verify(authenticator.get(options(), origin=ORIGIN, flags=UP), record, require_user_verification=False)
    assert verified.user_verified is False


def test_backup_state_change_is_reported() -> None:
    authenticator, record = registered(backup_eligible=True, backup_state=False)
    verified = verify(authenticator.get(options(), origin=ORIGIN, flags=UP | UV | BE | BS), record)
    assert (verified.backup_eligible, verified.backup_state, verified.backup_state_changed) == (True, True, True)


def test_rp_id_check() -> None:
    authenticator, record = registered()
    request = options()
    for stored in authenticator.credentials.values():
        stored.rp_id = "evil.example"
    request["rpId"] = "evil.example"
    assert code_of(authenticator.get(request, origin=ORIGIN), record) == "webauthn.rp_id"


def test_signature_check() -> None:
    authenticator, record = registered()
    credential = authenticator.get(options(), origin=ORIGIN)
    signature = bytearray(base64url.decode(credential["response"]["signature"], max_bytes=1024) or b"")
    signature[10] ^= 1
    credential["response"]["signature"] = base64url.encode(bytes(signature))
    assert code_of(credential, record) == "webauthn.signature"
    other_key = registered()[1].public_key
    fresh = authenticator.get(options(), origin=ORIGIN)
    assert code_of(fresh, StoredCredential(**{**record.__dict__, "public_key": other_key})) == "webauthn.signature"


@pytest.mark.parametrize(
    ("stored", "returned", "accepted"),
    [
        (0, 0, True),  # no counter: not a clone signal
        (0, 5, True),
        (77, 78, True),
        (77, 77, False),
        (77, 12, False),
        (77, 0, False),  # a counter that went back to zero
    ],
)
def test_sign_count(stored: int, returned: int, accepted: bool) -> None:
    authenticator, record = registered()
    record = StoredCredential(**{**record.__dict__, "sign_count": stored})
    credential = authenticator.get(options(), origin=ORIGIN, sign_count=returned)
    if accepted:
        assert verify(credential, record).sign_count == returned
    else:
        assert code_of(credential, record) == "webauthn.counter"


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda c: c["response"].pop("signature"), "webauthn.malformed"),
        (lambda c: c["response"].update(signature="A" * 2000), "webauthn.malformed"),
        (lambda c: c["response"].update(userHandle=5), "webauthn.malformed"),
        (lambda c: c["response"].update(userHandle="A" * 100), "webauthn.malformed"),
        (lambda c: c["response"].update(authenticatorData="AAAA"), "webauthn.authenticator_data"),
        (lambda c: c["response"].update(clientDataJSON=base64url.encode(b"{")), "webauthn.client_data"),
    ],
)
def test_assertion_json_shape(mutate: Any, code: str) -> None:
    authenticator, record = registered()
    credential = authenticator.get(options(), origin=ORIGIN)
    mutate(credential)
    assert code_of(credential, record) == code


def test_padded_base64url_is_read() -> None:
    authenticator, record = registered()
    credential = authenticator.get(options(), origin=ORIGIN)
    value = credential["response"]["signature"]
    credential["response"]["signature"] = value + "=" * (-len(value) % 4)
    verify(credential, record)
