"""What an authorization server (or resource server) accepts: the validator's configuration.

Immutable and checked when built (:class:`attest.errors.ConfigurationError`), never at
validation time. Trust (the attester's keys), replay memory and challenge checking are
injected objects; time is passed to each validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from attest.client_auth.jwks import JwksSource
from attest.client_auth.jws import ASYMMETRIC_ALGORITHMS
from attest.client_auth.replay import ReplayStore
from attest.errors import ConfigurationError

#: Proof of possession methods (draft section 7.6, "OAuth Client Attestation Proof-of-Possession
#: Methods" registry, section 15.5.2).
ATTESTATION_POP_JWT = "attestation_pop_jwt"
DPOP_COMBINED = "dpop_combined"
POP_METHODS: frozenset[str] = frozenset({ATTESTATION_POP_JWT, DPOP_COMBINED})

#: Default algorithm allow-lists: asymmetric only (draft section 7.1 step 3, section 7.2 step 3).
DEFAULT_ATTESTATION_ALGS: frozenset[str] = frozenset(
    {"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "Ed25519", "EdDSA"}
)
DEFAULT_POP_ALGS: frozenset[str] = DEFAULT_ATTESTATION_ALGS | {"ML-DSA-44", "ML-DSA-65", "ML-DSA-87"}

_DEFAULT_SKEW = timedelta(seconds=60)
_DEFAULT_PROOF_MAX_AGE = timedelta(minutes=5)


class ChallengeChecker(Protocol):
    """Decides whether a server-provided value (an attestation challenge, draft section 6; or a DPoP
    nonce, RFC 9449 section 8) is acceptable. Single use, expiry and binding to a session are the
    implementer's choice (draft section 12.1)."""

    def check(self, value: str, *, now: datetime) -> bool:
        """True when ``value`` is a challenge this server issued and still accepts."""
        ...


@dataclass(frozen=True)
class ClientAttestationPolicy:
    """Configuration of :func:`attest.client_auth.validate_client_attestation`.

    Attributes:
        audience: the PoP ``aud`` to require: the AS issuer identifier (RFC 8414) or the RS resource
            identifier (RFC 9728) (draft section 7.2 step 7).
        jwks: the Client Attester's keys.
        replay_store: seen ``jti`` values of PoP and DPoP proofs.
        attester_issuer: the required attestation ``iss``; None accepts any (trust then rests on
            ``jwks`` alone).
        attestation_algs: allowed ``alg`` of the Client Attestation JWT.
        pop_algs: allowed ``alg`` of the Client Attestation PoP JWT.
        dpop_algs: allowed ``alg`` of DPoP proofs.
        pop_methods: accepted proof of possession methods (:data:`POP_METHODS`).
        clock_skew: tolerance on every time comparison.
        proof_max_age: how old a PoP or DPoP ``iat`` may be (the replay window).
        max_attestation_age: when set, attestations issued longer ago are refused with
            ``use_fresh_attestation`` (draft section 7.1 step 6).
        challenge_checker: checks PoP ``challenge`` claims; None when this server issues none.
        require_challenge: refuse PoPs without a challenge (``use_attestation_challenge``).
        dpop_nonce_checker: checks DPoP ``nonce`` claims (RFC 9449 section 8).
        require_dpop_nonce: refuse DPoP proofs without a nonce (``use_dpop_nonce``).
    """

    audience: str
    jwks: JwksSource
    replay_store: ReplayStore
    attester_issuer: str | None = None
    attestation_algs: frozenset[str] = DEFAULT_ATTESTATION_ALGS
    pop_algs: frozenset[str] = DEFAULT_POP_ALGS
    dpop_algs: frozenset[str] = DEFAULT_ATTESTATION_ALGS
    pop_methods: frozenset[str] = POP_METHODS
    clock_skew: timedelta = _DEFAULT_SKEW
    proof_max_age: timedelta = _DEFAULT_PROOF_MAX_AGE
    max_attestation_age: timedelta | None = None
    challenge_checker: ChallengeChecker | None = None
    require_challenge: bool = False
    dpop_nonce_checker: ChallengeChecker | None = None
    require_dpop_nonce: bool = False

    def __post_init__(self) -> None:
        if not self.audience:
            raise ConfigurationError("audience (the AS issuer identifier or RS resource URL) is required")
        for name, algs in (
            ("attestation_algs", self.attestation_algs),
            ("pop_algs", self.pop_algs),
            ("dpop_algs", self.dpop_algs),
        ):
            if not algs:
                raise ConfigurationError(f"{name} is empty")
            unsupported = set(algs) - ASYMMETRIC_ALGORITHMS
            if unsupported:
                raise ConfigurationError(f"{name} holds non-asymmetric or unknown algorithms {sorted(unsupported)}")
        if not self.pop_methods or not self.pop_methods <= POP_METHODS:
            raise ConfigurationError(f"pop_methods must be a non-empty subset of {sorted(POP_METHODS)}")
        if self.clock_skew < timedelta(0) or self.proof_max_age <= timedelta(0):
            raise ConfigurationError("clock_skew must be >= 0 and proof_max_age > 0")
        if self.max_attestation_age is not None and self.max_attestation_age <= timedelta(0):
            raise ConfigurationError("max_attestation_age must be positive")
        if self.require_challenge and self.challenge_checker is None:
            raise ConfigurationError("require_challenge needs a challenge_checker")
        if self.require_dpop_nonce and self.dpop_nonce_checker is None:
            raise ConfigurationError("require_dpop_nonce needs a dpop_nonce_checker")
