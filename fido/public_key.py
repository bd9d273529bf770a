"""Credential public keys (COSE_Key, WebAuthn Level 3 section 6.5.1.1) and assertion signatures
(section 6.3.3, section 7.2 step 21): COSE decoding by py_webauthn, signatures by cryptography.

Only the algorithms we offer in ``pubKeyCredParams`` are accepted, each with the one key shape that
RFC 9053 / RFC 8812 pair with it (section 5.8.5 lists them): ES256 on P-256, EdDSA on Ed25519, RS256 on
RSA of 2048 bits or more. Everything else is refused before a signature is checked.

A stored key is loaded (and its point validated) once: loaded keys are kept in a bounded cache keyed
by the exact COSE_Key bytes, so that every later sign-in with the credential only verifies.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from webauthn.helpers import decode_credential_public_key, decoded_public_key_to_cryptography
from webauthn.helpers.cose import COSEAlgorithmIdentifier

from fido.errors import AlgorithmNotAllowed, PublicKeyInvalid

ES256 = COSEAlgorithmIdentifier.ECDSA_SHA_256
EDDSA = COSEAlgorithmIdentifier.EDDSA
RS256 = COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256

#: What registration offers, in order of preference (``pubKeyCredParams``).
SUPPORTED_ALGORITHMS: tuple[COSEAlgorithmIdentifier, ...] = (ES256, EDDSA, RS256)

MIN_RSA_BITS = 2048

_SHAPES: dict[int, Callable[[Any], bool]] = {
    ES256: lambda key: isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1),
    EDDSA: lambda key: isinstance(key, ed25519.Ed25519PublicKey),
    RS256: lambda key: isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS,
}

VerifyingKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey

#: Distinct credential public keys kept loaded (a few hundred bytes each, with the key object).
KEY_CACHE_SIZE = 1024

# Stateless parameter objects, shared by every verification.
_ECDSA_SHA256 = ec.ECDSA(SHA256())
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = SHA256()


@dataclass(frozen=True)
class CredentialPublicKey:
    """A usable credential public key and its COSE algorithm."""

    algorithm: COSEAlgorithmIdentifier
    key: VerifyingKey
    _check: Callable[[bytes, bytes], None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_check", _signature_check(self.algorithm, self.key))

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this key's signature over ``data`` with its algorithm (section 6.3.3:
        ES256 a DER ECDSA signature with SHA-256, EdDSA an Ed25519 signature, RS256 PKCS#1 v1.5 with
        SHA-256)."""
        try:
            self._check(signature, data)
        except InvalidSignature:
            return False
        return True


def _signature_check(algorithm: int, key: VerifyingKey) -> Callable[[bytes, bytes], None]:
    """The verification of ``algorithm`` with ``key``; TypeError for a key of another type."""
    if algorithm == ES256 and isinstance(key, ec.EllipticCurvePublicKey):
        return lambda signature, data: key.verify(signature, data, _ECDSA_SHA256)
    if algorithm == EDDSA and isinstance(key, ed25519.Ed25519PublicKey):
        return key.verify
    if algorithm == RS256 and isinstance(key, rsa.RSAPublicKey):
        return lambda signature, data: key.verify(signature, data, _PKCS1V15, _SHA256)
    raise TypeError(f"no signature check for algorithm {algorithm} with a {type(key).__name__}")


def load_public_key(
    cose_key: bytes, allowed: tuple[COSEAlgorithmIdentifier, ...] = SUPPORTED_ALGORITHMS
) -> CredentialPublicKey:
    """The key in ``cose_key``, if its algorithm is ``allowed`` and its shape matches the algorithm."""
    # Only immutable bytes are remembered (a bytearray could change after its key was cached); a
    # narrower allow-list (a registration policy) is checked on a fresh decode.
    if allowed == SUPPORTED_ALGORITHMS and type(cose_key) is bytes:
        return _load_supported(cose_key)
    return _load(cose_key, allowed)


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def _load_supported(cose_key: bytes) -> CredentialPublicKey:
    """:func:`_load` under every supported algorithm, remembered by the exact COSE_Key bytes: the same
    bytes always decode to the same key, so a remembered key is what a fresh load would return. A
    refused key raises, and is not remembered."""
    return _load(cose_key, SUPPORTED_ALGORITHMS)


def _load(cose_key: bytes, allowed: tuple[COSEAlgorithmIdentifier, ...]) -> CredentialPublicKey:
    """Decode and check ``cose_key`` (section 6.5.1.1, section 5.8.5)."""
    try:
        decoded = decode_credential_public_key(cose_key)
        # Typed as a COSEAlgorithmIdentifier, but whatever the CBOR held (any integer, text, ...).
        algorithm: object = decoded.alg
    # py_webauthn reads the map with plain indexing and int() conversions: a hostile COSE_Key fails
    # there with KeyError, TypeError, ValueError or its own exceptions; all mean the same.
    except Exception as exc:  # noqa: BLE001
        raise PublicKeyInvalid(f"the credential public key is not a COSE_Key: {type(exc).__name__}") from None
    if not isinstance(algorithm, int) or isinstance(algorithm, bool) or algorithm not in allowed:
        raise AlgorithmNotAllowed(
            f"the credential's algorithm {str(algorithm)[:20]} is not one of {[int(a) for a in allowed]}"
        )
    try:
        key = decoded_public_key_to_cryptography(decoded)
    except Exception as exc:  # noqa: BLE001 -- as above: invalid points, unknown curves, bad sizes
        raise PublicKeyInvalid(f"the credential public key is not a valid key: {type(exc).__name__}") from None
    assert isinstance(algorithm, int)
    if not _SHAPES[algorithm](key):
        raise PublicKeyInvalid(f"the credential public key does not have the key type algorithm {algorithm} requires")
    assert isinstance(key, VerifyingKey)
    return CredentialPublicKey(algorithm=COSEAlgorithmIdentifier(algorithm), key=key)
