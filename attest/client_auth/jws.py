"""Compact JWS reading and signature checks shared by the attestation, PoP and DPoP validators.

Parsing is strict (RFC 7515 section 7.1, RFC 7519 section 7.2): three base64url segments, JSON
objects without duplicate member names, no unencoded payloads. Algorithms come from an explicit
allow-list of asymmetric signatures (RFC 8725 section 3.1, :mod:`attest.client_auth.jwa`);
``none`` and MACs are never accepted. A key is checked for an algorithm once (our JWK checks,
then joserfc's: ``use``, ``key_ops``, ``alg``, key type and curve) and the verifier kept in a
bounded LRU keyed by the algorithm and the JWK's exact members; signatures are then verified with
cryptography directly.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from joserfc.jws import JWSRegistry

from attest.client_auth.errors import ClientAuthError
from attest.client_auth.jwa import JWS_ALGORITHMS, MlDsa, Verifier
from attest.tokens.cnf import KEY_CACHE_SIZE, JwkMembers, b64url_decode, jwk_members, load_public_jwk
from attest.tokens.errors import TokenError

#: Asymmetric JWS algorithms this package can verify (RFC 7518 section 3.1, RFC 8037, RFC 9864,
#: draft-ietf-cose-dilithium). Policies may only narrow this set.
ASYMMETRIC_ALGORITHMS: frozenset[str] = frozenset(JWS_ALGORITHMS)

#: Longest token accepted (the draft's section 10.5 notes 8 kB header limits; ML-DSA-87 PoPs with
#: an AKP ``cnf`` are the largest legitimate values, well under this).
MAX_TOKEN_LENGTH = 32_768
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class CompactJws:
    """A parsed, not yet verified, JWS in compact serialization."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    signing_input: bytes
    signature: bytes


def single_value(values: Sequence[str], *, missing: type[ClientAuthError], multiple: type[ClientAuthError]) -> str:
    """The one value of a header field. A comma inside a value means the field was repeated and
    folded (RFC 9110 section 5.3); JWTs never contain commas."""
    parts = [part.strip() for value in values for part in value.split(",")]
    if not parts:
        raise missing("the header field is absent")
    if len(parts) > 1:
        raise multiple(f"{len(parts)} values where exactly one is allowed")
    return parts[0]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 section 5.2 step 4 / RFC 7519 section 7.2 step 10: refuse duplicate member names,
    # whose meaning would differ from one parser to the next.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member names")
    return result


_JSON = json.JSONDecoder(object_pairs_hook=_no_duplicates)


def _json_object(segment: str) -> dict[str, Any]:
    decoded = _JSON.decode(b64url_decode(segment).decode("utf-8"))
    if not isinstance(decoded, dict):
        raise ValueError("not a JSON object")
    return decoded


def parse_compact(value: str, *, malformed: type[ClientAuthError]) -> CompactJws:
    """Split and decode a compact JWS (RFC 7515 section 7.1); no signature check yet."""
    if len(value) > MAX_TOKEN_LENGTH:
        raise malformed(f"token of {len(value)} characters exceeds {MAX_TOKEN_LENGTH}")
    if not _COMPACT.fullmatch(value):
        # Also refuses Structured Field parameters (";...") and JWE's five segments.
        raise malformed("not a JWS in compact serialization")
    header_segment, claims_segment, signature_segment = value.split(".")
    try:
        header = _json_object(header_segment)
        claims = _json_object(claims_segment)
        signature = b64url_decode(signature_segment)
    except (ValueError, RecursionError) as error:
        raise malformed(f"undecodable JWS: {error}") from error
    if "crit" in header or "b64" in header:
        # RFC 7515 section 4.1.11: extensions we do not understand must make the JWS invalid.
        raise malformed("crit/b64 header extensions are not supported")
    return CompactJws(header, claims, f"{header_segment}.{claims_segment}".encode("ascii"), signature)


def check_typ(jws: CompactJws, expected: str, *, error: type[ClientAuthError]) -> None:
    """``typ`` equals ``expected`` as a media type: case-insensitive, ``application/`` optional
    (RFC 7515 section 4.1.9)."""
    typ = jws.header.get("typ")
    if not isinstance(typ, str):
        raise error(f"typ header is missing; expected {expected!r}")
    normalized = typ.lower().removeprefix("application/")
    if normalized != expected:
        raise error(f"typ {typ!r} is not {expected!r}")


def check_alg(jws: CompactJws, allowed: frozenset[str], *, error: type[ClientAuthError]) -> str:
    """The ``alg``, once it is an allowed asymmetric algorithm (never ``none`` or a MAC)."""
    alg = jws.header.get("alg")
    if not isinstance(alg, str):
        raise error("alg header is missing")
    if alg not in allowed or alg not in ASYMMETRIC_ALGORITHMS:
        raise error(f"alg {alg!r} is not allowed; allowed: {sorted(allowed)}")
    return alg


def verify_signature(jws: CompactJws, alg: str, jwk: Mapping[str, Any]) -> bool:
    """Whether the signature verifies with the public key ``jwk`` under ``alg``.

    Raises :class:`ValueError` when ``alg`` cannot be used with that key type (the caller reports an
    algorithm error, not a forged signature).
    """
    return signature_verifier(alg, jwk)(jws.signing_input, jws.signature)


def signature_verifier(alg: str, jwk: Mapping[str, Any]) -> Verifier:
    """The verifier of ``alg`` with the public key ``jwk``, built once per distinct pair (the cache
    key holds every member of the JWK, so another key under the same ``kid`` is another entry).
    :class:`ValueError` when the key is unusable or does not suit ``alg``; refusals are not cached."""
    members = jwk_members(jwk)
    if members is None:
        return _bind(alg, jwk)
    return _bind_cached(alg, members)


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def _bind_cached(alg: str, members: JwkMembers) -> Verifier:
    return _bind(alg, dict(members))


def _bind(alg: str, jwk: Mapping[str, Any]) -> Verifier:
    try:
        key = load_public_jwk(jwk)
    except TokenError as error:
        raise ValueError(f"unusable key: {error.message}") from error
    algorithm = JWS_ALGORITHMS.get(alg)
    if algorithm is None:
        raise ValueError(f"alg {alg!r} is not supported")
    if jwk.get("kty") == "AKP":
        # joserfc does not implement AKP: the key's own alg must be the token's.
        if jwk.get("alg") != alg or not isinstance(algorithm, MlDsa):
            raise ValueError(f"an AKP {jwk.get('alg')} key cannot verify {alg}")
    elif isinstance(algorithm, MlDsa):
        raise ValueError(f"a {jwk.get('kty')} key cannot verify {alg}")
    else:
        _check_jwk_for_alg(alg, jwk)
    return algorithm.bind(key)


def _check_jwk_for_alg(alg: str, jwk: Mapping[str, Any]) -> None:
    """joserfc's checks of a JWK for verifying ``alg``: its member registry, ``use`` is ``sig``,
    key type and curve match, the key's own ``alg`` (RFC 7517 section 4.4), and ``key_ops``
    allowing ``verify`` (section 4.3)."""
    try:
        joserfc_key = JWKRegistry.import_key(dict(jwk))
        algorithm = JWSRegistry(algorithms=[alg]).get_alg(alg)
        algorithm.check_key(joserfc_key)
        joserfc_key.check_key_op("verify")
    except (JoseError, ValueError, TypeError) as error:
        raise ValueError(f"alg {alg} cannot be used with a {jwk.get('kty')} key: {error}") from error
