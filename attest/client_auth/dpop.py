"""Validating a DPoP proof (RFC 9449 section 4.3), alone or as the combined proof of possession of
a Client Attestation (draft-ietf-oauth-attestation-based-client-auth-10 section 5.2 and section
7.3). The steps run top to bottom in :func:`verify_dpop_proof`."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from attest.client_auth import errors
from attest.client_auth.claims import check_iat_window, jti_claim, numeric_date, string_claim
from attest.client_auth.jws import check_alg, check_typ, parse_compact, verify_signature
from attest.client_auth.policy import ClientAttestationPolicy
from attest.client_auth.replay import replay_key
from attest.jwk import b64url, jwk_thumbprint
from attest.tokens.clock import from_numeric_date, require_aware
from attest.tokens.cnf import check_public_jwk
from attest.tokens.errors import TokenError

#: JOSE ``typ`` of a DPoP proof (RFC 9449 section 4.2).
DPOP_TYP = "dpop+jwt"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@dataclass(frozen=True)
class VerifiedDpop:
    """A DPoP proof that passed RFC 9449 section 4.3.

    Attributes:
        jkt: the RFC 7638 thumbprint of its key: bind access tokens to it (``cnf.jkt``, section 6).
        jwk: its public key.
        jti: its identifier (now recorded in the replay store).
        issued_at: its ``iat``.
        nonce: the server-provided nonce it carried, if any.
    """

    jkt: str
    jwk: Mapping[str, Any]
    jti: str
    issued_at: datetime
    nonce: str | None


def _normalize_percent(component: str) -> str:
    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _PERCENT.sub(fix, component)


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 section 5.2.4.
    output: list[str] = []
    for segment in path.split("/")[1:] if path.startswith("/") else path.split("/"):
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    trailing = "/" if path.endswith(("/.", "/..")) else ""
    return "/" + "/".join(output) + trailing


def normalize_htu(uri: str) -> str | None:
    """``uri`` without query and fragment, normalized per RFC 3986 section 6.2.2 (case, percent-
    encoding, dot segments) and section 6.2.3 (default port, empty path), as RFC 9449 section 4.3
    step 9 recommends. None when it is not an absolute http(s) URI."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _remove_dot_segments(_normalize_percent(parts.path)) if parts.path else "/"
    return urlunsplit((scheme, netloc, path, "", ""))


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url SHA-256 of the ASCII access token (RFC 9449 section 4.2)."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


def verify_dpop_proof(
    token: str,
    policy: ClientAttestationPolicy,
    *,
    method: str,
    url: str,
    now: datetime,
    access_token: str | None = None,
    access_token_jkt: str | None = None,
    cnf_jkt: str | None = None,
) -> VerifiedDpop:
    """A DPoP proof checked per RFC 9449 section 4.3 for the request ``method`` ``url``.

    ``access_token`` (resource requests) requires a matching ``ath``; ``access_token_jkt`` (the
    token's ``cnf.jkt``) requires the proof's key. ``cnf_jkt`` is the attestation's key thumbprint
    in combined mode (section 7.3 step 4): the proof must be signed by that very key.
    """
    require_aware(now)

    # Steps 2-5: one well-formed JWT, typ dpop+jwt, an allowed asymmetric alg.
    jws = parse_compact(token, malformed=errors.DpopMalformed)
    check_typ(jws, DPOP_TYP, error=errors.DpopTyp)
    alg = check_alg(jws, policy.dpop_algs, error=errors.DpopAlg)

    # Step 7: the jwk header is a public key (never a private one).
    if "jwk" not in jws.header:
        raise errors.DpopJwk("no jwk header")
    try:
        jwk = check_public_jwk(jws.header["jwk"])
    except TokenError as error:
        raise errors.DpopJwk(error.message) from error

    # Step 6: the signature verifies with that key.
    try:
        valid = verify_signature(jws, alg, jwk)
    except ValueError as error:
        raise errors.DpopAlg(str(error)) from error
    if not valid:
        raise errors.DpopSignature("the proof is not signed by its jwk")
    jkt = jwk_thumbprint(jwk)

    # Step 3: required claims.
    claims = jws.claims
    jti = jti_claim(claims, error=errors.DpopClaims)
    htm = string_claim(claims, "htm", error=errors.DpopClaims)
    htu = string_claim(claims, "htu", error=errors.DpopClaims)
    iat = numeric_date(claims, "iat", error=errors.DpopClaims)

    # Step 8: htm is the request method (methods are case-sensitive, RFC 9110 section 9.1).
    if htm != method:
        raise errors.DpopHtm(f"htm {htm!r} is not the request method {method!r}")

    # Step 9: htu is the request URI without query and fragment.
    expected_htu = normalize_htu(url)
    if expected_htu is None:
        raise errors.DpopHtu(f"the request URL {url!r} is not an absolute http(s) URI")
    if normalize_htu(htu) != expected_htu:
        raise errors.DpopHtu(f"htu {htu!r} is not the request URI {expected_htu!r}")

    # Step 10: the server-provided nonce (section 8), when this server uses nonces.
    nonce = string_claim(claims, "nonce", error=errors.DpopNonce, required=False)
    if policy.dpop_nonce_checker is not None:
        if nonce is None:
            if policy.require_dpop_nonce:
                raise errors.DpopNonceMissing("this server requires a DPoP nonce")
        elif not policy.dpop_nonce_checker.check(nonce, now=now):
            raise errors.DpopNonce("the nonce was not provided by this server, or has expired")

    # Step 11: created within the accepted window.
    check_iat_window(iat, now=now, max_age=policy.proof_max_age, skew=policy.clock_skew, error=errors.DpopIat)

    # Step 12: bound to the presented access token (ath) and to its key (cnf.jkt, section 6).
    if access_token is not None:
        ath = string_claim(claims, "ath", error=errors.DpopAthMissing, required=False)
        if ath is None:
            raise errors.DpopAthMissing("a proof sent with an access token needs ath")
        try:
            expected_ath = access_token_hash(access_token)
        except UnicodeEncodeError as error:
            raise errors.DpopAth("the access token is not ASCII, so no ath can match it") from error
        if not hmac.compare_digest(ath.encode("utf-8"), expected_ath.encode("ascii")):
            raise errors.DpopAth("ath is not the hash of the presented access token")
    if access_token_jkt is not None and jkt != access_token_jkt:
        raise errors.DpopKeyBinding("the access token is bound to another key")

    # Draft section 7.3 step 4: combined mode, the DPoP key is the attested cnf key (by thumbprint).
    if cnf_jkt is not None and jkt != cnf_jkt:
        raise errors.DpopCnfMismatch("the DPoP proof's jwk is not the attestation's cnf.jwk")

    # RFC 9449 section 11.1: jti replay, recorded last.
    expires_at = from_numeric_date(iat) + policy.proof_max_age + policy.clock_skew
    if not policy.replay_store.check_and_store(replay_key("dpop", jkt, jti), expires_at=expires_at, now=now):
        raise errors.DpopReplay(f"jti {jti!r} was already used")
    return VerifiedDpop(jkt=jkt, jwk=jwk, jti=jti, issued_at=from_numeric_date(iat), nonce=nonce)
