"""The attester's signing keys, their JWKS, and rotation.

A pure model: storage (a database table) belongs to the service, which loads a :class:`KeyRing`,
calls :meth:`KeyRing.rotate`, and writes the result back.

Rotation rule (RFC 7517 section 5 key sets; cf. OpenID Connect Core section 10.1.1):

* the NEXT key is published in the JWKS before it signs anything, so relying parties that cache
  the JWKS already hold it on the day it becomes ACTIVE;
* a RETIRED key stays published until every token it signed has expired
  (``retired_at + max_token_lifetime``), then it is dropped.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from attest.jwk import jwk_thumbprint, public_key_to_jwk
from attest.tokens.clock import require_aware
from attest.tokens.errors import KeyRingInvalid, SigningKeyInvalid

#: A private key the attester signs with.
SigningPrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

#: Supported JWS algorithms: ES256 (RFC 7518 section 3.4) and Ed25519 (RFC 9864, the fully
#: specified successor of the deprecated polymorphic "EdDSA" of RFC 8037).
SIGNING_ALGORITHMS: tuple[str, ...] = ("ES256", "Ed25519")


class KeyState(enum.Enum):
    """Where a key is in its life: published-not-signing, signing, or published-until-expiry."""

    NEXT = "next"
    ACTIVE = "active"
    RETIRED = "retired"


def _check_key_matches_alg(alg: str, private_key: object) -> None:
    if alg == "ES256":
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or private_key.curve.name != "secp256r1":
            raise SigningKeyInvalid("ES256 needs a P-256 private key")
    elif alg == "Ed25519":
        if not isinstance(private_key, ed25519.Ed25519PrivateKey):
            raise SigningKeyInvalid("Ed25519 needs an Ed25519 private key")
    else:
        raise SigningKeyInvalid(f"unsupported signing algorithm {alg!r}; supported: {SIGNING_ALGORITHMS}")


@dataclass(frozen=True)
class SigningKey:
    """One signing key of the attester.

    Attributes:
        kid: the RFC 7638 thumbprint of the public key (so a ``kid`` names exactly one key).
        alg: the JWS algorithm, one of :data:`SIGNING_ALGORITHMS`.
        private_key: the private key; never serialized by this class except through
            :func:`private_key_to_pem`.
        state: NEXT, ACTIVE or RETIRED.
        created_at: when the key was generated (and first published).
        activated_at: when it became ACTIVE (None while NEXT).
        retired_at: when it stopped signing (None unless RETIRED).
    """

    kid: str
    alg: str
    private_key: SigningPrivateKey = dataclasses.field(repr=False, compare=False)
    state: KeyState
    created_at: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None

    def __post_init__(self) -> None:
        _check_key_matches_alg(self.alg, self.private_key)
        thumbprint = jwk_thumbprint(public_key_to_jwk(self.private_key.public_key()))
        if self.kid != thumbprint:
            raise SigningKeyInvalid(f"kid {self.kid!r} is not the key's RFC 7638 thumbprint {thumbprint!r}")
        require_aware(self.created_at, "created_at")
        if self.activated_at is not None:
            require_aware(self.activated_at, "activated_at")
        if self.retired_at is not None:
            require_aware(self.retired_at, "retired_at")
        needs_activation = self.state is not KeyState.NEXT
        if (self.activated_at is not None) != needs_activation:
            raise SigningKeyInvalid(
                f"a {self.state.value} key {'needs' if needs_activation else 'has no'} activated_at"
            )
        needs_retirement = self.state is KeyState.RETIRED
        if (self.retired_at is not None) != needs_retirement:
            raise SigningKeyInvalid(f"a {self.state.value} key {'needs' if needs_retirement else 'has no'} retired_at")

    def public_jwk(self) -> dict[str, str]:
        """The published JWK: public members, ``kid``, ``alg``, ``use: "sig"``; never private members."""
        jwk = dict(public_key_to_jwk(self.private_key.public_key()))
        jwk.update(kid=self.kid, alg=self.alg, use="sig")
        return jwk


def generate_signing_key(alg: str = "ES256", *, now: datetime, state: KeyState = KeyState.NEXT) -> SigningKey:
    """A fresh key in ``state`` (NEXT by default: it is published before it signs)."""
    private_key: SigningPrivateKey
    if alg == "ES256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    elif alg == "Ed25519":
        private_key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise SigningKeyInvalid(f"unsupported signing algorithm {alg!r}; supported: {SIGNING_ALGORITHMS}")
    if state is KeyState.RETIRED:
        raise SigningKeyInvalid("a key is never generated retired")
    return SigningKey(
        kid=jwk_thumbprint(public_key_to_jwk(private_key.public_key())),
        alg=alg,
        private_key=private_key,
        state=state,
        created_at=now,
        activated_at=now if state is KeyState.ACTIVE else None,
    )


def private_key_to_pem(private_key: SigningPrivateKey, *, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM of ``private_key``, encrypted with ``password`` when one is given (RFC 5958)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def private_key_from_pem(pem: bytes, *, password: bytes | None = None) -> SigningPrivateKey:
    """The private key in a PKCS#8 PEM; only P-256 and Ed25519 keys are accepted."""
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise SigningKeyInvalid(f"unreadable private key PEM: {error}") from error
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise SigningKeyInvalid(f"a {type(key).__name__} is not a supported signing key")


def load_signing_key(
    pem: bytes,
    *,
    alg: str,
    state: KeyState,
    created_at: datetime,
    activated_at: datetime | None = None,
    retired_at: datetime | None = None,
    kid: str | None = None,
    password: bytes | None = None,
) -> SigningKey:
    """A stored key back as a :class:`SigningKey`; ``kid``, when given, must match the key."""
    private_key = private_key_from_pem(pem, password=password)
    thumbprint = jwk_thumbprint(public_key_to_jwk(private_key.public_key()))
    if kid is not None and kid != thumbprint:
        raise SigningKeyInvalid(f"stored kid {kid!r} does not match the stored key ({thumbprint!r})")
    return SigningKey(
        kid=thumbprint,
        alg=alg,
        private_key=private_key,
        state=state,
        created_at=created_at,
        activated_at=activated_at,
        retired_at=retired_at,
    )


@dataclass(frozen=True)
class KeyRing:
    """The attester's keys: exactly one ACTIVE, at most one NEXT, any number of RETIRED.

    Immutable: :meth:`rotate` and :meth:`prune` return new rings.
    """

    keys: tuple[SigningKey, ...]

    def __post_init__(self) -> None:
        kids = [key.kid for key in self.keys]
        if len(set(kids)) != len(kids):
            raise KeyRingInvalid("two keys share a kid")
        active = [key for key in self.keys if key.state is KeyState.ACTIVE]
        if len(active) != 1:
            raise KeyRingInvalid(f"a key ring needs exactly one ACTIVE key, found {len(active)}")
        if sum(key.state is KeyState.NEXT for key in self.keys) > 1:
            raise KeyRingInvalid("a key ring holds at most one NEXT key")

    @classmethod
    def bootstrap(cls, *, now: datetime, alg: str = "ES256") -> KeyRing:
        """A first ring: an ACTIVE key and a NEXT key. (The very first ACTIVE key cannot have been
        published earlier; nobody can hold a stale JWKS of a service that did not exist.)"""
        active = generate_signing_key(alg, now=now, state=KeyState.ACTIVE)
        return cls((active, generate_signing_key(alg, now=now)))

    def active(self) -> SigningKey:
        """The one key that signs."""
        return next(key for key in self.keys if key.state is KeyState.ACTIVE)

    def next_key(self) -> SigningKey | None:
        """The published key that signs after the next rotation."""
        return next((key for key in self.keys if key.state is KeyState.NEXT), None)

    def get(self, kid: str) -> SigningKey | None:
        """The key named ``kid``, if the ring holds it."""
        return next((key for key in self.keys if key.kid == kid), None)

    def rotate(
        self,
        now: datetime,
        *,
        max_token_lifetime: timedelta,
        min_publication: timedelta = timedelta(0),
        alg: str | None = None,
    ) -> KeyRing:
        """NEXT becomes ACTIVE, ACTIVE becomes RETIRED (``retired_at=now``), a fresh NEXT key is
        generated, and retired keys whose tokens have all expired are dropped.

        ``max_token_lifetime`` is the longest lifetime of a token we sign, plus the clock skew
        relying parties allow. ``min_publication`` refuses to promote a NEXT key published for less
        than that (set it to the relying parties' JWKS cache lifetime).
        """
        require_aware(now)
        upcoming = self.next_key()
        if upcoming is None:
            raise KeyRingInvalid("no NEXT key to promote: it must be published before it signs")
        if upcoming.created_at + min_publication > now:
            raise KeyRingInvalid(
                f"NEXT key {upcoming.kid} published at {upcoming.created_at.isoformat()}, "
                f"less than {min_publication} before {now.isoformat()}"
            )
        current = self.active()
        rotated: list[SigningKey] = [
            dataclasses.replace(upcoming, state=KeyState.ACTIVE, activated_at=now),
            generate_signing_key(alg or current.alg, now=now),
            dataclasses.replace(current, state=KeyState.RETIRED, retired_at=now),
        ]
        rotated.extend(key for key in self.keys if key.state is KeyState.RETIRED)
        return KeyRing(tuple(rotated)).prune(now, max_token_lifetime=max_token_lifetime)

    def prune(self, now: datetime, *, max_token_lifetime: timedelta) -> KeyRing:
        """The ring without retired keys whose every signed token has expired."""
        return KeyRing(tuple(key for key in self.keys if _still_published(key, now, max_token_lifetime)))

    def jwks(self, now: datetime, *, max_token_lifetime: timedelta | None = None) -> dict[str, list[dict[str, str]]]:
        """The JWK Set to publish (RFC 7517 section 5): ACTIVE, NEXT, then RETIRED keys, public members
        only. With ``max_token_lifetime``, retired keys past their window are left out even if the
        ring was not pruned yet."""
        require_aware(now)
        order = {KeyState.ACTIVE: 0, KeyState.NEXT: 1, KeyState.RETIRED: 2}
        published = sorted(
            (key for key in self.keys if max_token_lifetime is None or _still_published(key, now, max_token_lifetime)),
            key=lambda key: (order[key.state], -(key.retired_at or now).timestamp()),
        )
        return {"keys": [key.public_jwk() for key in published]}

    def public_keys(self) -> Mapping[str, dict[str, str]]:
        """Published JWKs by ``kid``."""
        return {key.kid: key.public_jwk() for key in self.keys}


def _still_published(key: SigningKey, now: datetime, max_token_lifetime: timedelta) -> bool:
    if max_token_lifetime <= timedelta(0):
        raise KeyRingInvalid("max_token_lifetime must be positive")
    if key.state is not KeyState.RETIRED:
        return True
    assert key.retired_at is not None
    return key.retired_at + max_token_lifetime > now
