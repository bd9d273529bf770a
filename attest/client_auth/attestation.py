"""Validating the Client Attestation JWT (draft-ietf-oauth-attestation-based-client-auth-10
section 4 and section 7.1). The steps run top to bottom in :func:`verify_client_attestation`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from attest.client_auth import errors
from attest.client_auth.claims import check_exp_nbf, numeric_date, string_claim
from attest.client_auth.jws import CompactJws, check_alg, check_typ, parse_compact, verify_signature
from attest.client_auth.policy import ClientAttestationPolicy
from attest.jwk import jwk_thumbprint
from attest.tokens.client_attestation import CLIENT_ATTESTATION_TYP, VERDICT_CLAIM, AttestationVerdict
from attest.tokens.clock import from_numeric_date, require_aware
from attest.tokens.cnf import check_public_jwk
from attest.tokens.errors import JwkPrivate, TokenError, VerdictInvalid

#: Header parameters by which a token names its own key; we never take keys from the token.
KEY_HEADERS: frozenset[str] = frozenset({"jku", "x5u", "jwk", "x5c"})


@dataclass(frozen=True)
class VerifiedAttestation:
    """A Client Attestation JWT that passed section 7.1.

    Attributes:
        client_id: the ``sub`` claim.
        issuer: the ``iss`` claim (the Client Attester), if present.
        cnf_jwk: the client instance's public key (``cnf.jwk``).
        cnf_jkt: its RFC 7638 thumbprint: bind refresh tokens and codes to it (draft section 10.3).
        expires_at: ``exp``.
        issued_at: ``iat``, if present.
        verdict: our ``attestation`` claim, when present and well-formed; None otherwise (claims not
            understood are ignored, draft section 4).
        header: the JOSE header.
        claims: every claim, for policies beyond this package.
    """

    client_id: str
    issuer: str | None
    cnf_jwk: Mapping[str, Any]
    cnf_jkt: str
    expires_at: datetime
    issued_at: datetime | None
    verdict: AttestationVerdict | None
    header: Mapping[str, Any]
    claims: Mapping[str, Any]


def read_client_attestation(token: str, policy: ClientAttestationPolicy) -> CompactJws:
    """The header checks of section 7.1 (steps 2-3): compact JWS, ``typ``, ``alg``, no key headers.
    No signature check: see :func:`verify_client_attestation`."""
    jws = parse_compact(token, malformed=errors.AttestationMalformed)
    check_typ(jws, CLIENT_ATTESTATION_TYP, error=errors.AttestationTyp)
    check_alg(jws, policy.attestation_algs, error=errors.AttestationAlg)
    injected = KEY_HEADERS.intersection(jws.header)
    if injected:
        raise errors.AttestationKeyHeader(f"header names its own key via {sorted(injected)}; keys come from the JWKS")
    return jws


def check_attestation_signature(jws: CompactJws, policy: ClientAttestationPolicy, *, now: datetime) -> None:
    """Section 7.1 step 4: the signature verifies with the attester's key named by ``kid``."""
    alg = check_alg(jws, policy.attestation_algs, error=errors.AttestationAlg)
    kid = jws.header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise errors.AttestationUnknownKid("no kid header: the attester's key cannot be selected")
    jwk = policy.jwks.get_key(kid, now=now)
    if jwk is None:
        raise errors.AttestationUnknownKid(f"kid {kid!r} is not in the attester's JWKS")
    # RFC 7517 section 4.4: a key published for one algorithm is not used with another.
    if "alg" in jwk and jwk["alg"] != alg:
        raise errors.AttestationAlg(f"key {kid!r} is published for {jwk['alg']!r}, the token uses {alg!r}")
    try:
        valid = verify_signature(jws, alg, jwk)
    except ValueError as error:
        raise errors.AttestationAlg(str(error)) from error
    if not valid:
        raise errors.AttestationSignature(f"signature does not verify with attester key {kid!r}")


def check_attestation_claims(
    jws: CompactJws, policy: ClientAttestationPolicy, *, now: datetime, client_id: str | None
) -> VerifiedAttestation:
    """The claim rules of section 4 and section 7.1 (steps 2, 5-7) on an already verified JWS."""
    claims = jws.claims
    skew_s = policy.clock_skew.total_seconds()
    now_s = now.timestamp()

    # Section 4: sub REQUIRED; iss as configured (RFC 7519 section 4.1.1, simple string comparison).
    sub = string_claim(claims, "sub", error=errors.AttestationClaims)
    iss = string_claim(claims, "iss", error=errors.AttestationClaims, required=False)
    if policy.attester_issuer is not None and iss != policy.attester_issuer:
        raise errors.AttestationIssuer(f"iss {iss!r} is not the configured attester {policy.attester_issuer!r}")

    # Section 4: exp REQUIRED and not passed; nbf/iat (optional in -10) not in the future.
    exp = check_exp_nbf(
        claims,
        now=now,
        skew=policy.clock_skew,
        malformed=errors.AttestationClaims,
        expired=errors.AttestationExpired,
        not_yet_valid=errors.AttestationNotYetValid,
        exp_required=True,
    )
    assert exp is not None
    iat = numeric_date(claims, "iat", error=errors.AttestationClaims, required=False)
    if iat is not None and iat > now_s + skew_s:
        raise errors.AttestationNotYetValid(f"iat {iat:.0f} is {iat - now_s:.0f} s in the future")

    # Section 7.1 step 6: fresh enough per local policy.
    if policy.max_attestation_age is not None:
        if iat is None:
            raise errors.AttestationStale("no iat, so the attestation's age is unknown")
        limit = (policy.max_attestation_age + policy.clock_skew).total_seconds()
        if now_s - iat > limit:
            raise errors.AttestationStale(f"issued {now_s - iat:.0f} s ago; at most {limit:.0f} s accepted")

    # Section 4 and section 7.1 step 5: cnf.jwk present, public, well-formed (RFC 7800 section 3.2).
    cnf = claims.get("cnf")
    if not isinstance(cnf, Mapping) or "jwk" not in cnf:
        raise errors.CnfMissing("no cnf.jwk claim")
    try:
        cnf_jwk = check_public_jwk(cnf["jwk"])
    except JwkPrivate as error:
        raise errors.CnfPrivate(error.message) from error
    except TokenError as error:
        raise errors.CnfMalformed(error.message) from error

    # Section 7.1 step 7 and section 7.5: the request's client_id is the subject.
    if client_id is not None and client_id != sub:
        raise errors.SubMismatch(f"sub {sub!r} is not the request's client_id {client_id!r}")

    verdict: AttestationVerdict | None
    try:
        verdict = AttestationVerdict.from_claim(claims[VERDICT_CLAIM]) if VERDICT_CLAIM in claims else None
    except VerdictInvalid:
        verdict = None
    return VerifiedAttestation(
        client_id=sub,
        issuer=iss,
        cnf_jwk=cnf_jwk,
        cnf_jkt=jwk_thumbprint(cnf_jwk),
        expires_at=from_numeric_date(exp),
        issued_at=None if iat is None else from_numeric_date(iat),
        verdict=verdict,
        header=jws.header,
        claims=claims,
    )


def verify_client_attestation(
    token: str, policy: ClientAttestationPolicy, *, now: datetime, client_id: str | None = None
) -> VerifiedAttestation:
    """A Client Attestation JWT checked per section 7.1 (header, signature, claims).

    ``client_id`` is the request's ``client_id`` parameter when it has one (section 7.5).
    """
    require_aware(now)
    jws = read_client_attestation(token, policy)
    check_attestation_signature(jws, policy, now=now)
    return check_attestation_claims(jws, policy, now=now, client_id=client_id)
