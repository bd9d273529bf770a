"""Signing a JWT in JWS compact serialization (RFC 7515 section 7.1, RFC 7519 section 7.1) with
an attester key, through ``cryptography`` directly.

The output is what joserfc's ``jwt.encode`` emits for the same header and claims: the header as
compact ASCII JSON, the claims as compact UTF-8 JSON, each base64url without padding (RFC 7515
section 2), then the signature in its JWS form (RFC 7518 section 3.4 for ES256, RFC 8037 section
3.1 for Ed25519).
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from attest.tokens.errors import SigningKeyInvalid
from attest.tokens.keys import SigningKey

# Compact JSON (no whitespace), as joserfc writes the header (ASCII) and the claims (UTF-8).
_HEADER_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
_CLAIMS_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ES256 = ec.ECDSA(hashes.SHA256())
_P256_OCTETS = 32


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def jws_signature(key: SigningKey, signing_input: bytes) -> bytes:
    """The JWS Signature of ``signing_input`` under ``key.alg``: for ES256 the fixed-length
    big-endian R || S (RFC 7518 section 3.4; never the DER that OpenSSL returns), for Ed25519 the
    raw signature (RFC 8037 section 3.1, RFC 9864)."""
    private_key = key.private_key
    if key.alg == "ES256" and isinstance(private_key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private_key.sign(signing_input, _ES256))
        return r.to_bytes(_P256_OCTETS, "big") + s.to_bytes(_P256_OCTETS, "big")
    if key.alg == "Ed25519" and isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(signing_input)
    raise SigningKeyInvalid(f"key {key.kid} cannot sign {key.alg!r}")


def encode_jwt(claims: dict[str, Any], key: SigningKey, *, typ: str) -> str:
    """``claims`` signed with ``key`` as a compact JWS whose protected header is ``typ``, ``alg``
    (the key's algorithm) and ``kid`` (RFC 7515 sections 4.1.1, 4.1.4, 4.1.9)."""
    signing_input = b".".join(
        (_protected_header(typ, key.alg, key.kid), _b64url(_CLAIMS_JSON.encode(claims).encode("utf-8")))
    )
    return b".".join((signing_input, _b64url(jws_signature(key, signing_input)))).decode("ascii")


@functools.lru_cache(maxsize=64)
def _protected_header(typ: str, alg: str, kid: str) -> bytes:
    """The encoded protected header: the same for every token of one key and type."""
    return _b64url(_HEADER_JSON.encode({"typ": typ, "alg": alg, "kid": kid}).encode("ascii"))
