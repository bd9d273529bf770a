"""Issuing Client Attestation JWTs (draft section 4)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey

from attest.errors import ConfigurationError
from attest.jwk import public_key_to_jwk
from attest.tokens import (
    CLIENT_ATTESTATION_TYP,
    AttestationVerdict,
    KeyRing,
    KeyState,
    generate_signing_key,
    issue_client_attestation,
)
from attest.tokens.errors import JwkMalformed, JwkPrivate, SigningKeyNotActive, TokenError, VerdictInvalid

NOW = datetime(2026, 7, 6, 12, 0, 30, tzinfo=UTC)
VERDICT = AttestationVerdict("android", "strongbox", "production", app_checked=True, revocation_checked=True)
DEVICE_JWK = dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    def part(segment: str) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        return decoded

    header, claims, _ = token.split(".")
    return part(header), part(claims)


def issue(**overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "key": KeyRing.bootstrap(now=NOW).active(),
        "issuer": "https://attester.example.com",
        "client_id": "https://client.example.com",
        "cnf_jwk": DEVICE_JWK,
        "verdict": VERDICT,
        "ttl": timedelta(hours=24),
        "now": NOW,
    }
    arguments.update(overrides)
    return issue_client_attestation(**arguments)


def test_header_and_claims() -> None:
    ring = KeyRing.bootstrap(now=NOW)
    token = issue(key=ring.active(), jti="fixed-jti", not_before=NOW - timedelta(seconds=5))
    header, claims = decode(token)
    assert header == {"typ": CLIENT_ATTESTATION_TYP, "alg": "ES256", "kid": ring.active().kid}
    assert claims == {
        "iss": "https://attester.example.com",
        "sub": "https://client.example.com",
        "iat": 1783339230,
        "exp": 1783339230 + 86400,
        "nbf": 1783339225,
        "jti": "fixed-jti",
        "cnf": {"jwk": DEVICE_JWK},
        "attestation": {
            "platform": "android",
            "security_level": "strongbox",
            "environment": "production",
            "app_checked": True,
            "revocation_checked": True,
        },
    }
    # joserfc verifies it with the published key.
    public = ECKey.import_key(ring.active().public_jwk())  # type: ignore[arg-type]
    assert jwt.decode(token, public, algorithms=["ES256"]).claims["sub"] == "https://client.example.com"


def test_random_jti_by_default() -> None:
    assert decode(issue())[1]["jti"] != decode(issue())[1]["jti"]


def test_ed25519_signing_key() -> None:
    key = generate_signing_key("Ed25519", now=NOW, state=KeyState.ACTIVE)
    token = issue(key=key)
    assert decode(token)[0]["alg"] == "Ed25519"
    assert isinstance(key.private_key, ed25519.Ed25519PrivateKey)
    public = OKPKey.import_key(key.public_jwk())  # type: ignore[arg-type]
    assert jwt.decode(token, public, algorithms=["Ed25519"]).claims["iss"] == "https://attester.example.com"


def test_ml_dsa_cnf_is_carried_through() -> None:
    akp = dict(public_key_to_jwk(mldsa.MLDSA65PrivateKey.generate().public_key()))
    assert akp["kty"] == "AKP"
    assert decode(issue(cnf_jwk=akp))[1]["cnf"] == {"jwk": akp}


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "k", "priv", "oth"])
def test_private_cnf_members_refused(member: str) -> None:
    with pytest.raises(JwkPrivate):
        issue(cnf_jwk={**DEVICE_JWK, member: "AAAA"})


@pytest.mark.parametrize(
    "jwk",
    [
        {},
        {"kty": "oct"},
        {"kty": "EC", "crv": "P-256", "x": DEVICE_JWK["x"]},
        {"kty": "EC", "crv": "P-256", "x": DEVICE_JWK["x"], "y": DEVICE_JWK["x"]},
        {"kty": "EC", "crv": "secp256k1", "x": DEVICE_JWK["x"], "y": DEVICE_JWK["y"]},
        {"kty": "AKP", "alg": "ML-DSA-44", "pub": "AAAA"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
    ],
)
def test_malformed_cnf_refused(jwk: dict[str, str]) -> None:
    with pytest.raises(JwkMalformed):
        issue(cnf_jwk=jwk)


def test_only_the_active_key_signs() -> None:
    ring = KeyRing.bootstrap(now=NOW)
    upcoming = ring.next_key()
    with pytest.raises(SigningKeyNotActive):
        issue(key=upcoming)
    rotated = ring.rotate(NOW, max_token_lifetime=timedelta(hours=1))
    retired = rotated.get(ring.active().kid)
    with pytest.raises(SigningKeyNotActive):
        issue(key=retired)


def test_argument_checks() -> None:
    with pytest.raises(TokenError):
        issue(ttl=timedelta(0))
    with pytest.raises(TokenError):
        issue(client_id="")
    with pytest.raises(ConfigurationError):
        issue(now=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "arguments",
    [
        ("ios", None, None, True, True),
        ("android", "hardware", None, True, True),
        ("apple", "secure_enclave", "staging", True, True),
        ("android", None, None, "yes", True),
    ],
)
def test_verdict_vocabulary(arguments: tuple[Any, ...]) -> None:
    with pytest.raises(VerdictInvalid):
        AttestationVerdict(*arguments)


def test_verdict_claim_round_trip() -> None:
    minimal = AttestationVerdict("debug", None, None, app_checked=False, revocation_checked=False)
    assert minimal.to_claim() == {"platform": "debug", "app_checked": False, "revocation_checked": False}
    assert AttestationVerdict.from_claim(minimal.to_claim()) == minimal
    assert AttestationVerdict.from_claim({**VERDICT.to_claim(), "future_member": 1}) == VERDICT
    bad: object
    for bad in (None, [], {"platform": "android"}, {**VERDICT.to_claim(), "environment": 3}):
        with pytest.raises(VerdictInvalid):
            AttestationVerdict.from_claim(bad)
