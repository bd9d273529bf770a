"""Compact JWS signing with cryptography directly (RFC 7515 section 7.1), cross-checked with joserfc."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jws, jwt
from joserfc.jwk import ECKey, OKPKey

from attest.tokens import KeyState, SigningKey, generate_signing_key
from attest.tokens.jws import encode_jwt

NOW = datetime(2026, 7, 6, 12, 0, tzinfo=UTC)
TYP = "oauth-client-attestation+jwt"
CLAIMS: dict[str, Any] = {
    "iss": "https://attester.example.com",
    "sub": "https://client.example.com",
    "iat": 1783339200,
    "exp": 1783342800,
    "jti": "fixed",
    "cnf": {"jwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB"}},
    "note": "snow \u2603 and a \U0001f600",  # non-ASCII claims are UTF-8, unescaped (as joserfc writes them)
}


def b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def joserfc_key(key: SigningKey) -> ECKey | OKPKey:
    if isinstance(key.private_key, ec.EllipticCurvePrivateKey):
        return ECKey.import_key(key.private_key)
    return OKPKey.import_key(key.private_key)


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
def test_joserfc_verifies_our_tokens(alg: str) -> None:
    key = generate_signing_key(alg, now=NOW, state=KeyState.ACTIVE)
    token = encode_jwt(dict(CLAIMS), key, typ=TYP)
    public = (ECKey if alg == "ES256" else OKPKey).import_key(key.public_jwk())  # type: ignore[arg-type]
    decoded = jwt.decode(token, public, algorithms=[alg])
    assert decoded.header == {"typ": TYP, "alg": alg, "kid": key.kid}
    assert decoded.claims == CLAIMS


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
def test_header_and_payload_bytes_are_joserfcs(alg: str) -> None:
    key = generate_signing_key(alg, now=NOW, state=KeyState.ACTIVE)
    ours = encode_jwt(dict(CLAIMS), key, typ=TYP)
    theirs = jwt.encode({"typ": TYP, "alg": alg, "kid": key.kid}, dict(CLAIMS), joserfc_key(key), algorithms=[alg])
    assert ours.split(".")[:2] == theirs.split(".")[:2]
    if alg == "Ed25519":  # deterministic signatures: the whole token is the same
        assert ours == theirs


def test_es256_signature_is_raw_r_s() -> None:
    """RFC 7518 section 3.4: 64 octets, R then S, never DER."""
    key = generate_signing_key("ES256", now=NOW, state=KeyState.ACTIVE)
    assert isinstance(key.private_key, ec.EllipticCurvePrivateKey)
    public = key.private_key.public_key()
    for _ in range(20):  # some R or S have leading zero octets, which must be kept
        token = encode_jwt(dict(CLAIMS), key, typ=TYP)
        signing_input, signature_segment = token.rsplit(".", 1)
        signature = b64decode(signature_segment)
        assert len(signature) == 64
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        public.verify(der, signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        assert "=" not in token


def test_ed25519_signature() -> None:
    key = generate_signing_key("Ed25519", now=NOW, state=KeyState.ACTIVE)
    assert isinstance(key.private_key, ed25519.Ed25519PrivateKey)
    signing_input, signature_segment = encode_jwt(dict(CLAIMS), key, typ=TYP).rsplit(".", 1)
    key.private_key.public_key().verify(b64decode(signature_segment), signing_input.encode("ascii"))
    with pytest.raises(InvalidSignature):
        key.private_key.public_key().verify(b64decode(signature_segment), signing_input.encode("ascii") + b"x")


def test_each_key_gets_its_own_header() -> None:
    first, second = (generate_signing_key("ES256", now=NOW, state=KeyState.ACTIVE) for _ in range(2))
    for key in (first, second, first):
        token = encode_jwt(dict(CLAIMS), key, typ=TYP)
        assert jws.extract_compact(token.encode("ascii")).protected["kid"] == key.kid
