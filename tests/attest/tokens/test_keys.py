"""Signing keys, PEM storage, the key ring and its rotation rules."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from attest.errors import ConfigurationError
from attest.jwk import jwk_thumbprint, public_key_to_jwk
from attest.tokens import (
    KeyRing,
    KeyState,
    SigningKey,
    generate_signing_key,
    load_signing_key,
    private_key_from_pem,
    private_key_to_pem,
)
from attest.tokens.cnf import PRIVATE_MEMBERS
from attest.tokens.errors import KeyRingInvalid, SigningKeyInvalid

NOW = datetime(2026, 7, 6, 12, 0, tzinfo=UTC)
LIFETIME = timedelta(hours=1)


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
def test_generate(alg: str) -> None:
    key = generate_signing_key(alg, now=NOW)
    assert key.state is KeyState.NEXT
    assert key.created_at == NOW
    assert key.activated_at is None
    assert key.retired_at is None
    assert key.kid == jwk_thumbprint(public_key_to_jwk(key.private_key.public_key()))
    jwk = key.public_jwk()
    assert jwk["kid"] == key.kid
    assert jwk["alg"] == alg
    assert jwk["use"] == "sig"
    assert not PRIVATE_MEMBERS.intersection(jwk)
    assert "private_key" not in repr(key)
    assert "PRIVATE" not in repr(key)


def test_unsupported_alg() -> None:
    with pytest.raises(SigningKeyInvalid):
        generate_signing_key("RS256", now=NOW)
    with pytest.raises(SigningKeyInvalid):
        generate_signing_key("HS256", now=NOW)


def test_naive_time_refused() -> None:
    with pytest.raises(ConfigurationError):
        generate_signing_key(now=datetime(2026, 1, 1))


def test_kid_must_be_the_thumbprint() -> None:
    key = generate_signing_key(now=NOW)
    with pytest.raises(SigningKeyInvalid):
        dataclasses.replace(key, kid="11")


def test_alg_must_match_the_key() -> None:
    key = generate_signing_key(now=NOW)
    with pytest.raises(SigningKeyInvalid):
        dataclasses.replace(key, alg="Ed25519")
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(SigningKeyInvalid):
        SigningKey(
            kid=jwk_thumbprint(public_key_to_jwk(p384.public_key())),
            alg="ES256",
            private_key=p384,
            state=KeyState.NEXT,
            created_at=NOW,
        )


def test_state_timestamps_must_agree() -> None:
    key = generate_signing_key(now=NOW)
    with pytest.raises(SigningKeyInvalid):
        dataclasses.replace(key, state=KeyState.ACTIVE)  # no activated_at
    with pytest.raises(SigningKeyInvalid):
        dataclasses.replace(key, retired_at=NOW)  # NEXT keys are not retired
    with pytest.raises(SigningKeyInvalid):
        dataclasses.replace(key, state=KeyState.RETIRED, activated_at=NOW)  # no retired_at


@pytest.mark.parametrize("password", [None, b"correct horse"])
def test_pem_round_trip(password: bytes | None) -> None:
    key = generate_signing_key(now=NOW, state=KeyState.ACTIVE)
    pem = private_key_to_pem(key.private_key, password=password)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----" if password else b"-----BEGIN PRIVATE KEY-----")
    loaded = load_signing_key(
        pem, alg="ES256", state=KeyState.ACTIVE, created_at=NOW, activated_at=NOW, kid=key.kid, password=password
    )
    assert loaded == key
    assert loaded.public_jwk() == key.public_jwk()


def test_pem_errors() -> None:
    key = generate_signing_key(now=NOW)
    with pytest.raises(SigningKeyInvalid):
        private_key_from_pem(b"not a pem")
    with pytest.raises(SigningKeyInvalid):
        private_key_from_pem(private_key_to_pem(key.private_key, password=b"pw"), password=b"wrong")
    with pytest.raises(SigningKeyInvalid):
        load_signing_key(private_key_to_pem(key.private_key), alg="ES256", state=KeyState.NEXT, created_at=NOW, kid="x")
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SigningKeyInvalid):
        private_key_from_pem(rsa_pem)


def test_bootstrap() -> None:
    ring = KeyRing.bootstrap(now=NOW)
    assert ring.active().state is KeyState.ACTIVE
    upcoming = ring.next_key()
    assert upcoming is not None
    assert upcoming.state is KeyState.NEXT
    assert ring.get(upcoming.kid) is upcoming
    assert ring.get("missing") is None


def test_ring_invariants() -> None:
    active = generate_signing_key(now=NOW, state=KeyState.ACTIVE)
    with pytest.raises(KeyRingInvalid):
        KeyRing(())
    with pytest.raises(KeyRingInvalid):
        KeyRing((active, generate_signing_key(now=NOW, state=KeyState.ACTIVE)))
    with pytest.raises(KeyRingInvalid):
        KeyRing((active, generate_signing_key(now=NOW), generate_signing_key(now=NOW)))
    with pytest.raises(KeyRingInvalid):
        KeyRing((active, active))


def test_rotate() -> None:
    ring = KeyRing.bootstrap(now=NOW)
    first, second = ring.active(), ring.next_key()
    assert second is not None
    later = NOW + timedelta(days=30)
    rotated = ring.rotate(later, max_token_lifetime=LIFETIME)

    assert rotated.active().kid == second.kid
    assert rotated.active().activated_at == later
    retired = rotated.get(first.kid)
    assert retired is not None
    assert retired.state is KeyState.RETIRED
    assert retired.retired_at == later
    fresh = rotated.next_key()
    assert fresh is not None
    assert fresh.kid not in (first.kid, second.kid)
    assert fresh.created_at == later
    assert ring.active().kid == first.kid  # the old ring is unchanged


def test_rotate_drops_expired_retired_keys() -> None:
    ring = KeyRing.bootstrap(now=NOW)
    first = ring.active().kid
    ring = ring.rotate(NOW + timedelta(days=1), max_token_lifetime=LIFETIME)
    second = ring.active().kid
    ring = ring.rotate(NOW + timedelta(days=1, minutes=30), max_token_lifetime=LIFETIME)
    assert ring.get(first) is not None  # its tokens may still be valid
    ring = ring.rotate(NOW + timedelta(days=1, hours=1), max_token_lifetime=LIFETIME)
    assert ring.get(first) is None  # retired an hour ago: every token it signed has expired
    assert ring.get(second) is not None
    assert len(ring.prune(NOW + timedelta(days=3), max_token_lifetime=LIFETIME).keys) == 2


def test_rotate_requires_published_next_key() -> None:
    ring = KeyRing.bootstrap(now=NOW)
    with pytest.raises(KeyRingInvalid):
        ring.rotate(NOW + timedelta(hours=1), max_token_lifetime=LIFETIME, min_publication=timedelta(days=1))
    ring.rotate(NOW + timedelta(days=1), max_token_lifetime=LIFETIME, min_publication=timedelta(days=1))
    only_active = KeyRing((ring.active(),))
    with pytest.raises(KeyRingInvalid):
        only_active.rotate(NOW, max_token_lifetime=LIFETIME)
    with pytest.raises(KeyRingInvalid):
        ring.rotate(NOW, max_token_lifetime=timedelta(0))


def test_rotate_to_another_algorithm() -> None:
    ring = KeyRing.bootstrap(now=NOW).rotate(NOW, max_token_lifetime=LIFETIME, alg="Ed25519")
    assert ring.active().alg == "ES256"
    upcoming = ring.next_key()
    assert upcoming is not None
    assert upcoming.alg == "Ed25519"


def test_jwks() -> None:
    ring = KeyRing.bootstrap(now=NOW)
    first = ring.active().kid
    ring = ring.rotate(NOW + timedelta(days=1), max_token_lifetime=LIFETIME)
    jwks = ring.jwks(NOW + timedelta(days=1))
    kids = [jwk["kid"] for jwk in jwks["keys"]]
    assert kids[0] == ring.active().kid
    assert kids[-1] == first
    assert len(kids) == 3
    for jwk in jwks["keys"]:
        assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
        assert jwk["use"] == "sig"
