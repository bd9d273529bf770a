"""Builds the tokens of the client-attestation tests: attestations signed by a test attester,
PoP JWTs and DPoP proofs signed by test device keys, and deliberately broken variants.

JWS signing here is written out by hand (not through joserfc) so that the validator is checked
against an independent implementation, and so that tests can forge what no library would emit
(``alg: none``, HS256 keyed with a public key, injected key headers).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, mldsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from attest.client_auth import ClientAttestationPolicy, InMemoryReplayStore, StaticJwksSource
from attest.jwk import public_key_to_jwk
from attest.tokens import AttestationVerdict, KeyRing, issue_client_attestation

AS_ISSUER = "https://as.example.com"
TOKEN_URL = "https://as.example.com/token"
CLIENT_ID = "https://client.example.com"
ATTESTER = "https://attester.example.com"
NOW = datetime(2026, 7, 6, 12, 0, tzinfo=UTC)

Signer = Callable[[bytes], bytes]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_jws(header: Mapping[str, Any], claims: Mapping[str, Any], signer: Signer) -> str:
    """A compact JWS over ``header`` and ``claims``."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(signer(signing_input.encode('ascii')))}"


def es256_signer(key: ec.EllipticCurvePrivateKey) -> Signer:
    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def hs256_signer(secret: bytes) -> Signer:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def no_signature(data: bytes) -> bytes:
    return b"\x00"  # the compact form needs a non-empty segment; 'none' would have it empty


@dataclass
class DeviceKey:
    """A client instance key (P-256 unless an ML-DSA key is given)."""

    ec_key: ec.EllipticCurvePrivateKey | None = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    mldsa_key: mldsa.MLDSA44PrivateKey | None = None

    @classmethod
    def ml_dsa(cls) -> DeviceKey:
        return cls(ec_key=None, mldsa_key=mldsa.MLDSA44PrivateKey.generate())

    @property
    def alg(self) -> str:
        return "ES256" if self.ec_key is not None else "ML-DSA-44"

    @property
    def jwk(self) -> dict[str, str]:
        key = self.ec_key if self.ec_key is not None else self.mldsa_key
        assert key is not None
        return dict(public_key_to_jwk(key.public_key()))

    def sign(self, data: bytes) -> bytes:
        if self.ec_key is not None:
            return es256_signer(self.ec_key)(data)
        assert self.mldsa_key is not None
        return self.mldsa_key.sign(data)


@dataclass
class Attester:
    """A Client Attester with a key ring."""

    ring: KeyRing = field(default_factory=lambda: KeyRing.bootstrap(now=NOW - timedelta(days=1)))

    def jwks(self, now: datetime = NOW) -> dict[str, list[dict[str, str]]]:
        return self.ring.jwks(now)

    def issue(
        self,
        device: DeviceKey,
        *,
        client_id: str = CLIENT_ID,
        now: datetime = NOW,
        ttl: timedelta = timedelta(hours=1),
        verdict: AttestationVerdict | None = None,
    ) -> str:
        return issue_client_attestation(
            key=self.ring.active(),
            issuer=ATTESTER,
            client_id=client_id,
            cnf_jwk=device.jwk,
            verdict=verdict or AttestationVerdict("android", "strongbox", "production", True, True),
            ttl=ttl,
            now=now,
        )

    def forge(
        self,
        *,
        header: Mapping[str, Any] | None = None,
        claims: Mapping[str, Any] | None = None,
        device: DeviceKey | None = None,
        signer: Signer | None = None,
        drop_claims: tuple[str, ...] = (),
        drop_header: tuple[str, ...] = (),
    ) -> str:
        """An attestation built by hand, signed with the active key unless ``signer`` is given;
        ``header``/``claims`` override the defaults."""
        key = self.ring.active()
        base_header: dict[str, Any] = {"typ": "oauth-client-attestation+jwt", "alg": "ES256", "kid": key.kid}
        base_claims: dict[str, Any] = {
            "iss": ATTESTER,
            "sub": CLIENT_ID,
            "iat": int(NOW.timestamp()) - 60,
            "exp": int(NOW.timestamp()) + 3600,
            "cnf": {"jwk": (device or DeviceKey()).jwk},
        }
        base_header.update(header or {})
        base_claims.update(claims or {})
        for name in drop_header:
            base_header.pop(name, None)
        for name in drop_claims:
            base_claims.pop(name, None)
        assert isinstance(key.private_key, ec.EllipticCurvePrivateKey)
        return encode_jws(base_header, base_claims, signer or es256_signer(key.private_key))


def make_pop(
    device: DeviceKey,
    *,
    aud: Any = AS_ISSUER,
    iat: datetime = NOW,
    jti: str | None = None,
    challenge: str | None = None,
    header: Mapping[str, Any] | None = None,
    claims: Mapping[str, Any] | None = None,
    drop_claims: tuple[str, ...] = (),
    signer: Signer | None = None,
) -> str:
    """A Client Attestation PoP JWT signed by ``device``."""
    full_header: dict[str, Any] = {"typ": "oauth-client-attestation-pop+jwt", "alg": device.alg, **(header or {})}
    full_claims: dict[str, Any] = {"aud": aud, "jti": jti or secrets.token_urlsafe(12), "iat": int(iat.timestamp())}
    if challenge is not None:
        full_claims["challenge"] = challenge
    full_claims.update(claims or {})
    for name in drop_claims:
        full_claims.pop(name, None)
    return encode_jws(full_header, full_claims, signer or device.sign)


def make_dpop(
    device: DeviceKey,
    *,
    htm: str = "POST",
    htu: str = TOKEN_URL,
    iat: datetime = NOW,
    jti: str | None = None,
    nonce: str | None = None,
    access_token: str | None = None,
    header: Mapping[str, Any] | None = None,
    claims: Mapping[str, Any] | None = None,
    drop_claims: tuple[str, ...] = (),
    signer: Signer | None = None,
) -> str:
    """A DPoP proof (RFC 9449) signed by ``device`` with its public key in ``jwk``."""
    full_header: dict[str, Any] = {"typ": "dpop+jwt", "alg": device.alg, "jwk": device.jwk, **(header or {})}
    full_claims: dict[str, Any] = {
        "jti": jti or secrets.token_urlsafe(12),
        "htm": htm,
        "htu": htu,
        "iat": int(iat.timestamp()),
    }
    if nonce is not None:
        full_claims["nonce"] = nonce
    if access_token is not None:
        full_claims["ath"] = b64(hashlib.sha256(access_token.encode("ascii")).digest())
    full_claims.update(claims or {})
    for name in drop_claims:
        full_claims.pop(name, None)
    return encode_jws(full_header, full_claims, signer or device.sign)


@dataclass
class Challenges:
    """A ChallengeChecker accepting a fixed set of values (optionally single use)."""

    accepted: set[str]
    single_use: bool = False

    def check(self, value: str, *, now: datetime) -> bool:
        if value not in self.accepted:
            return False
        if self.single_use:
            self.accepted.discard(value)
        return True


def make_policy(attester: Attester | None = None, **overrides: Any) -> ClientAttestationPolicy:
    """A policy trusting ``attester`` (a fresh one by default) with an in-memory replay store."""
    settings: dict[str, Any] = {
        "audience": AS_ISSUER,
        "jwks": StaticJwksSource((attester or Attester()).jwks()),
        "replay_store": InMemoryReplayStore(),
        "attester_issuer": ATTESTER,
    }
    settings.update(overrides)
    return ClientAttestationPolicy(**settings)
