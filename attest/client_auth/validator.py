"""Validating a request that carries a Client Attestation (draft-ietf-oauth-attestation-based-
client-auth-10 section 7): the attestation first (section 7.1, as section 4 recommends), then its
proof of possession, chosen by the headers present:

* an OAuth-Client-Attestation-PoP header: the PoP JWT (section 7.2); a DPoP proof beside it is
  validated independently per RFC 9449, its key need not be ``cnf.jwk``;
* no PoP header but a DPoP proof: DPoP combined mode (section 7.3), the proof's key must be
  ``cnf.jwk``;
* neither: rejected, an attestation alone proves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from attest.client_auth import errors
from attest.client_auth.attestation import VerifiedAttestation, verify_client_attestation
from attest.client_auth.dpop import VerifiedDpop, verify_dpop_proof
from attest.client_auth.jws import single_value
from attest.client_auth.policy import ATTESTATION_POP_JWT, DPOP_COMBINED, ClientAttestationPolicy
from attest.client_auth.pop import VerifiedPop, verify_attestation_pop
from attest.tokens.clock import require_aware

ATTESTATION_HEADER = "OAuth-Client-Attestation"
POP_HEADER = "OAuth-Client-Attestation-PoP"
CHALLENGE_HEADER = "OAuth-Client-Attestation-Challenge"
DPOP_HEADER = "DPoP"
DPOP_NONCE_HEADER = "DPoP-Nonce"


@dataclass(frozen=True)
class AttestationRequest:
    """The parts of an HTTP request the validation needs.

    Attributes:
        attestations: every OAuth-Client-Attestation field value received (normally one).
        pops: every OAuth-Client-Attestation-PoP field value.
        dpops: every DPoP field value.
        method: the request method (DPoP ``htm``).
        url: the request's absolute URL as the client addressed it (DPoP ``htu``).
        client_id: the request's ``client_id`` parameter, if any (section 7.5).
        access_token: the access token presented with a DPoP proof, if any (RFC 9449 ``ath``).
        access_token_jkt: the ``cnf.jkt`` that access token is bound to, if known.
    """

    attestations: Sequence[str]
    pops: Sequence[str] = ()
    dpops: Sequence[str] = ()
    method: str = "POST"
    url: str = ""
    client_id: str | None = None
    access_token: str | None = None
    access_token_jkt: str | None = None

    @classmethod
    def from_headers(
        cls,
        headers: Iterable[tuple[str, str]],
        *,
        method: str,
        url: str,
        client_id: str | None = None,
        access_token: str | None = None,
        access_token_jkt: str | None = None,
    ) -> AttestationRequest:
        """Collect the three fields from raw ``(name, value)`` pairs; names are case-insensitive
        (RFC 9110 section 5.1), repeated fields are kept apart so they can be refused."""
        collected: dict[str, list[str]] = {ATTESTATION_HEADER: [], POP_HEADER: [], DPOP_HEADER: []}
        by_lower = {name.lower(): name for name in collected}
        for name, value in headers:
            canonical = by_lower.get(name.lower())
            if canonical is not None:
                collected[canonical].append(value)
        return cls(
            attestations=tuple(collected[ATTESTATION_HEADER]),
            pops=tuple(collected[POP_HEADER]),
            dpops=tuple(collected[DPOP_HEADER]),
            method=method,
            url=url,
            client_id=client_id,
            access_token=access_token,
            access_token_jkt=access_token_jkt,
        )

    @property
    def has_attestation(self) -> bool:
        """Whether the client sent a Client Attestation at all (section 7.6: it may be optional)."""
        return bool(self.attestations)


@dataclass(frozen=True)
class ValidatedClient:
    """An authenticated client instance.

    Attributes:
        attestation: the verified Client Attestation JWT.
        pop_method: :data:`ATTESTATION_POP_JWT` or :data:`DPOP_COMBINED`.
        pop: the verified PoP JWT (normal mode), else None.
        dpop: the verified DPoP proof (combined mode, or validated beside a PoP JWT), else None.
    """

    attestation: VerifiedAttestation
    pop_method: str
    pop: VerifiedPop | None
    dpop: VerifiedDpop | None

    @property
    def client_id(self) -> str:
        """The attested ``client_id`` (``sub``)."""
        return self.attestation.client_id

    @property
    def instance_jkt(self) -> str:
        """RFC 7638 thumbprint of the client instance key; bind refresh tokens to it (section 10.3)."""
        return self.attestation.cnf_jkt


def validate_client_attestation(
    request: AttestationRequest, policy: ClientAttestationPolicy, *, now: datetime
) -> ValidatedClient:
    """Authenticate the client instance of ``request`` per section 7; raises a
    :class:`attest.client_auth.errors.ClientAuthError` naming the failed check."""
    require_aware(now)
    token = single_value(request.attestations, missing=errors.AttestationMissing, multiple=errors.AttestationMultiple)
    attestation = verify_client_attestation(token, policy, now=now, client_id=request.client_id)

    if request.pops:
        # Section 7, first rule: the PoP JWT (section 7.2); a DPoP proof is checked on its own.
        if ATTESTATION_POP_JWT not in policy.pop_methods:
            raise errors.PopMethodNotAccepted(f"{ATTESTATION_POP_JWT} is not accepted here")
        pop_token = single_value(request.pops, missing=errors.PopMissing, multiple=errors.PopMultiple)
        pop = verify_attestation_pop(pop_token, attestation, policy, now=now)
        dpop = _verify_dpop(request, policy, now=now, cnf_jkt=None) if request.dpops else None
        return ValidatedClient(attestation=attestation, pop_method=ATTESTATION_POP_JWT, pop=pop, dpop=dpop)

    if request.dpops:
        # Section 7, second and third rules: DPoP combined mode (section 7.3), if accepted.
        if DPOP_COMBINED not in policy.pop_methods:
            raise errors.PopMethodNotAccepted(f"{DPOP_COMBINED} is not accepted here")
        dpop = _verify_dpop(request, policy, now=now, cnf_jkt=attestation.cnf_jkt)
        return ValidatedClient(attestation=attestation, pop_method=DPOP_COMBINED, pop=None, dpop=dpop)

    raise errors.PopMissing("neither an OAuth-Client-Attestation-PoP header nor a DPoP proof")


def _verify_dpop(
    request: AttestationRequest, policy: ClientAttestationPolicy, *, now: datetime, cnf_jkt: str | None
) -> VerifiedDpop:
    token = single_value(request.dpops, missing=errors.DpopMalformed, multiple=errors.DpopMultiple)
    return verify_dpop_proof(
        token,
        policy,
        method=request.method,
        url=request.url,
        now=now,
        access_token=request.access_token,
        access_token_jkt=request.access_token_jkt,
        cnf_jkt=cnf_jkt,
    )
