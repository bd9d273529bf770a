"""Public keys received as JWKs: the ``cnf.jwk`` confirmation key (RFC 7800 section 3.2) and the
DPoP ``jwk`` header (RFC 9449 section 4.2).

Both come from outside (a device, a client), so they are checked strictly before use: public
members only (RFC 7517 section 9.1 / draft-ietf-oauth-attestation-based-client-auth-10 section 7.1
step 5), exact member encodings (RFC 7518 section 6, RFC 8037 section 2), points on the curve,
and the ML-DSA ``AKP`` key type (draft-ietf-cose-dilithium) that Android 17 devices attest.

Checked keys are kept in a bounded LRU keyed by the JWK's exact members, so the point validation
(about the cost of one signature verification) runs once per distinct key, not once per token.
"""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, mldsa, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from attest.tokens.errors import JwkMalformed, JwkPrivate

#: JWK members that only private (or symmetric) keys have: RFC 7518 sections 6.2.2, 6.3.2, 6.4;
#: RFC 8037 section 2; ``priv`` of the AKP key type.
PRIVATE_MEMBERS: frozenset[str] = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"})

_EC_CURVES: Mapping[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
    "P-521": (ec.SECP521R1(), 66),
}
_OKP_SIZES: Mapping[str, int] = {"Ed25519": 32, "Ed448": 57}
_AKP_SIZES: Mapping[str, int] = {"ML-DSA-44": 1312, "ML-DSA-65": 1952, "ML-DSA-87": 2592}
_MIN_RSA_BITS = 2048
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_SEXTETS: Mapping[str, int] = {
    char: index for index, char in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
#: The bits of the last character that encode no data, by the encoding's length modulo 4.
_UNUSED_BITS: Mapping[int, int] = {2: 0x0F, 3: 0x03}
_TO_BASE64 = bytes.maketrans(b"-_", b"+/")

#: How many distinct checked public keys are kept (an LRU; a device key is met again at each PoP).
KEY_CACHE_SIZE = 1024
#: Largest JWK kept in the cache (names and values, in characters): an ML-DSA-87 key (3,456
#: characters of ``pub``) and an RSA-8192 key fit, while a padded ``kid`` cannot make the cache hold
#: KEY_CACHE_SIZE tokens' worth of memory.
MAX_CACHED_JWK_CHARS = 4096

#: A JWK's members as a hashable value: the (name, value) pairs sorted by name.
JwkMembers = tuple[tuple[str, str], ...]


def b64url_decode(value: str) -> bytes:
    """Strict base64url without padding (RFC 7515 section 2): no ``=``, no other alphabet, and the
    canonical encoding only (the last character's unused bits are zero, RFC 4648 section 3.5), so
    that one key has exactly one spelling."""
    if not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise ValueError("not base64url")
    remainder = len(value) % 4
    if remainder and _SEXTETS[value[-1]] & _UNUSED_BITS[remainder]:
        raise ValueError("non-canonical base64url")
    padded = value.encode("ascii").translate(_TO_BASE64) + b"=" * (-remainder % 4)
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error as error:
        raise ValueError("not base64url") from error


def private_members(jwk: Mapping[str, Any]) -> frozenset[str]:
    """The private-key members present in ``jwk``."""
    return PRIVATE_MEMBERS.intersection(jwk)


def _member(jwk: Mapping[str, Any], name: str, size: int | None = None) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise JwkMalformed(f"{jwk.get('kty')} JWK member {name!r} is missing or not a string")
    try:
        raw = b64url_decode(value)
    except ValueError as error:
        raise JwkMalformed(f"JWK member {name!r} is not base64url") from error
    if size is not None and len(raw) != size:
        raise JwkMalformed(f"JWK member {name!r} has {len(raw)} bytes, expected {size}")
    return raw


def check_public_jwk(jwk: object) -> Mapping[str, Any]:
    """``jwk`` as a read-only mapping once it is a well-formed public key, else :class:`JwkPrivate`
    or :class:`JwkMalformed`."""
    load_public_jwk(jwk)
    assert isinstance(jwk, Mapping)
    return MappingProxyType(dict(jwk))


def jwk_members(jwk: Mapping[Any, Any]) -> JwkMembers | None:
    """The exact members of ``jwk`` as a cache key when every name and value is a ``str`` (as in
    every key we use) and they are short enough to keep; None otherwise, and such a JWK is then
    checked without a cache. Equal keys mean equal JWKs, so a cached result never stands for a
    different key under the same ``kid``."""
    members = tuple(jwk.items())
    size = 0
    for name, value in members:
        if type(name) is not str or type(value) is not str:
            return None
        size += len(name) + len(value)
    if size > MAX_CACHED_JWK_CHARS:
        return None
    return tuple(sorted(members))


def load_public_jwk(jwk: object) -> PublicKeyTypes:
    """The public key a JWK describes, after the checks of :func:`check_public_jwk`; cached by the
    JWK's exact members (:func:`jwk_members`). Refusals are not cached."""
    if isinstance(jwk, Mapping):
        members = jwk_members(jwk)
        if members is not None:
            return _load_cached(members)
    return _load(jwk)


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def _load_cached(members: JwkMembers) -> PublicKeyTypes:
    return _load(dict(members))


def _load(jwk: object) -> PublicKeyTypes:
    if not isinstance(jwk, Mapping) or not all(isinstance(name, str) for name in jwk):
        raise JwkMalformed("a JWK must be a JSON object")
    leaked = private_members(jwk)
    if leaked:
        raise JwkPrivate(f"the JWK carries private members {sorted(leaked)}")
    kty = jwk.get("kty")
    try:
        if kty == "EC":
            return _load_ec(jwk)
        if kty == "RSA":
            return _load_rsa(jwk)
        if kty == "OKP":
            return _load_okp(jwk)
        if kty == "AKP":
            return _load_akp(jwk)
    except ValueError as error:  # cryptography: point not on the curve, bad RSA numbers
        raise JwkMalformed(f"the {kty} JWK is not a valid public key: {error}") from error
    raise JwkMalformed(f"unsupported JWK key type {kty!r}")


def _load_ec(jwk: Mapping[str, Any]) -> PublicKeyTypes:
    crv = jwk.get("crv")
    if not isinstance(crv, str) or crv not in _EC_CURVES:
        raise JwkMalformed(f"unsupported EC curve {crv!r}")
    curve, size = _EC_CURVES[crv]
    x = int.from_bytes(_member(jwk, "x", size), "big")
    y = int.from_bytes(_member(jwk, "y", size), "big")
    return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()


def _load_rsa(jwk: Mapping[str, Any]) -> PublicKeyTypes:
    n = int.from_bytes(_member(jwk, "n"), "big")
    e = int.from_bytes(_member(jwk, "e"), "big")
    if n.bit_length() < _MIN_RSA_BITS:
        raise JwkMalformed(f"RSA modulus of {n.bit_length()} bits, at least {_MIN_RSA_BITS} required")
    return rsa.RSAPublicNumbers(e, n).public_key()


def _load_okp(jwk: Mapping[str, Any]) -> PublicKeyTypes:
    crv = jwk.get("crv")
    if not isinstance(crv, str) or crv not in _OKP_SIZES:
        # X25519/X448 are key-agreement curves: never a signature key (RFC 8037 section 3.2).
        raise JwkMalformed(f"unsupported OKP curve {crv!r}")
    raw = _member(jwk, "x", _OKP_SIZES[crv])
    if crv == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    return ed448.Ed448PublicKey.from_public_bytes(raw)


def _load_akp(jwk: Mapping[str, Any]) -> PublicKeyTypes:
    alg = jwk.get("alg")
    if not isinstance(alg, str) or alg not in _AKP_SIZES:
        raise JwkMalformed(f"unsupported AKP algorithm {alg!r}")
    raw = _member(jwk, "pub", _AKP_SIZES[alg])
    if alg == "ML-DSA-44":
        return mldsa.MLDSA44PublicKey.from_public_bytes(raw)
    if alg == "ML-DSA-65":
        return mldsa.MLDSA65PublicKey.from_public_bytes(raw)
    return mldsa.MLDSA87PublicKey.from_public_bytes(raw)
