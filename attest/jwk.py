"""Public keys as JSON Web Keys (RFC 7517/7518; RFC 8037 for OKP; draft-ietf-cose-dilithium for ML-DSA).

The attested device key becomes the ``cnf.jwk`` of a Client Attestation JWT, so only public
members are ever produced.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from types import MappingProxyType

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, mldsa, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from attest.errors import KeyAlgorithm

_EC_CURVES: Mapping[str, tuple[str, int]] = {
    "secp256r1": ("P-256", 32),
    "secp384r1": ("P-384", 48),
    "secp521r1": ("P-521", 66),
}

_ML_DSA: tuple[tuple[type[object], str], ...] = (
    (mldsa.MLDSA44PublicKey, "ML-DSA-44"),
    (mldsa.MLDSA65PublicKey, "ML-DSA-65"),
    (mldsa.MLDSA87PublicKey, "ML-DSA-87"),
)


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url(value.to_bytes(size, "big"))


def public_key_to_jwk(key: PublicKeyTypes) -> Mapping[str, str]:
    """The public JWK of ``key`` (read-only mapping)."""
    jwk: dict[str, str]
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _EC_CURVES:
            raise KeyAlgorithm(f"EC curve {key.curve.name} has no JWK name")
        crv, size = _EC_CURVES[key.curve.name]
        numbers = key.public_numbers()
        jwk = {"kty": "EC", "crv": crv, "x": _uint(numbers.x, size), "y": _uint(numbers.y, size)}
    elif isinstance(key, rsa.RSAPublicKey):
        numbers_rsa = key.public_numbers()
        jwk = {"kty": "RSA", "n": _uint(numbers_rsa.n), "e": _uint(numbers_rsa.e)}
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        crv = "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "Ed448"
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": crv, "x": b64url(raw)}
    else:
        for cls, alg in _ML_DSA:
            if isinstance(key, cls):
                raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                jwk = {"kty": "AKP", "alg": alg, "pub": b64url(raw)}
                break
        else:
            raise KeyAlgorithm(f"no JWK form for a {type(key).__name__}")
    return MappingProxyType(jwk)


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) over the required members of ``jwk``."""
    required = {
        "EC": ("crv", "kty", "x", "y"),
        "RSA": ("e", "kty", "n"),
        "OKP": ("crv", "kty", "x"),
        "AKP": ("alg", "kty", "pub"),
    }
    members = required.get(jwk.get("kty", ""))
    if members is None:
        raise KeyAlgorithm(f"no thumbprint rule for kty {jwk.get('kty')!r}")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())
