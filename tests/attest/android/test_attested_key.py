"""The attested key's JWK and SubjectPublicKeyInfo, cut from the certificate's encoding of an EC key:
the same as exporting the key with ``cryptography``, and an export for any other key or encoding."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from attest.android.attested_key import EC_SPKI_PREFIXES, attested_key
from attest.jwk import public_key_to_jwk

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "android"


def exported(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def assert_is_the_export(key: CertificatePublicKeyTypes, encoded: bytes | None) -> None:
    """attested_key gives the export's bytes and the library JWK, members in the same order."""
    jwk, spki = attested_key(key, encoded)
    assert spki == exported(key)
    assert list(jwk.items()) == list(public_key_to_jwk(key).items())


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_ec_spki_prefixes_are_what_cryptography_exports(curve: ec.EllipticCurve) -> None:
    key = ec.generate_private_key(curve).public_key()
    spki = exported(key)
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    prefix = spki[: len(spki) - len(point) + 1]
    assert prefix + point[1:] == spki
    assert EC_SPKI_PREFIXES[prefix][0] == curve.name
    assert EC_SPKI_PREFIXES[prefix][2] == curve.key_size // 8 + (1 if curve.key_size % 8 else 0)
    _, spki_used = attested_key(key, spki)
    assert spki_used is spki  # taken as encoded, not exported again
    assert_is_the_export(key, spki)


@pytest.mark.parametrize("name", ["blueline/sdk28/TEE_RSA_NONE", "caiman/sdk36/TEE_EC_RKP"])
def test_real_attested_keys(name: str) -> None:
    """The leaf keys of real chains (RSA-2048 on a Pixel 3, P-256 on a Pixel 9 Pro)."""
    leaf = x509.load_pem_x509_certificates((FIXTURES / f"{name}.pem").read_bytes())[0]
    key = leaf.public_key()
    assert_is_the_export(key, exported(key))


def test_other_keys_are_exported() -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    assert_is_the_export(key, exported(key))
    assert_is_the_export(key, None)


def test_without_an_encoding_the_key_is_exported() -> None:
    for key in (ec.generate_private_key(ec.SECP256R1()).public_key(), _rsa_key()):
        assert_is_the_export(key, None)


def test_an_encoding_of_another_kind_of_key_is_not_used() -> None:
    """The curve or the modulus size must be the key's: anything else is exported from the key."""
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    rsa_2048 = _rsa_key()
    rsa_3072 = rsa.generate_private_key(public_exponent=65537, key_size=3072).public_key()
    assert_is_the_export(p256, exported(p384))
    assert_is_the_export(p256, exported(rsa_2048))
    assert_is_the_export(rsa_2048, exported(rsa_3072))
    assert_is_the_export(rsa_2048, exported(p256))


def _rsa_key() -> rsa.RSAPublicKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()


def test_rsa_keys_are_exported() -> None:
    key = _rsa_key()
    jwk, spki = attested_key(key, exported(key))
    assert spki == exported(key)
    assert list(jwk.items()) == list(public_key_to_jwk(key).items())


@pytest.mark.parametrize("encoded", [b"", b"\x30", b"\x30\x00", bytes(200)])
def test_an_encoding_of_another_shape_is_not_used(encoded: bytes) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert_is_the_export(key, encoded)


def test_a_compressed_or_hybrid_point_is_not_used() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    compressed = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    prefix = bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200")
    assert_is_the_export(key, prefix + compressed)
    spki = exported(key)
    hybrid = spki[:-65] + bytes([0x06 | (spki[-1] & 1)]) + spki[-64:]
    assert_is_the_export(key, hybrid)
