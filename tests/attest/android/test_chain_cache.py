"""The intermediate cache: a warm cache gives the verdict of a cold validation, at every edge."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from attest.android import (
    AndroidPolicy,
    IntermediateCache,
    RevocationMode,
    StatusList,
    TrustAnchors,
    parse_status_list,
    verify_android_attestation,
)
from attest.android.chain import encoded_fields, serial_hex
from attest.errors import AttestationError
from attest.jwk import public_key_to_jwk
from tests.attest.android import factory as f

PKI = f.TestPki(name="cache")
NOW = f.FACTORY_NOW
ANCHORS = TrustAnchors.from_pem_certificates(PKI.root_certificate().public_bytes(serialization.Encoding.PEM))
POLICY = AndroidPolicy(challenge=f.DEFAULT_CHALLENGE, app=None, trust_anchors=ANCHORS, revocation=RevocationMode.OFF)


def verdict(
    chain: tuple[bytes, ...] | list[bytes],
    cache: IntermediateCache | None,
    *,
    at: datetime = NOW,
    policy: AndroidPolicy = POLICY,
    status_list: StatusList | None = None,
) -> tuple[Any, ...]:
    try:
        result = verify_android_attestation(chain, policy, at=at, status_list=status_list, intermediate_cache=cache)
    except AttestationError as error:
        return ("rejected", error.code)
    return ("valid", result.public_key_der, result.root_key_fingerprint, result.remotely_provisioned)


def same_verdict(chain: tuple[bytes, ...] | list[bytes], cache: IntermediateCache, **kw: Any) -> tuple[Any, ...]:
    """The warm verdict, asserted equal to the cold one."""
    warm = verdict(chain, cache, **kw)
    assert warm == verdict(chain, None, **kw)
    return warm


def test_every_suffix_above_the_leaf_is_remembered() -> None:
    cache = IntermediateCache()
    chain = PKI.chain().certificates  # leaf, attestation CA, Droid CA3, Droid CA2, root
    assert same_verdict(chain, cache)[0] == "valid"
    assert len(cache) == 3  # from the attestation CA, Droid CA3 and Droid CA2 up
    assert same_verdict(chain, cache)[0] == "valid"
    assert len(cache) == 3


def test_a_new_device_reuses_the_shared_intermediates() -> None:
    cache = IntermediateCache()
    first = PKI.chain().certificates
    # Another device: its own attestation-key certificate (same key and name, other serial).
    device = PKI.chain(serial_numbers={f.Role.ATTESTATION_CA: 0x5EC0D}).certificates
    second = (*device[:2], *first[2:])
    same_verdict(first, cache)
    assert same_verdict(second, cache)[0] == "valid"
    assert len(cache) == 4  # only the new device's suffix was added


def test_a_leaf_under_another_devices_intermediate() -> None:
    """The same leaf issuer name with other intermediates: nothing of the first chain vouches for it."""
    cache = IntermediateCache()
    same_verdict(PKI.chain().certificates, cache)
    other = f.TestPki(name="cache-other").chain().certificates
    mixed = [PKI.chain().certificates[0], *other[1:]]
    assert same_verdict(mixed, cache) == ("rejected", "chain.untrusted_root")
    trusting_both = replace(
        POLICY,
        trust_anchors=TrustAnchors(
            ANCHORS.anchors
            + TrustAnchors.from_pem_certificates(
                f.TestPki(name="cache-other").root_certificate().public_bytes(serialization.Encoding.PEM)
            ).anchors
        ),
    )
    same_verdict(other, cache, policy=trusting_both)
    assert same_verdict(mixed, cache, policy=trusting_both)[0] == "rejected"


@pytest.mark.parametrize("role", [f.Role.ATTESTATION_CA, f.Role.DROID_CA3, f.Role.DROID_CA2])
def test_cached_intermediate_outside_its_validity_at_the_verification_time(role: f.Role) -> None:
    expiry = NOW + timedelta(days=10)
    chain = PKI.chain(not_after={role: expiry}).certificates
    cache = IntermediateCache()
    assert same_verdict(chain, cache)[0] == "valid"
    assert same_verdict(chain, cache, at=expiry + timedelta(seconds=1)) == ("rejected", "chain.expired")
    assert same_verdict(chain, cache, at=NOW - timedelta(days=400)) == ("rejected", "chain.expired")
    assert same_verdict(chain, cache)[0] == "valid"


def test_not_before_leeway_applies_to_cached_intermediates() -> None:
    start = NOW - timedelta(minutes=1)
    chain = PKI.chain(not_before={f.Role.DROID_CA3: start, f.Role.LEAF: start - timedelta(days=1)}).certificates
    cache = IntermediateCache()
    assert same_verdict(chain, cache)[0] == "valid"
    leeway = POLICY.not_before_leeway
    assert same_verdict(chain, cache, at=start - leeway)[0] == "valid"
    assert same_verdict(chain, cache, at=start - leeway - timedelta(seconds=1)) == ("rejected", "chain.expired")


@pytest.mark.parametrize("role", [f.Role.ATTESTATION_CA, f.Role.DROID_CA3, f.Role.DROID_CA2])
def test_cached_intermediate_revoked_later(role: f.Role) -> None:
    """Revocation is looked up in the current list on every call, cached certificates included."""
    chain = PKI.chain(serial_numbers={role: 0xDECAF}).certificates
    required = replace(POLICY, revocation=RevocationMode.REQUIRED)
    clean = parse_status_list(b'{"entries": {}}')
    revoked = parse_status_list(b'{"entries": {"decaf": {"status": "REVOKED", "reason": "KEY_COMPROMISE"}}}')
    cache = IntermediateCache()
    assert same_verdict(chain, cache, policy=required, status_list=clean)[0] == "valid"
    assert same_verdict(chain, cache, policy=required, status_list=revoked) == ("rejected", "chain.revoked")
    assert same_verdict(chain, cache, policy=required, status_list=clean)[0] == "valid"


def issue(
    subject: str, issuer: str, key: Any, signer: Any, *, path_length: int | None = None, ca: bool = True
) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
    else:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(f.KEY_DESCRIPTION_OID), f.DEFAULT_EXTENSION),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_cached_suffix_deeper_than_its_path_length_allows() -> None:
    """A known suffix whose pathLenConstraint admitted the chain it was validated in, sent with one
    more intermediate below it: validated again, and rejected as it is cold."""
    root_key, ca_key, sub_key, leaf_key = (
        f.cached_private_key(f.KeyType.EC_P256, f"cache-pathlen/{role}") for role in ("root", "ca", "sub", "leaf")
    )
    root = issue("root", "root", root_key, root_key)
    ca = issue("ca", "root", ca_key, root_key, path_length=0)
    sub = issue("sub", "ca", sub_key, ca_key)
    policy = replace(
        POLICY,
        trust_anchors=TrustAnchors.from_pem_certificates(
            x509.load_der_x509_certificate(root).public_bytes(serialization.Encoding.PEM)
        ),
    )
    cache = IntermediateCache()
    direct = [issue("leaf", "ca", leaf_key, ca_key, ca=False), ca, root]
    assert same_verdict(direct, cache, policy=policy)[0] == "valid"
    deeper = [issue("leaf", "sub", leaf_key, sub_key, ca=False), sub, ca, root]
    assert same_verdict(deeper, cache, policy=policy) == ("rejected", "chain.issuer_not_ca")


def test_other_anchors_do_not_use_the_entries() -> None:
    cache = IntermediateCache()
    chain = PKI.chain().certificates
    same_verdict(chain, cache)
    unrelated = replace(
        POLICY,
        trust_anchors=TrustAnchors.from_pem_certificates(
            f.TestPki(name="cache-unrelated").root_certificate().public_bytes(serialization.Encoding.PEM)
        ),
    )
    assert same_verdict(chain, cache, policy=unrelated) == ("rejected", "chain.untrusted_root")


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_a_tampered_certificate_below_a_known_suffix(index: int) -> None:
    cache = IntermediateCache()
    chain = list(PKI.chain().certificates)
    same_verdict(chain, cache)
    tampered = bytearray(chain[index])
    tampered[-5] ^= 0x01  # inside the signature
    chain[index] = bytes(tampered)
    assert same_verdict(chain, cache)[0] == "rejected"


def test_bytearray_and_non_bytes_input() -> None:
    cache = IntermediateCache()
    chain = PKI.chain().certificates
    same_verdict(chain, cache)
    arrays: list[Any] = [bytearray(der) for der in chain]
    assert same_verdict(arrays, cache)[0] == "valid"
    not_bytes: list[Any] = [*chain[:-1], "root"]
    assert same_verdict(not_bytes, cache) == ("rejected", "chain.malformed")
    assert same_verdict([*chain, *chain], cache) == ("rejected", "chain.too_long")


def test_revocation_serials_of_cached_certificates() -> None:
    cache = IntermediateCache()
    chain = PKI.chain().certificates
    result = verify_android_attestation(chain, POLICY, at=NOW, intermediate_cache=cache)
    again = verify_android_attestation(chain, POLICY, at=NOW, intermediate_cache=cache)
    assert again.certificates == result.certificates
    assert [serial_hex(certificate) for certificate in again.certificates] == [
        serial_hex(certificate) for certificate in result.certificates
    ]


def test_raw_names() -> None:
    chain = PKI.chain()
    for der, certificate in zip(chain.certificates, chain.x509_certificates, strict=True):
        fields = encoded_fields(der)
        assert fields is not None
        assert fields.issuer == certificate.issuer.public_bytes()
        assert fields.subject == certificate.subject.public_bytes()
        assert fields.subject_public_key_info == certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    assert encoded_fields(b"\x30\x03\x02\x01\x01") is None
    assert encoded_fields(b"") is None


@pytest.mark.parametrize("key_type", [f.KeyType.EC_P256, f.KeyType.EC_P384, f.KeyType.RSA_2048, f.KeyType.ML_DSA_65])
def test_attested_key_jwk_is_the_library_jwk(key_type: f.KeyType) -> None:
    chain = PKI.chain(f.KeyDescriptionSpec().with_key_type(key_type).to_der(), leaf_key_type=key_type)
    result = verify_android_attestation(chain.certificates, POLICY, at=NOW)
    assert dict(result.public_key_jwk) == dict(public_key_to_jwk(chain.leaf_certificate.public_key()))
    assert list(result.public_key_jwk) == list(public_key_to_jwk(chain.leaf_certificate.public_key()))


@pytest.mark.parametrize("key_type", [f.KeyType.EC_P256, f.KeyType.EC_P384, f.KeyType.RSA_2048, f.KeyType.ML_DSA_65])
def test_attested_key_read_from_the_certificate_is_the_exported_key(key_type: f.KeyType) -> None:
    """Under a known suffix, the attested key's SubjectPublicKeyInfo is taken as encoded in the
    certificate (EC and RSA; exported for the others): the same bytes and JWK as exporting the key."""
    cache = IntermediateCache()
    chain = PKI.chain(f.KeyDescriptionSpec().with_key_type(key_type).to_der(), leaf_key_type=key_type)
    verify_android_attestation(chain.certificates, POLICY, at=NOW, intermediate_cache=cache)
    warm = verify_android_attestation(chain.certificates, POLICY, at=NOW, intermediate_cache=cache)
    key = chain.leaf_certificate.public_key()
    assert warm.public_key_der == key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert list(warm.public_key_jwk.items()) == list(public_key_to_jwk(key).items())


def test_an_unreadable_subject_under_a_known_suffix() -> None:
    """The cache skips reading an attested certificate's subject only for bytes it read before: a leaf
    whose subject cannot be read is malformed, warm as cold, even after a good leaf of the same chain."""
    cache = IntermediateCache()
    chain = list(PKI.chain().certificates)
    assert same_verdict(chain, cache)[0] == "valid"
    assert same_verdict(chain, cache)[0] == "valid"  # now with the leaf's subject remembered
    fields = encoded_fields(chain[0])
    assert fields is not None
    name = fields.subject
    assert name.endswith(b"Android Keystore Key")
    broken = name[:-3] + b"\xff\xfe\xfd"  # the same length, no longer UTF-8
    chain[0] = chain[0].replace(name, broken)
    assert same_verdict(chain, cache) == ("rejected", "chain.malformed")
