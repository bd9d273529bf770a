"""verify_apple_receipt: every real receipt with its decoded fields, and factory-made negatives."""

from __future__ import annotations

import base64
from datetime import timedelta

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from attest.apple import (
    AppAttestApp,
    Environment,
    ReceiptPolicy,
    ReceiptType,
    verify_apple_receipt,
)
from attest.apple.receipt import STEPS
from attest.errors import AttestationError
from tests.attest.apple.factory import (
    OTHER_APP_ID,
    TEST_APP_ID,
    AppAttestFactory,
    ReceiptFactory,
    der,
    make_ca,
    receipt_payload,
)
from tests.attest.apple.samples import ReceiptSample, iso, receipt_samples, sample

SAMPLES = receipt_samples()


def _policy(s: ReceiptSample, **options: object) -> ReceiptPolicy:
    return ReceiptPolicy(apps=(AppAttestApp(s.app_id, Environment(s.environment)),), **options)  # type: ignore[arg-type]


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("s", SAMPLES, ids=lambda s: s.name)
def test_real_receipt_verifies_and_decodes(s: ReceiptSample) -> None:
    steps: list[str] = []
    receipt = verify_apple_receipt(s.data, _policy(s), at=s.at, public_key=s.public_key, on_step=steps.append)
    assert steps == list(STEPS)
    expected = s.properties
    assert receipt.app_id == s.app_id
    assert receipt.receipt_type is ReceiptType(expected["type"])
    assert receipt.environment is Environment.DEVELOPMENT
    assert receipt.environment.receipt_name == expected["environment"]
    assert base64.b64encode(receipt.client_hash).decode() == expected["client_hash_b64"]
    assert receipt.token == expected["token"]
    assert receipt.creation_time == iso(expected["creation_time"])
    assert receipt.expiration_time == iso(expected["expiration_time"])
    assert receipt.not_before == (iso(expected["not_before"]) if expected["not_before"] else None)
    assert receipt.risk_metric == expected["risk_metric"]
    assert _spki(receipt.public_key) == _spki(s.public_key)
    assert receipt.raw == s.data


def test_real_attest_receipt_client_hash_is_the_attestation_client_data_hash() -> None:
    import hashlib

    for s in (r for r in SAMPLES if r.properties["type"] == "ATTEST"):
        receipt = verify_apple_receipt(s.data, _policy(s), at=s.at)
        assert receipt.client_hash == hashlib.sha256(b"wurzelpfropf").digest()


def test_real_production_receipt_inside_the_attestation() -> None:
    attestation = sample("node-app-attest/attestation-production")
    data = cbor2.loads(attestation.data)["attStmt"]["receipt"]
    policy = ReceiptPolicy(apps=(AppAttestApp(attestation.app_id),))
    at = iso("2024-02-07T21:08:56.308Z")
    receipt = verify_apple_receipt(data, policy, at=at)
    assert receipt.receipt_type is ReceiptType.ATTEST
    assert receipt.environment is Environment.PRODUCTION
    assert receipt.app_id == "V8H6LQ9448.io.uebelacker.AppAttestExample"
    assert receipt.creation_time == at
    assert receipt.expiration_time == iso("2024-05-07T21:08:56.308Z")
    assert receipt.risk_metric is None
    assert receipt.not_before is None
    assert receipt.attested_certificate == cbor2.loads(attestation.data)["attStmt"]["x5c"][0]
    with pytest.raises(AttestationError) as exc:
        verify_apple_receipt(
            data, ReceiptPolicy(apps=(AppAttestApp(attestation.app_id, Environment.DEVELOPMENT),)), at=at
        )
    assert exc.value.code == "receipt.environment_not_allowed"


def test_real_receipt_checks() -> None:
    s = next(r for r in SAMPLES if r.properties["type"] == "RECEIPT")
    other_key = next(r.public_key for r in SAMPLES if _spki(r.public_key) != _spki(s.public_key))
    cases: list[tuple[str, dict[str, object], dict[str, object]]] = [
        ("receipt.public_key_mismatch", {}, {"public_key": other_key}),
        ("receipt.stale", {"max_age": timedelta(minutes=5)}, {"at": s.at + timedelta(minutes=10)}),
        ("receipt.created_in_future", {"clock_skew": timedelta(0)}, {}),
        ("chain.expired", {}, {"at": iso("2021-07-01T00:00:00Z")}),
    ]
    for code, policy_options, call_options in cases:
        options: dict[str, object] = {"at": s.at}
        options.update(call_options)
        with pytest.raises(AttestationError) as exc:
            verify_apple_receipt(s.data, _policy(s, **policy_options), **options)  # type: ignore[arg-type]
        assert exc.value.code == code
    with pytest.raises(AttestationError) as exc:
        verify_apple_receipt(
            s.data, ReceiptPolicy(apps=(AppAttestApp(OTHER_APP_ID, Environment.DEVELOPMENT),)), at=s.at
        )
    assert exc.value.code == "receipt.app_id_not_allowed"
    with pytest.raises(AttestationError) as exc:
        verify_apple_receipt(s.data, ReceiptPolicy(apps=(AppAttestApp(s.app_id),)), at=s.at)
    assert exc.value.code == "receipt.environment_not_allowed"
    with pytest.raises(AttestationError) as exc:
        verify_apple_receipt(s.data, ReceiptFactory().policy(AppAttestApp(s.app_id, Environment.DEVELOPMENT)), at=s.at)
    assert exc.value.code == "chain.untrusted_root"


def test_real_receipt_tampered() -> None:
    s = SAMPLES[0]
    index = s.data.index(b"6MURL8TA57")
    tampered = s.data[:index] + b"7" + s.data[index + 1 :]
    with pytest.raises(AttestationError) as exc:
        verify_apple_receipt(tampered, _policy(s), at=s.at)
    assert exc.value.code == "receipt.signature"


# --- factory-made ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def attested(factory: AppAttestFactory) -> tuple[bytes, ec.EllipticCurvePublicKey]:
    built = factory.attestation()
    return der(built.credential_certificate), built.public_key


def _expect(code: str, receipts: ReceiptFactory, data: bytes, **overrides: object) -> None:
    options: dict[str, object] = {"at": receipts.now}
    policy = overrides.pop("policy", receipts.policy())
    options.update(overrides)
    with pytest.raises(AttestationError) as exc:
        verify_apple_receipt(data, policy, **options)  # type: ignore[arg-type]
    assert exc.value.code == code, exc.value.message


def test_factory_receipt_verifies(receipts: ReceiptFactory, attested: tuple[bytes, ec.EllipticCurvePublicKey]) -> None:
    certificate, key = attested
    data = receipts.receipt(
        certificate, receipt_type="RECEIPT", risk_metric="4", not_before=receipts.now + timedelta(days=1)
    )
    receipt = verify_apple_receipt(data, receipts.policy(), at=receipts.now, public_key=key)
    assert receipt.receipt_type is ReceiptType.RECEIPT
    assert receipt.risk_metric == 4
    assert receipt.not_before == receipts.now + timedelta(days=1)


def test_code_receipt_malformed(receipts: ReceiptFactory, attested: tuple[bytes, ec.EllipticCurvePublicKey]) -> None:
    certificate, _ = attested
    fields = receipts.fields(certificate)
    bad_payloads = [
        receipt_payload([f for f in fields if f[0] != 2]),  # no App ID
        receipt_payload([*fields, (2, b"ABCDE12345.com.example.attest")]),  # App ID twice
        receipt_payload([(n, b"yesterday" if n == 12 else v) for n, v in fields]),  # bad time
        receipt_payload([(n, b"2025-13-01T00:00:00Z" if n == 21 else v) for n, v in fields]),  # no such month
        receipt_payload([(n, b"OTHER" if n == 6 else v) for n, v in fields]),  # unknown type
        receipt_payload([(n, b"staging" if n == 7 else v) for n, v in fields]),  # unknown environment
        receipt_payload([*fields, (17, b"-1")]),  # risk metric not a number
        receipt_payload([(n, b"\xff\xfe" if n == 2 else v) for n, v in fields]),  # not UTF-8
        receipt_payload([(n, b"not a certificate" if n == 3 else v) for n, v in fields]),
        b"\x30\x00",  # a SEQUENCE, not a SET
        b"\x31\x03\x30\x01\x02",  # truncated attribute
    ]
    for payload in bad_payloads:
        _expect("receipt.malformed", receipts, receipts.receipt(certificate, payload=payload))
    _expect("receipt.malformed", receipts, receipts.receipt(certificate, signed_attributes=True))
    _expect("receipt.malformed", receipts, b"\x30\x03\x02\x01\x01")
    _expect("receipt.malformed", receipts, b"not a receipt")
    _expect("receipt.malformed", receipts, receipts.receipt(certificate) + b"\x00")
    _expect("receipt.malformed", receipts, receipts.receipt(certificate, certificates=(receipts.intermediate,)))


def test_code_input_too_large_and_chain_too_long(
    receipts: ReceiptFactory, attested: tuple[bytes, ec.EllipticCurvePublicKey]
) -> None:
    certificate, _ = attested
    _expect("input.too_large", receipts, b"\x30" * (65 * 1024))
    chain = (receipts.signer, receipts.intermediate, receipts.root, receipts.root, receipts.root)
    _expect("chain.too_long", receipts, receipts.receipt(certificate, certificates=chain))


def test_code_receipt_signature(receipts: ReceiptFactory, attested: tuple[bytes, ec.EllipticCurvePublicKey]) -> None:
    certificate, _ = attested
    _expect("receipt.signature", receipts, receipts.receipt(certificate, tamper_content=True))
    _expect(
        "receipt.signature",
        receipts,
        receipts.receipt(certificate, signing_key=ec.generate_private_key(ec.SECP256R1())),
    )


def test_code_receipt_signer_not_allowed(
    receipts: ReceiptFactory, attested: tuple[bytes, ec.EllipticCurvePublicKey]
) -> None:
    certificate, _ = attested
    no_marker = receipts.make_signer(marker=False)
    data = receipts.receipt(certificate, signer=no_marker, certificates=(no_marker, receipts.intermediate))
    _expect("receipt.signer_not_allowed", receipts, data)
    # Without the marker requirement (signer_marker_oid=None) the same receipt passes.
    verify_apple_receipt(data, receipts.policy(signer_marker_oid=None), at=receipts.now)
    cert_signer = receipts.make_signer(key_cert_sign=True)
    data = receipts.receipt(certificate, signer=cert_signer, certificates=(cert_signer, receipts.intermediate))
    _expect("receipt.signer_not_allowed", receipts, data)


def test_code_chain_errors(receipts: ReceiptFactory, attested: tuple[bytes, ec.EllipticCurvePublicKey]) -> None:
    certificate, _ = attested
    data = receipts.receipt(certificate)
    _expect(
        "chain.untrusted_root",
        receipts,
        data,
        policy=ReceiptPolicy(apps=(AppAttestApp(TEST_APP_ID, Environment.DEVELOPMENT),)),
    )
    _expect("chain.expired", receipts, data, at=receipts.now + timedelta(days=366))
    # The signer's issuer is missing from the receipt: nothing chains it to the root.
    lonely = receipts.receipt(certificate, certificates=(receipts.signer, receipts.root))
    _expect("chain.untrusted_root", receipts, lonely)
    # A signer issued by a non-CA.
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = make_ca(
        receipts.signer.subject,
        rogue_key,
        issuer=receipts.signer.subject,
        issuer_key=receipts.signer_key,
        not_before=receipts.now - timedelta(days=1),
        not_after=receipts.now + timedelta(days=1),
        ca=False,
        key_cert_sign=False,
    )
    data = receipts.receipt(
        certificate, signer=rogue, signing_key=rogue_key, certificates=(rogue, receipts.signer, receipts.intermediate)
    )
    _expect("chain.issuer_not_ca", receipts, data)


def test_code_policy_checks(receipts: ReceiptFactory, attested: tuple[bytes, ec.EllipticCurvePublicKey]) -> None:
    certificate, key = attested
    _expect("receipt.app_id_not_allowed", receipts, receipts.receipt(certificate, app_id=OTHER_APP_ID))
    _expect("receipt.environment_not_allowed", receipts, receipts.receipt(certificate, environment="production"))
    _expect("receipt.environment_not_allowed", receipts, receipts.receipt(certificate, environment=None))
    future = receipts.receipt(certificate, creation_time=receipts.now + timedelta(minutes=6))
    _expect("receipt.created_in_future", receipts, future)
    verify_apple_receipt(
        receipts.receipt(certificate, creation_time=receipts.now + timedelta(minutes=4)),
        receipts.policy(),
        at=receipts.now,
    )
    old = receipts.receipt(certificate, creation_time=receipts.now - timedelta(minutes=6))
    _expect("receipt.stale", receipts, old, policy=receipts.policy(max_age=timedelta(minutes=5)))
    verify_apple_receipt(old, receipts.policy(), at=receipts.now)  # no max_age: a stored receipt
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    _expect("receipt.public_key_mismatch", receipts, receipts.receipt(certificate), public_key=other)
    verify_apple_receipt(receipts.receipt(certificate), receipts.policy(), at=receipts.now, public_key=key)
