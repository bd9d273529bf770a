"""Credential public keys (COSE_Key, WebAuthn Level 3 section 6.5.1.1) and assertion signatures
(section 6.3.3, section 7.2 step 21), on py_webauthn's COSE decoding and signature helpers.

Only the algorithms we offer in ``pubKeyCredParams`` are accepted, each with the one key shape that
RFC 9053 / RFC 8812 pair with it (section 5.8.5 lists them): ES256 on P-256, EdDSA on Ed25519, RS256 on
RSA of 2048 bits or more. Everything else is refused before a signature is checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from webauthn.helpers import decode_credential_public_key, decoded_public_key_to_cryptography, verify_signature
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


@dataclass(frozen=True)
class CredentialPublicKey:
    """A usable credential public key and its COSE algorithm."""

    algorithm: COSEAlgorithmIdentifier
    key: VerifyingKey

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this key's signature over ``data`` with its algorithm."""
        try:
            verify_signature(public_key=self.key, signature_alg=self.algorithm, signature=signature, data=data)
        except InvalidSignature:
            return False
        return True


def load_public_key(
    cose_key: bytes, allowed: tuple[COSEAlgorithmIdentifier, ...] = SUPPORTED_ALGORITHMS
) -> CredentialPublicKey:
    """The key in ``cose_key``, if its algorithm is ``allowed`` and its shape matches the algorithm."""
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
