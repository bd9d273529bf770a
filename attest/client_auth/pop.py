"""Validating the Client Attestation PoP JWT (draft-ietf-oauth-attestation-based-client-auth-10
section 5.1 and section 7.2). The steps run top to bottom in :func:`verify_attestation_pop`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from attest.client_auth import errors
from attest.client_auth.attestation import VerifiedAttestation
from attest.client_auth.claims import check_exp_nbf, check_iat_window, jti_claim, numeric_date, string_claim
from attest.client_auth.jws import check_alg, check_typ, parse_compact, verify_signature
from attest.client_auth.policy import ClientAttestationPolicy
from attest.client_auth.replay import replay_key
from attest.tokens.clock import from_numeric_date, require_aware

#: JOSE ``typ`` of a Client Attestation PoP JWT (draft section 5.1).
CLIENT_ATTESTATION_POP_TYP = "oauth-client-attestation-pop+jwt"


@dataclass(frozen=True)
class VerifiedPop:
    """A Client Attestation PoP JWT that passed section 7.2.

    Attributes:
        jti: its identifier (now recorded in the replay store).
        issued_at: its ``iat``.
        challenge: the server-provided challenge it carried, if any.
    """

    jti: str
    issued_at: datetime
    challenge: str | None


def verify_attestation_pop(
    token: str, attestation: VerifiedAttestation, policy: ClientAttestationPolicy, *, now: datetime
) -> VerifiedPop:
    """A Client Attestation PoP JWT checked per section 7.2 against its (already verified)
    attestation. Header keys (``jwk``, ``jku``, ``x5c``...) are ignored: the key is always
    ``cnf.jwk`` (section 5.1 rule 3)."""
    require_aware(now)

    # Steps 1-3: one well-formed JWT, typ, an allowed asymmetric alg.
    jws = parse_compact(token, malformed=errors.PopMalformed)
    check_typ(jws, CLIENT_ATTESTATION_POP_TYP, error=errors.PopTyp)
    alg = check_alg(jws, policy.pop_algs, error=errors.PopAlg)

    # Step 4: the signature verifies with the attestation's cnf.jwk.
    try:
        valid = verify_signature(jws, alg, attestation.cnf_jwk)
    except ValueError as error:
        raise errors.PopAlg(str(error)) from error
    if not valid:
        raise errors.PopSignature("the PoP is not signed by the attestation's cnf key")

    # Step 2 (section 5.1): aud, jti, iat required.
    claims = jws.claims
    jti = jti_claim(claims, error=errors.PopClaims)
    iat = numeric_date(claims, "iat", error=errors.PopClaims)

    # Step 7: aud is this server (a single audience, simple string comparison).
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    if not isinstance(aud, str):
        raise errors.PopClaims("aud is missing or not a single string")
    if aud != policy.audience:
        raise errors.PopAudience(f"aud {aud!r} is not {policy.audience!r}")

    # Step 6: created within the accepted window; exp/nbf if present (RFC 7519, rule 4).
    check_iat_window(iat, now=now, max_age=policy.proof_max_age, skew=policy.clock_skew, error=errors.PopIat)
    check_exp_nbf(
        claims,
        now=now,
        skew=policy.clock_skew,
        malformed=errors.PopClaims,
        expired=errors.PopExpired,
        not_yet_valid=errors.PopNotYetValid,
        exp_required=False,
    )

    # Step 5: the challenge, when this server provides challenges (section 6).
    challenge = string_claim(claims, "challenge", error=errors.PopChallenge, required=False)
    if policy.challenge_checker is not None:
        if challenge is None:
            if policy.require_challenge:
                raise errors.PopChallengeMissing("this server requires a challenge in the PoP")
        elif not policy.challenge_checker.check(challenge, now=now):
            raise errors.PopChallenge("the challenge was not issued by this server, or is used up or expired")

    # Step 8 and section 12.1: jti replay, recorded only once every other check passed (section 10.7).
    expires_at = from_numeric_date(iat) + policy.proof_max_age + policy.clock_skew
    key = replay_key("pop", attestation.cnf_jkt, jti)
    if not policy.replay_store.check_and_store(key, expires_at=expires_at, now=now):
        raise errors.PopReplay(f"jti {jti!r} was already used")
    return VerifiedPop(jti=jti, issued_at=from_numeric_date(iat), challenge=challenge)
