"""fido.registration: options, and every check of WebAuthn Level 3 section 7.1 with its error code, on
responses from the software authenticator."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
import pytest

from attest.errors import AttestationError
from fido import base64url
from fido.attestation import AttestationPolicy, AttestationType
from fido.public_key import ES256 as ES256_ID
from fido.registration import (
    CredentialDescriptor,
    UserEntity,
    VerifiedRegistration,
    parse_registration_response,
    registration_options,
    verify_registration,
)
from fido.relying_party import RelyingParty
from tests.fido.authenticator import (
    AT,
    BE,
    BS,
    EDDSA,
    ES256,
    RS256,
    UP,
    UV,
    AttestationCA,
    SoftAuthenticator,
    attested_credential_data,
    authenticator_data,
    client_data_json,
    cose_key,
    generate_key,
    registration_json,
)

RP = RelyingParty.configure(rp_id="example.com", name="Example", web_origins=["https://example.com"])
ORIGIN = "https://example.com"
CHALLENGE = bytes(range(32))
NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


def options(**changes: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "rp": RP,
        "user": UserEntity(id=b"\x01" * 64, name="alice@example.com", display_name="Alice"),
        "challenge": CHALLENGE,
        "exclude": [],
        "require_user_verification": True,
        "attestation": "none",
        "timeout": timedelta(minutes=5),
    }
    arguments.update(changes)
    return registration_options(**arguments)


def verify(credential: dict[str, Any], **changes: Any) -> VerifiedRegistration:
    arguments: dict[str, Any] = {
        "challenge": CHALLENGE,
        "rp": RP,
        "require_user_verification": True,
        "policy": AttestationPolicy(),
        "at": NOW,
    }
    arguments.update(changes)
    return verify_registration(parse_registration_response(credential), **arguments)


def code_of(credential: dict[str, Any], **changes: Any) -> str:
    with pytest.raises(AttestationError) as raised:
        verify(credential, **changes)
    return raised.value.code


def test_options_are_the_documented_json() -> None:
    created = options(exclude=[CredentialDescriptor(id=b"\x07" * 16, transports=("usb", "nfc"))])
    assert created["rp"] == {"name": "Example", "id": "example.com"}
    assert created["user"] == {
        "id": base64url.encode(b"\x01" * 64),
        "name": "alice@example.com",
        "displayName": "Alice",
    }
    assert created["challenge"] == base64url.encode(CHALLENGE)
    assert [param["alg"] for param in created["pubKeyCredParams"]] == [ES256, EDDSA, RS256]
    assert created["authenticatorSelection"] == {
        "residentKey": "preferred",
        "requireResidentKey": False,
        "userVerification": "required",
    }
    assert created["attestation"] == "none"
    assert created["timeout"] == 300_000
    assert created["excludeCredentials"] == [
        {"id": base64url.encode(b"\x07" * 16), "type": "public-key", "transports": ["usb", "nfc"]}
    ]
    assert (
        options(attestation="direct", require_user_verification=False)["authenticatorSelection"]["userVerification"]
        == "preferred"
    )


@pytest.mark.parametrize("alg", [ES256, EDDSA, RS256])
def test_each_offered_algorithm_registers(alg: int) -> None:
    authenticator = SoftAuthenticator(alg=alg, backup_eligible=True, backup_state=True)
    verified = verify(authenticator.create(options(), origin=ORIGIN))
    assert verified.algorithm == alg
    assert verified.credential_id in authenticator.credentials
    assert verified.attestation.fmt == "none"
    assert verified.attestation.type is AttestationType.NONE
    assert (verified.backup_eligible, verified.backup_state, verified.user_verified) == (True, True, True)
    assert verified.transports == ("internal",)
    assert verified.aaguid == "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("client_data", "code"),
    [
        ({"type": "webauthn.get"}, "webauthn.type"),
        ({"challenge": base64url.encode(b"\x00" * 32)}, "webauthn.challenge"),
        ({"origin": "https://evil.example"}, "webauthn.origin"),
        ({"origin": "https://example.com.evil.example"}, "webauthn.origin"),
        ({"origin": "http://example.com"}, "webauthn.origin"),
        ({"crossOrigin": True}, "webauthn.origin"),
        ({"topOrigin": "https://evil.example"}, "webauthn.origin"),
        ({"tokenBinding": {"status": "present", "id": "AAAA"}}, "webauthn.token_binding"),
        ({"tokenBinding": {"status": "not-supported"}}, "webauthn.token_binding"),
        ({"tokenBinding": 7}, "webauthn.client_data"),
        ({"crossOrigin": "no"}, "webauthn.client_data"),
        ({"challenge": "not base64url!"}, "webauthn.client_data"),
    ],
)
def test_client_data_checks(client_data: dict[str, Any], code: str) -> None:
    assert code_of(SoftAuthenticator().create(options(), origin=ORIGIN, client_data=client_data)) == code


@pytest.mark.parametrize("token_binding", [{"status": "supported"}, "unused"])
def test_token_binding_that_was_not_used_is_accepted(token_binding: object) -> None:
    verify(SoftAuthenticator().create(options(), origin=ORIGIN, client_data={"tokenBinding": token_binding}))


def build(
    *,
    flags: int = UP | UV | AT,
    rp_id: str = "example.com",
    fmt: str = "none",
    statement: dict[str, Any] | None = None,
    credential_id: bytes = b"\x05" * 32,
    raw_id: bytes | None = None,
    public_key: bytes | None = None,
    auth_data: bytes | None = None,
    cdj: bytes | None = None,
) -> dict[str, Any]:
    """A registration response assembled field by field."""
    key = public_key if public_key is not None else cose_key(generate_key(ES256), ES256)
    data = (
        auth_data
        if auth_data is not None
        else authenticator_data(rp_id, flags, 0, attested_credential_data(bytes(16), credential_id, key))
    )
    client_data = cdj if cdj is not None else client_data_json("webauthn.create", base64url.encode(CHALLENGE), ORIGIN)
    attestation_object = cbor2.dumps({"fmt": fmt, "attStmt": statement or {}, "authData": data})
    return registration_json(raw_id if raw_id is not None else credential_id, client_data, attestation_object)


def test_a_built_response_verifies() -> None:
    verify(build())


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"rp_id": "evil.example"}, "webauthn.rp_id"),
        ({"flags": UV | AT}, "webauthn.user_presence"),
        ({"flags": UP | AT}, "webauthn.user_verification"),
        ({"flags": UP | UV | AT | BS}, "webauthn.backup_flags"),
        ({"flags": UP | UV}, "webauthn.authenticator_data"),
        ({"raw_id": b"\x06" * 32}, "webauthn.credential_id"),
        ({"fmt": "made-up"}, "webauthn.attestation_format"),
        ({"fmt": "None"}, "webauthn.attestation_format"),
        ({"statement": {"sig": b"x"}}, "webauthn.attestation"),
        ({"fmt": "packed", "statement": {"alg": ES256, "sig": b"\x30\x00"}}, "webauthn.attestation"),
        ({"fmt": "tpm", "statement": {"ver": "2.0"}}, "webauthn.attestation"),
        ({"fmt": "apple", "statement": {"x5c": [b"not a certificate"]}}, "webauthn.attestation"),
        ({"fmt": "android-key", "statement": {"alg": ES256, "sig": b"s", "x5c": [b"a", b"b"]}}, "webauthn.attestation"),
        ({"fmt": "android-safetynet", "statement": {"ver": "1", "response": b"a.b.c"}}, "webauthn.attestation"),
        ({"fmt": "fido-u2f", "statement": {"sig": b"s", "x5c": [b"c"]}}, "webauthn.attestation"),
        ({"public_key": cbor2.dumps({1: 2, 3: -7, -1: 1, -2: b"\x01" * 32, -3: b"\x02" * 32})}, "webauthn.public_key"),
        ({"public_key": cbor2.dumps({1: 2, 3: -35, -1: 2, -2: b"\x01" * 48, -3: b"\x02" * 48})}, "webauthn.algorithm"),
        ({"public_key": cbor2.dumps({1: 1, 3: -7, -1: 6, -2: b"\x01" * 32})}, "webauthn.public_key"),
        ({"public_key": cbor2.dumps({1: 2, 3: -7})}, "webauthn.public_key"),
        ({"public_key": cbor2.dumps([1, 2])}, "webauthn.authenticator_data"),
        ({"credential_id": b"\x05" * 1024, "raw_id": b"\x05" * 1023}, "webauthn.credential_id"),
        (
            {"cdj": b'{"type":"webauthn.create","type":"webauthn.create","challenge":"x","origin":"y"}'},
            "webauthn.client_data",
        ),
        ({"cdj": b"\xff\xfe{}"}, "webauthn.client_data"),
        ({"cdj": b"[]"}, "webauthn.client_data"),
    ],
)
def test_registration_checks(changes: dict[str, Any], code: str) -> None:
    assert code_of(build(**changes)) == code


def test_small_rsa_keys_are_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 -- the point
    assert code_of(build(public_key=cose_key(small, RS256))) == "webauthn.public_key"


def test_user_verification_is_only_recorded_when_not_required() -> None:
    verified = verify(build(flags=UP | AT), require_user_verification=False)
    assert verified.user_verified is False


def test_algorithms_narrow_what_is_accepted() -> None:
    credential = SoftAuthenticator(alg=EDDSA).create(options(), origin=ORIGIN)
    assert code_of(credential, algorithms=(ES256_ID,)) == "webauthn.algorithm"


@pytest.mark.parametrize(
    ("auth_data", "code"),
    [
        (b"\x00" * 36, "webauthn.authenticator_data"),
        (authenticator_data("example.com", UP | UV, 0) + b"\x00", "webauthn.authenticator_data"),
        (authenticator_data("example.com", UP | UV | AT, 0, bytes(16) + b"\x00\x05abc"), "webauthn.authenticator_data"),
        (authenticator_data("example.com", UP | UV | AT, 0, bytes(16) + b"\x00\x00"), "webauthn.authenticator_data"),
        (
            authenticator_data(
                "example.com", UP | UV | AT, 0, attested_credential_data(bytes(16), b"\x05" * 32, b"\xa1\x01")
            ),
            "webauthn.authenticator_data",
        ),
    ],
)
def test_authenticator_data_layout(auth_data: bytes, code: str) -> None:
    assert code_of(build(auth_data=auth_data)) == code


def test_authenticator_data_extensions_are_read_to_their_end() -> None:
    key = cose_key(generate_key(ES256), ES256)
    attested = attested_credential_data(bytes(16), b"\x05" * 32, key)
    extensions = cbor2.dumps({"credProtect": 2})
    verify(build(auth_data=authenticator_data("example.com", UP | UV | AT | 0x80, 0, attested, extensions)))
    truncated = authenticator_data("example.com", UP | UV | AT | 0x80, 0, attested, extensions[:-1])
    assert code_of(build(auth_data=truncated)) == "webauthn.authenticator_data"
    tagged = authenticator_data("example.com", UP | UV | AT | 0x80, 0, attested, bytes.fromhex("a1c11a514b67b0"))
    assert code_of(build(auth_data=tagged)) == "webauthn.authenticator_data"


@pytest.mark.parametrize(
    ("attestation_object", "code"),
    [
        (b"\xff", "webauthn.attestation_object"),
        (cbor2.dumps([1]), "webauthn.attestation_object"),
        (cbor2.dumps({"fmt": "none", "attStmt": {}}), "webauthn.attestation_object"),
        (cbor2.dumps({"fmt": 1, "attStmt": {}, "authData": b""}), "webauthn.attestation_object"),
        (cbor2.dumps({"fmt": "none", "attStmt": {1: 2}, "authData": b""}), "webauthn.attestation_object"),
        (cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": b""}) + b"\x00", "webauthn.attestation_object"),
        (b"\xbf\x63fmt\x64none\xff", "webauthn.attestation_object"),
    ],
)
def test_attestation_object_shape(attestation_object: bytes, code: str) -> None:
    credential = build()
    credential["response"]["attestationObject"] = base64url.encode(attestation_object)
    assert code_of(credential) == code


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda c: c.update(type="password"), "webauthn.malformed"),
        (lambda c: c.update(id="AAAA"), "webauthn.credential_id"),
        (lambda c: c.update(rawId="a b"), "webauthn.credential_id"),
        (lambda c: c.update(rawId=""), "webauthn.credential_id"),
        (lambda c: c.pop("response"), "webauthn.malformed"),
        (lambda c: c["response"].update(clientDataJSON=7), "webauthn.malformed"),
        (lambda c: c["response"].update(attestationObject="***"), "webauthn.malformed"),
        (lambda c: c["response"].update(transports="usb"), "webauthn.malformed"),
    ],
)
def test_credential_json_shape(mutate: Any, code: str) -> None:
    credential = build()
    mutate(credential)
    with pytest.raises(AttestationError) as raised:
        parse_registration_response(credential)
    assert raised.value.code == code


def test_unknown_transports_are_dropped() -> None:
    credential = build()
    credential["response"]["transports"] = ["usb", "carrier-pigeon", "usb", "hybrid"]
    assert parse_registration_response(credential).transports == ("hybrid", "usb")


# --- attestation --------------------------------------------------------------------------------------


def test_packed_self_attestation() -> None:
    verified = verify(SoftAuthenticator(attestation="self").create(options(), origin=ORIGIN))
    assert (verified.attestation.fmt, verified.attestation.type, verified.attestation.trusted) == (
        "packed",
        AttestationType.SELF,
        False,
    )
    with pytest.raises(AttestationError) as raised:
        verify(
            SoftAuthenticator(attestation="self").create(options(), origin=ORIGIN),
            policy=AttestationPolicy(require_trusted=True),
        )
    assert raised.value.code == "webauthn.attestation_untrusted"


def test_packed_attestation_against_configured_trust_anchors() -> None:
    ca = AttestationCA()
    credential = SoftAuthenticator(attestation=ca).create(options(attestation="direct"), origin=ORIGIN)
    anchored = AttestationPolicy.from_pem_bundle(ca.root_pem(), require_trusted=True)
    verified = verify(credential, policy=anchored, at=datetime.now(UTC))
    assert (verified.attestation.type, verified.attestation.trusted) == (AttestationType.BASIC, True)
    # Without anchors the statement still verifies, but is not trusted.
    assert code_of(credential, policy=AttestationPolicy(require_trusted=True)) == "webauthn.attestation_untrusted"
    assert verify(credential).attestation.trusted is False
    # Another CA's root: the chain does not validate.
    other = AttestationPolicy.from_pem_bundle(AttestationCA().root_pem(), require_trusted=True)
    assert code_of(credential, policy=other, at=datetime.now(UTC)) == "webauthn.attestation"
    # The certificates are checked as of ``at``.
    assert code_of(credential, policy=anchored, at=datetime.now(UTC) + timedelta(days=400)) == "webauthn.attestation"


def test_attestation_signature_covers_the_client_data() -> None:
    credential = SoftAuthenticator(attestation="self").create(options(), origin=ORIGIN)
    statement = cbor2.loads(base64url.decode(credential["response"]["attestationObject"], max_bytes=65536) or b"")
    statement["attStmt"]["sig"] = statement["attStmt"]["sig"][:-1] + bytes([statement["attStmt"]["sig"][-1] ^ 1])
    credential["response"]["attestationObject"] = base64url.encode(cbor2.dumps(statement))
    assert code_of(credential) == "webauthn.attestation"


def test_rp_id_hash_is_sha256_of_the_rp_id() -> None:
    assert RP.id_hash == hashlib.sha256(b"example.com").digest()
    assert BE == 0x08
