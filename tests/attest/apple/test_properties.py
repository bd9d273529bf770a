"""Hostile input: mutated CBOR and DER only ever produce typed errors (AttestationError subclasses)."""

from __future__ import annotations

from collections.abc import Callable

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest.apple import (
    AppAttestApp,
    AppAttestPolicy,
    Environment,
    ReceiptPolicy,
    verify_apple_assertion,
    verify_apple_attestation,
    verify_apple_receipt,
)
from attest.apple.attestation import parse_auth_data, read_nonce_extension
from attest.apple.receipt import parse_payload
from attest.errors import AttestationError
from tests.attest.apple.samples import assertion_samples, receipt_samples, sample

ATTESTATION = sample("ios-14.3/attestation")
POLICY = AppAttestPolicy(apps=(AppAttestApp(ATTESTATION.app_id, Environment.DEVELOPMENT),))
ASSERTION = assertion_samples()[2]
RECEIPT = next(r for r in receipt_samples() if r.name == "ios-14.3/receipt-2-receipt")
RECEIPT_POLICY = ReceiptPolicy(apps=(AppAttestApp(RECEIPT.app_id, Environment.DEVELOPMENT),))
OBJECT = cbor2.loads(ATTESTATION.data)
NONCE_EXTENSION = b"\x30\x24\xa1\x22\x04\x20" + bytes(32)
PAYLOAD = bytes.fromhex("310e300c020102020101040441424344")

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_typed_errors(call: Callable[[], object], *allowed: str) -> object:
    """``call``'s result, or None when it raised an AttestationError (with one of ``allowed`` codes, if
    given). Any other exception fails the test."""
    error: AttestationError | None = None
    result: object = None
    try:
        result = call()
    except AttestationError as exc:
        error = exc
    if error is not None:
        assert error.code
        assert error.message
        assert not allowed or error.code in allowed, error.code
    return result


def _attest(data: bytes) -> None:
    only_typed_errors(
        lambda: verify_apple_attestation(
            data, key_id=ATTESTATION.key_id, client_data=ATTESTATION.client_data, policy=POLICY, at=ATTESTATION.at
        )
    )


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
        if not data:
            break
        index = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[index] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[index] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x1B, 0x5B, 0x9F, 0xBF, 0xD8]))
        elif kind == "truncate":
            del data[index:]
        elif kind == "insert":
            data[index:index] = draw(st.binary(min_size=1, max_size=9))
        else:
            del data[index : index + draw(st.integers(1, 16))]
    return bytes(data)


@PROPERTY
@given(mutated(ATTESTATION.data))
def test_mutated_attestation_bytes(data: bytes) -> None:
    _attest(data)


@PROPERTY
@given(st.integers(0, 1), mutated(OBJECT["attStmt"]["x5c"][0]))
def test_mutated_certificate_der(which: int, certificate: bytes) -> None:
    x5c = list(OBJECT["attStmt"]["x5c"])
    x5c[which] = certificate
    _attest(cbor2.dumps({**OBJECT, "attStmt": {**OBJECT["attStmt"], "x5c": x5c}}))


@PROPERTY
@given(mutated(OBJECT["authData"]))
def test_mutated_auth_data(auth_data: bytes) -> None:
    _attest(cbor2.dumps({**OBJECT, "authData": auth_data}))
    only_typed_errors(lambda: parse_auth_data(auth_data), "appattest.malformed")


_CBOR_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.binary(max_size=64)
    | st.text(max_size=16)
    | st.sampled_from(["apple-appattest", "x5c", "receipt", "fmt", "attStmt", "authData", "signature"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=10) | st.sampled_from(["fmt", "attStmt", "authData", "x5c"]), children, max_size=4
        )
        | st.builds(cbor2.CBORTag, st.integers(0, 300), children)
    ),
    max_leaves=20,
)


@PROPERTY
@given(_CBOR_VALUES)
def test_arbitrary_cbor_values(value: object) -> None:
    data = cbor2.dumps(value)
    _attest(data)
    only_typed_errors(
        lambda: verify_apple_assertion(data, client_data=b"", public_key=ASSERTION.public_key, counter=0, policy=POLICY)
    )


@PROPERTY
@given(_CBOR_VALUES, _CBOR_VALUES)
def test_attestation_shaped_cbor(statement: object, auth_data: object) -> None:
    _attest(cbor2.dumps({"fmt": "apple-appattest", "attStmt": statement, "authData": auth_data}))
    _attest(
        cbor2.dumps(
            {"fmt": "apple-appattest", "attStmt": {"x5c": statement, "receipt": b""}, "authData": OBJECT["authData"]}
        )
    )


@PROPERTY
@given(mutated(ASSERTION.data))
def test_mutated_assertion(data: bytes) -> None:
    only_typed_errors(
        lambda: verify_apple_assertion(
            data, client_data=ASSERTION.client_data, public_key=ASSERTION.public_key, counter=0, policy=POLICY
        )
    )


@PROPERTY
@given(mutated(RECEIPT.data))
def test_mutated_receipt(data: bytes) -> None:
    only_typed_errors(lambda: verify_apple_receipt(data, RECEIPT_POLICY, at=RECEIPT.at))


@PROPERTY
@given(st.binary(max_size=96) | mutated(NONCE_EXTENSION))
def test_nonce_extension_der(value: bytes) -> None:
    nonce = only_typed_errors(lambda: read_nonce_extension(value), "extension.malformed")
    assert nonce is None or (isinstance(nonce, bytes) and len(nonce) == 32)


@PROPERTY
@given(st.binary(max_size=256) | mutated(PAYLOAD))
def test_receipt_payload_der(content: bytes) -> None:
    only_typed_errors(lambda: parse_payload(content, raw=b""), "receipt.malformed")


def test_originals_verify() -> None:
    """The properties above would hold vacuously if everything failed: the originals verify."""
    verify_apple_attestation(
        ATTESTATION.data,
        key_id=ATTESTATION.key_id,
        client_data=ATTESTATION.client_data,
        policy=POLICY,
        at=ATTESTATION.at,
    )
    verify_apple_assertion(
        ASSERTION.data, client_data=ASSERTION.client_data, public_key=ASSERTION.public_key, counter=0, policy=POLICY
    )
    verify_apple_receipt(RECEIPT.data, RECEIPT_POLICY, at=RECEIPT.at)
    assert read_nonce_extension(NONCE_EXTENSION) == bytes(32)
