"""Key rotation seen from a relying party: the next key is published before it signs, and tokens
signed before a rotation keep validating against the published JWKS until they expire."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from attest.client_auth import StaticJwksSource, errors, verify_client_attestation
from attest.tokens import AttestationVerdict, KeyRing, issue_client_attestation
from attest.tokens.errors import SigningKeyNotActive
from tests.attest.client_auth.factory import ATTESTER, CLIENT_ID, NOW, DeviceKey, make_policy

TTL = timedelta(hours=1)
VERDICT = AttestationVerdict("android", "tee", "production", True, True)


def issue(ring: KeyRing, device: DeviceKey, now=NOW) -> str:  # type: ignore[no-untyped-def]
    return issue_client_attestation(
        key=ring.active(), issuer=ATTESTER, client_id=CLIENT_ID, cnf_jwk=device.jwk, verdict=VERDICT, ttl=TTL, now=now
    )


def relying_party_check(ring: KeyRing, token: str, now=NOW) -> None:  # type: ignore[no-untyped-def]
    # The relying party fetched the JWKS the attester publishes at ``now``.
    policy = make_policy(jwks=StaticJwksSource(ring.jwks(now)))
    verify_client_attestation(token, policy, now=now, client_id=CLIENT_ID)


def test_next_key_is_published_before_it_signs() -> None:
    ring = KeyRing.bootstrap(now=NOW)
    upcoming = ring.next_key()
    assert upcoming is not None
    published = [jwk["kid"] for jwk in ring.jwks(NOW)["keys"]]
    assert published == [ring.active().kid, upcoming.kid]
    with pytest.raises(SigningKeyNotActive):
        issue_client_attestation(
            key=upcoming,
            issuer=ATTESTER,
            client_id=CLIENT_ID,
            cnf_jwk=DeviceKey().jwk,
            verdict=VERDICT,
            ttl=TTL,
            now=NOW,
        )
    # A relying party that cached the JWKS before the rotation already knows the new signing key.
    cached = StaticJwksSource(ring.jwks(NOW))
    later = NOW + timedelta(days=1)
    rotated = ring.rotate(later, max_token_lifetime=TTL)
    assert rotated.active().kid == upcoming.kid
    verify_client_attestation(issue(rotated, DeviceKey(), later), make_policy(jwks=cached), now=later)


def test_tokens_signed_before_rotation_validate_until_they_expire() -> None:
    ring = KeyRing.bootstrap(now=NOW - timedelta(days=1))
    device = DeviceKey()
    old_token, old_kid = issue(ring, device, NOW), ring.active().kid
    rotation = NOW + timedelta(minutes=10)
    ring = ring.rotate(rotation, max_token_lifetime=TTL)

    # Still published, still valid, until the token's exp.
    relying_party_check(ring, old_token, now=rotation)
    relying_party_check(ring, old_token, now=NOW + TTL - timedelta(seconds=1))
    # New tokens are signed by the new key and validate too.
    relying_party_check(ring, issue(ring, device, rotation), now=rotation)

    # Once every token of the old key has expired, the next rotation drops it from the JWKS.
    second = rotation + TTL + timedelta(seconds=1)
    ring = ring.rotate(second, max_token_lifetime=TTL)
    assert old_kid not in [jwk["kid"] for jwk in ring.jwks(second)["keys"]]
    assert ring.get(old_kid) is None
    policy = make_policy(jwks=StaticJwksSource(ring.jwks(second)))
    with pytest.raises(errors.AttestationUnknownKid):
        verify_client_attestation(old_token, policy, now=second)


def test_jwks_window_without_pruning() -> None:
    ring = KeyRing.bootstrap(now=NOW)
    retired = ring.active().kid
    ring = ring.rotate(NOW, max_token_lifetime=TTL)

    def kids(at: datetime) -> list[str]:
        return [jwk["kid"] for jwk in ring.jwks(at, max_token_lifetime=TTL)["keys"]]

    assert retired in kids(NOW + TTL - timedelta(seconds=1))
    assert retired not in kids(NOW + TTL)
