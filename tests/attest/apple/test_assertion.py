"""verify_apple_assertion: every real sample, and a factory-made negative for every error code."""

from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from attest.apple import AppAttestApp, AppAttestPolicy, Environment, verify_apple_assertion
from attest.apple.assertion import STEPS
from attest.errors import AttestationError
from tests.attest.apple.factory import CLIENT_DATA, OTHER_APP_ID, TEST_APP_ID, AppAttestFactory, make_assertion
from tests.attest.apple.samples import AssertionSample, assertion_samples, attestation_samples

SAMPLES = assertion_samples()
POLICY = AppAttestPolicy(apps=(AppAttestApp(TEST_APP_ID, Environment.DEVELOPMENT),))


def _policy(s: AssertionSample) -> AppAttestPolicy:
    return AppAttestPolicy(apps=(AppAttestApp(s.app_id, Environment.DEVELOPMENT),))


@pytest.mark.parametrize("s", SAMPLES, ids=lambda s: s.name)
def test_real_assertion_verifies(s: AssertionSample) -> None:
    steps: list[str] = []
    result = verify_apple_assertion(
        s.data,
        client_data=s.client_data,
        public_key=s.public_key,
        counter=s.stored_counter,
        policy=_policy(s),
        on_step=steps.append,
    )
    assert result.counter == s.expected_counter == 1
    assert result.app_id == s.app_id
    assert steps == list(STEPS)


@pytest.mark.parametrize("s", SAMPLES, ids=lambda s: s.name)
def test_real_assertion_replayed(s: AssertionSample) -> None:
    with pytest.raises(AttestationError) as exc:
        verify_apple_assertion(s.data, client_data=s.client_data, public_key=s.public_key, counter=1, policy=_policy(s))
    assert exc.value.code == "assertion.counter_not_increasing"


@pytest.mark.parametrize("s", SAMPLES, ids=lambda s: s.name)
def test_real_assertion_with_other_client_data_key_or_app(s: AssertionSample) -> None:
    with pytest.raises(AttestationError) as exc:
        verify_apple_assertion(s.data, client_data=b"wurzel", public_key=s.public_key, counter=0, policy=_policy(s))
    assert exc.value.code == "assertion.signature"
    other = next(a for a in SAMPLES if a.key_id != s.key_id)
    with pytest.raises(AttestationError) as exc:
        verify_apple_assertion(
            s.data, client_data=s.client_data, public_key=other.public_key, counter=0, policy=_policy(s)
        )
    assert exc.value.code == "assertion.signature"
    with pytest.raises(AttestationError) as exc:
        verify_apple_assertion(s.data, client_data=s.client_data, public_key=s.public_key, counter=0, policy=POLICY)
    assert exc.value.code == "assertion.app_id_not_allowed"


def test_real_assertion_key_matches_its_attestation() -> None:
    attested = {a.key_id: a for a in attestation_samples()}
    for s in SAMPLES:
        assert s.key_id in attested


def test_mutated_real_assertion() -> None:
    s = SAMPLES[0]
    obj = cbor2.loads(s.data)
    for field, index in (("authenticatorData", 36), ("authenticatorData", 0), ("signature", 10)):
        mutated = dict(obj)
        value = bytearray(mutated[field])
        value[index] ^= 0x01
        mutated[field] = bytes(value)
        with pytest.raises(AttestationError) as exc:
            verify_apple_assertion(
                cbor2.dumps(mutated), client_data=s.client_data, public_key=s.public_key, counter=0, policy=_policy(s)
            )
        assert exc.value.code == "assertion.signature"


# --- factory-made ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _expect(code: str, data: bytes, key: ec.EllipticCurvePrivateKey, **overrides: object) -> None:
    options: dict[str, object] = {
        "client_data": CLIENT_DATA,
        "public_key": key.public_key(),
        "counter": 0,
        "policy": POLICY,
    }
    options.update(overrides)
    with pytest.raises(AttestationError) as exc:
        verify_apple_assertion(data, **options)  # type: ignore[arg-type]
    assert exc.value.code == code, exc.value.message


def test_factory_assertion_sequence(key: ec.EllipticCurvePrivateKey) -> None:
    counter = 0
    for next_counter in (1, 2, 10, 0xFFFFFFFF):
        result = verify_apple_assertion(
            make_assertion(key, counter=next_counter),
            client_data=CLIENT_DATA,
            public_key=key.public_key(),
            counter=counter,
            policy=POLICY,
        )
        counter = result.counter
    assert counter == 0xFFFFFFFF


def test_factory_assertion_from_an_attested_key(factory: AppAttestFactory) -> None:
    from attest.apple import verify_apple_attestation

    built = factory.attestation()
    attested = verify_apple_attestation(
        built.data, key_id=built.key_id, client_data=built.client_data, policy=factory.policy(), at=built.at
    )
    result = verify_apple_assertion(
        make_assertion(built.private_key, client_data=b"request 1"),
        client_data=b"request 1",
        public_key=attested.public_key,
        counter=attested.sign_count,
        policy=factory.policy(),
    )
    assert result.counter == 1


def test_code_assertion_malformed(key: ec.EllipticCurvePrivateKey) -> None:
    good = make_assertion(key)
    bad = [
        b"",
        b"\xff",
        good + b"\x00",
        cbor2.dumps([1]),
        cbor2.dumps({"signature": b"x"}),
        cbor2.dumps({"signature": "x", "authenticatorData": b"a" * 37}),
        cbor2.dumps({"signature": b"x", "authenticatorData": b"a" * 37, "extra": 1}),
        make_assertion(key, authenticator_data=b"a" * 36),
        make_assertion(key, authenticator_data=b"a" * 38),
    ]
    for data in bad:
        _expect("assertion.malformed", data, key)


def test_code_input_too_large(key: ec.EllipticCurvePrivateKey) -> None:
    _expect("input.too_large", cbor2.dumps({"signature": b"s" * 5000, "authenticatorData": b"a" * 37}), key)


def test_code_assertion_signature(key: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    _expect("assertion.signature", make_assertion(other), key)
    _expect("assertion.signature", make_assertion(key, signed_client_data=b"something else"), key)
    _expect("assertion.signature", make_assertion(key), key, client_data=b"tampered")
    _expect(
        "assertion.signature",
        cbor2.dumps(
            {"signature": b"\x30\x00", "authenticatorData": cbor2.loads(make_assertion(key))["authenticatorData"]}
        ),
        key,
    )


def test_code_assertion_app_id_not_allowed(key: ec.EllipticCurvePrivateKey) -> None:
    _expect("assertion.app_id_not_allowed", make_assertion(key, app_id=OTHER_APP_ID), key)


def test_code_assertion_counter_not_increasing(key: ec.EllipticCurvePrivateKey) -> None:
    _expect("assertion.counter_not_increasing", make_assertion(key, counter=0), key)
    _expect("assertion.counter_not_increasing", make_assertion(key, counter=5), key, counter=5)
    _expect("assertion.counter_not_increasing", make_assertion(key, counter=4), key, counter=5)


def test_code_key_algorithm(key: ec.EllipticCurvePrivateKey) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    _expect("key.algorithm", make_assertion(key), key, public_key=p384.public_key())


def test_stored_counter_out_of_range(key: ec.EllipticCurvePrivateKey) -> None:
    for counter in (-1, 2**32):
        with pytest.raises(ValueError, match="counter"):
            verify_apple_assertion(
                make_assertion(key),
                client_data=CLIENT_DATA,
                public_key=key.public_key(),
                counter=counter,
                policy=POLICY,
            )
