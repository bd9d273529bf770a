"""The JWS signature algorithms the validator accepts (RFC 7518 section 3, RFC 8037 section 3.1,
RFC 9864, draft-ietf-cose-dilithium), verified with ``cryptography`` directly.

An explicit registry: an ``alg`` not named here is never verified (RFC 8725 section 3.1), and it
holds no ``none`` and no MAC. :meth:`SignatureAlgorithm.bind` checks once that a public key suits
the algorithm and returns the function that verifies signatures with it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, mldsa, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

#: Verifies a JWS Signature over a JWS Signing Input: ``verify(signing_input, signature)``.
Verifier = Callable[[bytes, bytes], bool]

_HASHES: Mapping[int, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    256: hashes.SHA256,
    384: hashes.SHA384,
    512: hashes.SHA512,
}


class SignatureAlgorithm(ABC):
    """One JWS ``alg``."""

    name: str

    @abstractmethod
    def bind(self, key: PublicKeyTypes) -> Verifier:
        """A verifier for ``key``; :class:`ValueError` when this algorithm cannot use such a key."""


@dataclass(frozen=True)
class Ecdsa(SignatureAlgorithm):
    """ES256, ES384, ES512 (RFC 7518 section 3.4)."""

    name: str
    curve: str
    hash_bits: int
    octets: int

    def bind(self, key: PublicKeyTypes) -> Verifier:
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != self.curve:
            raise ValueError(f"{self.name} needs a {self.curve} key")
        ec_key, algorithm, octets = key, ec.ECDSA(_HASHES[self.hash_bits]()), self.octets

        def verify(signing_input: bytes, signature: bytes) -> bool:
            # Section 3.4: R || S, each exactly the curve's octet length; DER or any other length
            # is not an ES signature (only then is it re-encoded as DER for OpenSSL).
            if len(signature) != 2 * octets:
                return False
            r = int.from_bytes(signature[:octets], "big")
            s = int.from_bytes(signature[octets:], "big")
            try:
                ec_key.verify(encode_dss_signature(r, s), signing_input, algorithm)
            except InvalidSignature:
                return False
            return True

        return verify


@dataclass(frozen=True)
class Rsa(SignatureAlgorithm):
    """RS256/384/512 (RSASSA-PKCS1-v1_5, RFC 7518 section 3.3) and PS256/384/512 (RSASSA-PSS with
    MGF1 on the same hash and a salt as long as the hash, section 3.5)."""

    name: str
    hash_bits: int
    pss: bool

    def bind(self, key: PublicKeyTypes) -> Verifier:
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError(f"{self.name} needs an RSA key")
        rsa_key, hash_algorithm = key, _HASHES[self.hash_bits]()
        scheme: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size)
            if self.pss
            else padding.PKCS1v15()
        )

        def verify(signing_input: bytes, signature: bytes) -> bool:
            try:
                rsa_key.verify(signature, signing_input, scheme, hash_algorithm)
            except InvalidSignature:
                return False
            return True

        return verify


@dataclass(frozen=True)
class EdDsa(SignatureAlgorithm):
    """Ed25519 and Ed448 (RFC 9864), and the polymorphic, deprecated EdDSA that takes either
    (RFC 8037 section 3.1)."""

    name: str
    curves: tuple[type[ed25519.Ed25519PublicKey] | type[ed448.Ed448PublicKey], ...]

    def bind(self, key: PublicKeyTypes) -> Verifier:
        if not isinstance(key, self.curves):
            raise ValueError(f"{self.name} needs an {' or '.join(curve.__name__ for curve in self.curves)}")
        okp_key = key

        def verify(signing_input: bytes, signature: bytes) -> bool:
            try:
                okp_key.verify(signature, signing_input)
            except InvalidSignature:
                return False
            return True

        return verify


@dataclass(frozen=True)
class MlDsa(SignatureAlgorithm):
    """ML-DSA-44/65/87 with an ``AKP`` key (draft-ietf-cose-dilithium)."""

    name: str
    key_type: type[mldsa.MLDSA44PublicKey] | type[mldsa.MLDSA65PublicKey] | type[mldsa.MLDSA87PublicKey]

    def bind(self, key: PublicKeyTypes) -> Verifier:
        if not isinstance(key, self.key_type):
            raise ValueError(f"{self.name} needs an {self.name} AKP key")
        akp_key = key

        def verify(signing_input: bytes, signature: bytes) -> bool:
            try:
                akp_key.verify(signature, signing_input)
            except InvalidSignature:
                return False
            return True

        return verify


#: Every ``alg`` this package can verify. Policies may only narrow this set.
JWS_ALGORITHMS: Mapping[str, SignatureAlgorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        Ecdsa("ES256", "secp256r1", 256, 32),
        Ecdsa("ES384", "secp384r1", 384, 48),
        Ecdsa("ES512", "secp521r1", 512, 66),
        Rsa("RS256", 256, pss=False),
        Rsa("RS384", 384, pss=False),
        Rsa("RS512", 512, pss=False),
        Rsa("PS256", 256, pss=True),
        Rsa("PS384", 384, pss=True),
        Rsa("PS512", 512, pss=True),
        EdDsa("EdDSA", (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)),
        EdDsa("Ed25519", (ed25519.Ed25519PublicKey,)),
        EdDsa("Ed448", (ed448.Ed448PublicKey,)),
        MlDsa("ML-DSA-44", mldsa.MLDSA44PublicKey),
        MlDsa("ML-DSA-65", mldsa.MLDSA65PublicKey),
        MlDsa("ML-DSA-87", mldsa.MLDSA87PublicKey),
    )
}
