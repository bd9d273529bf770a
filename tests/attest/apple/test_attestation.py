"""verify_apple_attestation: every real sample, and a factory-made negative for every error code."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from attest.apple import (
    AppAttestApp,
    AppAttestPolicy,
    Environment,
    IntermediateCache,
    verify_apple_attestation,
)
from attest.apple.attestation import STEPS, read_nonce_extension
from attest.errors import AttestationError
from tests.attest.apple.factory import (
    OTHER_APP_ID,
    TEST_APP_ID,
    AppAttestFactory,
    der,
    der_tlv,
    make_ca,
)
from tests.attest.apple.samples import AttestationSample, attestation_samples, sample

SAMPLES = attestation_samples()


def _policy(s: AttestationSample, environment: str | None = None) -> AppAttestPolicy:
    return AppAttestPolicy(apps=(AppAttestApp(s.app_id, Environment(environment or s.environment)),))


def _code(exc: pytest.ExceptionInfo[AttestationError]) -> str:
    return exc.value.code


# --- real samples ---------------------------------------------------------------------------------


@pytest.mark.parametrize("s", SAMPLES, ids=lambda s: s.name)
def test_real_sample_verifies(s: AttestationSample) -> None:
    steps: list[str] = []
    result = verify_apple_attestation(
        s.data, key_id=s.key_id, client_data=s.client_data, policy=_policy(s), at=s.at, on_step=steps.append
    )
    assert steps == list(STEPS)
    assert result.key_id == s.key_id
    assert result.app_id == s.app_id
    assert result.environment.value == s.environment
    assert result.sign_count == 0
    assert result.receipt == cbor2.loads(s.data)["attStmt"]["receipt"]
    point = result.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert hashlib.sha256(point).digest() == s.key_id
    assert result.public_key_jwk["kty"] == "EC"
    assert result.public_key_jwk["crv"] == "P-256"
    assert serialization.load_der_public_key(result.public_key_der) == result.public_key
    if s.public_key_pem is not None:
        expected = serialization.load_pem_public_key(s.public_key_pem.encode())
        assert result.public_key_der == expected.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@pytest.mark.parametrize("s", SAMPLES, ids=lambda s: s.name)
def test_real_sample_rejected_in_the_other_environment(s: AttestationSample) -> None:
    other = "production" if s.environment == "development" else "development"
    with pytest.raises(AttestationError) as exc:
        verify_apple_attestation(s.data, key_id=s.key_id, client_data=s.client_data, policy=_policy(s, other), at=s.at)
    assert _code(exc) == "appattest.environment_not_allowed"


def test_real_sample_accepted_when_both_environments_are_configured() -> None:
    s = sample("ios-14.3/attestation")
    policy = AppAttestPolicy(
        apps=(AppAttestApp(s.app_id, Environment.PRODUCTION), AppAttestApp(s.app_id, Environment.DEVELOPMENT))
    )
    result = verify_apple_attestation(s.data, key_id=s.key_id, client_data=s.client_data, policy=policy, at=s.at)
    assert result.environment is Environment.DEVELOPMENT


def test_production_sample_expires_with_its_leaf() -> None:
    s = sample("node-app-attest/attestation-production")
    with pytest.raises(AttestationError) as exc:
        verify_apple_attestation(
            s.data, key_id=s.key_id, client_data=s.client_data, policy=_policy(s), at=datetime(2025, 1, 1, tzinfo=UTC)
        )
    assert _code(exc) == "chain.expired"


def _mutate_real(s: AttestationSample, **changes: object) -> bytes:
    obj = cbor2.loads(s.data)
    auth = bytearray(obj["authData"])
    if "rp_id_hash" in changes:
        auth[0] ^= 0x01
    if "counter" in changes:
        auth[36] = 1
    if "credential_id" in changes:
        auth[55] ^= 0x01
    obj["authData"] = bytes(auth)
    if "leaf_signature" in changes:
        leaf = bytearray(obj["attStmt"]["x5c"][0])
        leaf[-3] ^= 0x01
        obj["attStmt"]["x5c"][0] = bytes(leaf)
    if "intermediate_signature" in changes:
        inter = bytearray(obj["attStmt"]["x5c"][1])
        inter[-3] ^= 0x01
        obj["attStmt"]["x5c"][1] = bytes(inter)
    return cbor2.dumps(obj)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("rp_id_hash", "appattest.nonce_mismatch"),
        ("counter", "appattest.nonce_mismatch"),
        ("credential_id", "appattest.nonce_mismatch"),
        ("leaf_signature", "chain.signature"),
        ("intermediate_signature", "chain.signature"),
    ],
)
def test_mutated_real_sample(change: str, code: str) -> None:
    # authData is covered by the certified nonce, so an edited authData is a nonce mismatch.
    s = sample("ios-14.2/attestation")
    data = _mutate_real(s, **{change: True})
    with pytest.raises(AttestationError) as exc:
        verify_apple_attestation(data, key_id=s.key_id, client_data=s.client_data, policy=_policy(s), at=s.at)
    assert _code(exc) == code


def test_real_sample_with_other_client_data_or_key_id() -> None:
    s = sample("ios-14.4-beta-1/attestation")
    with pytest.raises(AttestationError) as exc:
        verify_apple_attestation(s.data, key_id=s.key_id, client_data=b"other", policy=_policy(s), at=s.at)
    assert _code(exc) == "appattest.nonce_mismatch"
    other_key_id = bytes([s.key_id[0] ^ 1]) + s.key_id[1:]
    with pytest.raises(AttestationError) as exc:
        verify_apple_attestation(s.data, key_id=other_key_id, client_data=s.client_data, policy=_policy(s), at=s.at)
    assert _code(exc) == "appattest.key_id_mismatch"


def test_real_sample_for_another_app_or_root() -> None:
    s = sample("ios-14.3/attestation")
    policy = AppAttestPolicy(apps=(AppAttestApp(OTHER_APP_ID, Environment.DEVELOPMENT),))
    with pytest.raises(AttestationError) as exc:
        verify_apple_attestation(s.data, key_id=s.key_id, client_data=s.client_data, policy=policy, at=s.at)
    assert _code(exc) == "appattest.app_id_not_allowed"
    with pytest.raises(AttestationError) as exc:
        verify_apple_attestation(
            s.data, key_id=s.key_id, client_data=s.client_data, policy=AppAttestFactory().policy(), at=s.at
        )
    assert _code(exc) == "chain.untrusted_root"


def test_real_sample_outside_leaf_validity() -> None:
    s = sample("ios-14.3/attestation")
    for at in (s.at - timedelta(days=2), s.at + timedelta(days=3)):
        with pytest.raises(AttestationError) as exc:
            verify_apple_attestation(s.data, key_id=s.key_id, client_data=s.client_data, policy=_policy(s), at=at)
        assert _code(exc) == "chain.expired"


def test_naive_time_is_refused() -> None:
    s = sample("ios-14.3/attestation")
    with pytest.raises(TypeError):
        verify_apple_attestation(
            s.data, key_id=s.key_id, client_data=s.client_data, policy=_policy(s), at=s.at.replace(tzinfo=None)
        )


# --- the intermediate cache -----------------------------------------------------------------------


def test_cache_hit_gives_the_same_result() -> None:
    s = sample("node-app-attest/attestation-production")
    cache = IntermediateCache()
    first = verify_apple_attestation(
        s.data, key_id=s.key_id, client_data=s.client_data, policy=_policy(s), at=s.at, cache=cache
    )
    second = verify_apple_attestation(
        s.data, key_id=s.key_id, client_data=s.client_data, policy=_policy(s), at=s.at, cache=cache
    )
    assert not first.intermediate_cached
    assert second.intermediate_cached
    assert first == second
    assert len(cache) == 1


def test_cache_does_not_vouch_for_a_forged_leaf() -> None:
    s = sample("ios-14.2/attestation")
    cache = IntermediateCache()
    verify_apple_attestation(
        s.data, key_id=s.key_id, client_data=s.client_data, policy=_policy(s), at=s.at, cache=cache
    )
    with pytest.raises(AttestationError) as exc:
        verify_apple_attestation(
            _mutate_real(s, leaf_signature=True),
            key_id=s.key_id,
            client_data=s.client_data,
            policy=_policy(s),
            at=s.at,
            cache=cache,
        )
    assert _code(exc) == "chain.signature"


def test_cache_entry_is_not_used_with_other_anchors(factory: AppAttestFactory) -> None:
    s = sample("ios-14.2/attestation")
    cache = IntermediateCache()
    verify_apple_attestation(
        s.data, key_id=s.key_id, client_data=s.client_data, policy=_policy(s), at=s.at, cache=cache
    )
    other = AppAttestPolicy(apps=_policy(s).apps, anchors=factory.anchors)
    with pytest.raises(AttestationError) as exc:
        verify_apple_attestation(s.data, key_id=s.key_id, client_data=s.client_data, policy=other, at=s.at, cache=cache)
    assert _code(exc) == "chain.untrusted_root"


def test_cache_entry_is_not_used_outside_the_intermediate_validity(factory: AppAttestFactory) -> None:
    cache = IntermediateCache()
    built = factory.attestation()
    verify_apple_attestation(
        built.data,
        key_id=built.key_id,
        client_data=built.client_data,
        policy=factory.policy(),
        at=built.at,
        cache=cache,
    )
    late = factory.now + timedelta(days=400)  # past the intermediate, leaf re-made to be valid then
    late_built = factory.attestation(leaf_not_before=late - timedelta(days=1), leaf_not_after=late + timedelta(days=1))
    with pytest.raises(AttestationError) as exc:
        verify_apple_attestation(
            late_built.data,
            key_id=late_built.key_id,
            client_data=late_built.client_data,
            policy=factory.policy(),
            at=late,
            cache=cache,
        )
    assert _code(exc) == "chain.expired"


def test_cache_is_bounded(factory: AppAttestFactory) -> None:
    cache = IntermediateCache(max_entries=1)
    for _ in range(2):
        other = AppAttestFactory(root_key=factory.root_key)
        built = other.attestation()
        verify_apple_attestation(
            built.data,
            key_id=built.key_id,
            client_data=built.client_data,
            policy=other.policy(),
            at=built.at,
            cache=cache,
        )
    assert len(cache) == 1


# --- factory-made: each of Apple's checks ---------------------------------------------------------


def _verify(factory: AppAttestFactory, built: object, **overrides: object) -> None:
    from tests.attest.apple.factory import BuiltAttestation

    assert isinstance(built, BuiltAttestation)
    options: dict[str, object] = {
        "key_id": built.key_id,
        "client_data": built.client_data,
        "policy": factory.policy(),
        "at": built.at,
    }
    options.update(overrides)
    verify_apple_attestation(built.data, **options)  # type: ignore[arg-type]


def test_factory_object_verifies(factory: AppAttestFactory) -> None:
    built = factory.attestation()
    _verify(factory, built)
    production = factory.attestation(environment=Environment.PRODUCTION)
    _verify(factory, production, policy=factory.policy(AppAttestApp(TEST_APP_ID)))


def test_factory_chain_with_the_root_appended(factory: AppAttestFactory) -> None:
    built = factory.attestation()
    chain = [der(built.credential_certificate), der(factory.intermediate), der(factory.root)]
    _verify(factory, factory.attestation(key=built.private_key, x5c=chain))


def _expect(code: str, factory: AppAttestFactory, built: object, **overrides: object) -> None:
    with pytest.raises(AttestationError) as exc:
        _verify(factory, built, **overrides)
    assert exc.value.code == code, exc.value.message
    assert exc.value.message


def _other_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_code_appattest_malformed(factory: AppAttestFactory) -> None:
    built = factory.attestation()
    _expect("appattest.malformed", factory, type(built)(**{**built.__dict__, "data": b"\xff\x00"}))
    _expect("appattest.malformed", factory, type(built)(**{**built.__dict__, "data": built.data + b"\x00"}))
    for auth_data in (built.auth_data[:36], built.auth_data[:60], built.auth_data[: 55 + 32]):
        _expect("appattest.malformed", factory, factory.attestation(auth_data=auth_data))
    _expect("appattest.malformed", factory, factory.attestation(flags=0x00))  # no attested credential data
    _expect("appattest.malformed", factory, factory.attestation(flags=0xC0))  # extensions flagged
    too_long_id = built.auth_data[:53] + (2000).to_bytes(2, "big") + built.auth_data[55:]
    _expect("appattest.malformed", factory, factory.attestation(auth_data=too_long_id))


def test_code_appattest_format(factory: AppAttestFactory) -> None:
    built = factory.attestation()
    _expect("appattest.format", factory, factory.attestation(fmt="packed"))
    leaf, inter = der(built.credential_certificate), der(factory.intermediate)
    shapes: list[object] = [
        [1, 2],
        {"fmt": "apple-appattest", "attStmt": {"x5c": [leaf, inter]}, "authData": built.auth_data},
        {"fmt": "apple-appattest", "attStmt": {"x5c": [leaf, inter], "receipt": b""}, "authData": "text"},
        {"fmt": "apple-appattest", "attStmt": {"x5c": [leaf, inter], "receipt": 1}, "authData": built.auth_data},
        {"fmt": "apple-appattest", "attStmt": {"x5c": leaf, "receipt": b""}, "authData": built.auth_data},
        {"fmt": "apple-appattest", "attStmt": {"x5c": [leaf], "receipt": b""}, "authData": built.auth_data},
        {"fmt": "apple-appattest", "attStmt": [], "authData": built.auth_data},
        {"fmt": 1, "attStmt": {}, "authData": built.auth_data},
        {"fmt": "apple-appattest", "attStmt": {"x5c": [leaf, inter], "receipt": b""}, "authData": b"", "x": 1},
    ]
    for shape in shapes:
        _expect("appattest.format", factory, type(built)(**{**built.__dict__, "data": cbor2.dumps(shape)}))


def test_code_input_too_large(factory: AppAttestFactory) -> None:
    built = factory.attestation(receipt=b"r" * 70_000)
    _expect("input.too_large", factory, built)


def test_code_chain_empty_too_long_malformed(factory: AppAttestFactory) -> None:
    built = factory.attestation()
    leaf, inter = der(built.credential_certificate), der(factory.intermediate)
    _expect("chain.empty", factory, factory.attestation(x5c=[]))
    _expect("chain.too_long", factory, factory.attestation(x5c=[leaf, inter, inter, inter, inter]))
    _expect("chain.malformed", factory, factory.attestation(x5c=[b"not a certificate", inter]))
    _expect("chain.malformed", factory, factory.attestation(x5c=[leaf, b"\x30\x03\x02\x01\x01"]))


def test_code_chain_signature(factory: AppAttestFactory) -> None:
    forged = factory.attestation(leaf_signer_key=ec.generate_private_key(ec.SECP384R1()))
    _expect("chain.signature", factory, forged)
    # An intermediate with the right name but signed by a look-alike root.
    impostor = AppAttestFactory()
    built = impostor.attestation()
    _expect("chain.signature", factory, built)


def test_code_chain_untrusted_root(factory: AppAttestFactory) -> None:
    built = factory.attestation()
    _expect(
        "chain.untrusted_root",
        factory,
        built,
        policy=AppAttestPolicy(apps=(AppAttestApp(TEST_APP_ID, Environment.DEVELOPMENT),)),
    )


def test_code_chain_expired(factory: AppAttestFactory) -> None:
    built = factory.attestation()
    _expect("chain.expired", factory, built, at=factory.now + timedelta(days=3))
    _expect("chain.expired", factory, built, at=factory.now - timedelta(days=2))
    old_intermediate = factory.make_intermediate(not_after=factory.now - timedelta(seconds=1))
    _expect("chain.expired", factory, factory.attestation(intermediate=old_intermediate))


def test_code_chain_name_chaining(factory: AppAttestFactory) -> None:
    renamed = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Someone Else CA")])
    _expect("chain.name_chaining", factory, factory.attestation(leaf_issuer_name=renamed))


def test_code_chain_issuer_not_ca(factory: AppAttestFactory) -> None:
    not_ca = factory.make_intermediate(ca=False, key_cert_sign=False)
    _expect("chain.issuer_not_ca", factory, factory.attestation(intermediate=not_ca))
    no_cert_sign = factory.make_intermediate(key_cert_sign=False)
    _expect("chain.issuer_not_ca", factory, factory.attestation(intermediate=no_cert_sign))


def test_code_chain_path_length(factory: AppAttestFactory) -> None:
    # root -> intermediate (pathLen 0) -> sub-CA -> leaf: the sub-CA is one intermediate too many.
    inter = factory.make_intermediate(path_length=0)
    sub_key = ec.generate_private_key(ec.SECP384R1())
    sub = make_ca(
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Sub CA")]),
        sub_key,
        issuer=inter.subject,
        issuer_key=factory.intermediate_key,
        not_before=factory.now - timedelta(days=1),
        not_after=factory.now + timedelta(days=10),
    )
    built = factory.attestation(leaf_issuer_name=sub.subject, leaf_signer_key=sub_key)
    chain = [der(built.credential_certificate), der(sub), der(inter)]
    _expect("chain.issuer_not_ca", factory, factory.attestation(key=built.private_key, x5c=chain))


def test_code_extension_missing_and_malformed(factory: AppAttestFactory) -> None:
    _expect("extension.missing", factory, factory.attestation(include_nonce=False))
    nonce = b"\x00" * 32
    malformed = [
        der_tlv(0x04, nonce),  # bare OCTET STRING: the byte-slicing parsers accept this
        der_tlv(0x30, der_tlv(0xA2, der_tlv(0x04, nonce))),  # [2] instead of [1]
        der_tlv(0x30, der_tlv(0xA1, der_tlv(0x04, nonce)) + der_tlv(0x05, b"")),  # two elements
        der_tlv(0x30, der_tlv(0xA1, der_tlv(0x04, nonce[:31]))),  # not a SHA-256
        der_tlv(0x30, der_tlv(0xA1, der_tlv(0x04, nonce))) + b"\x00",  # trailing byte
        b"\x30\x81\x24" + der_tlv(0xA1, der_tlv(0x04, nonce)),  # non-minimal length
    ]
    for value in malformed:
        _expect("extension.malformed", factory, factory.attestation(nonce_extension=value))


def test_nonce_extension_reader_accepts_apple_shape() -> None:
    assert read_nonce_extension(der_tlv(0x30, der_tlv(0xA1, der_tlv(0x04, b"\x07" * 32)))) == b"\x07" * 32


def test_code_appattest_nonce_mismatch(factory: AppAttestFactory) -> None:
    built = factory.attestation()
    _expect("appattest.nonce_mismatch", factory, built, client_data=b"another challenge")
    _expect("appattest.nonce_mismatch", factory, factory.attestation(certified_nonce=b"\x00" * 32))


def test_code_appattest_key_id_mismatch(factory: AppAttestFactory) -> None:
    built = factory.attestation()
    _expect("appattest.key_id_mismatch", factory, built, key_id=hashlib.sha256(b"other").digest())
    _expect("appattest.key_id_mismatch", factory, built, key_id=b"")


def test_code_key_algorithm(factory: AppAttestFactory) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    built = factory.attestation(key=p384)
    _expect("key.algorithm", factory, built)


def test_code_appattest_app_id_not_allowed(factory: AppAttestFactory) -> None:
    _expect("appattest.app_id_not_allowed", factory, factory.attestation(app_id=OTHER_APP_ID))


def test_code_appattest_counter_not_zero(factory: AppAttestFactory) -> None:
    _expect("appattest.counter_not_zero", factory, factory.attestation(counter=1))


def test_code_appattest_environment_not_allowed(factory: AppAttestFactory) -> None:
    development = factory.attestation(environment=Environment.DEVELOPMENT)
    _expect(
        "appattest.environment_not_allowed",
        factory,
        development,
        policy=factory.policy(AppAttestApp(TEST_APP_ID, Environment.PRODUCTION)),
    )
    production = factory.attestation(environment=Environment.PRODUCTION)
    _expect("appattest.environment_not_allowed", factory, production)
    _expect("appattest.environment_not_allowed", factory, factory.attestation(aaguid=b"appattestsandbox"))
    _expect("appattest.environment_not_allowed", factory, factory.attestation(aaguid=bytes(16)))


def test_code_appattest_credential_id_mismatch(factory: AppAttestFactory) -> None:
    _expect("appattest.credential_id_mismatch", factory, factory.attestation(credential_id=b"\x00" * 32))
    _expect("appattest.credential_id_mismatch", factory, factory.attestation(credential_id=b"\x01"))


def test_steps_reported_until_the_failure(factory: AppAttestFactory) -> None:
    built = factory.attestation(counter=7)
    steps: list[str] = []
    with pytest.raises(AttestationError):
        verify_apple_attestation(
            built.data,
            key_id=built.key_id,
            client_data=built.client_data,
            policy=factory.policy(),
            at=built.at,
            on_step=steps.append,
        )
    assert steps == list(STEPS[:5])


def test_result_json_friendly(factory: AppAttestFactory) -> None:
    built = factory.attestation()
    result = verify_apple_attestation(
        built.data, key_id=built.key_id, client_data=built.client_data, policy=factory.policy(), at=built.at
    )
    numbers = built.public_key.public_numbers()
    assert base64.urlsafe_b64decode(result.public_key_jwk["x"] + "=") == numbers.x.to_bytes(32, "big")
    assert "receipt" not in repr(result)
