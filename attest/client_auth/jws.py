"""Compact JWS reading and signature checks shared by the attestation, PoP and DPoP validators.

Parsing is strict (RFC 7515 section 7.1, RFC 7519 section 7.2): three base64url segments, JSON
objects without duplicate member names, no unencoded payloads. Algorithms come from an explicit
allow-list of asymmetric signatures (RFC 8725 section 3.1); ``none`` and MACs are never
accepted. Verification goes through joserfc's algorithm registry, except ML-DSA (``AKP`` keys,
draft-ietf-cose-dilithium), which joserfc does not implement and cryptography verifies directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from joserfc.jws import JWSRegistry

from attest.client_auth.errors import ClientAuthError
from attest.tokens.cnf import b64url_decode, load_public_jwk
from attest.tokens.errors import TokenError

#: Asymmetric JWS algorithms this package can verify (RFC 7518 section 3.1, RFC 8037, RFC 9864,
#: draft-ietf-cose-dilithium). Policies may only narrow this set.
ASYMMETRIC_ALGORITHMS: frozenset[str] = frozenset(
    {
        "ES256",
        "ES384",
        "ES512",
        "PS256",
        "PS384",
        "PS512",
        "RS256",
        "RS384",
        "RS512",
        "EdDSA",
        "Ed25519",
        "Ed448",
        "ML-DSA-44",
        "ML-DSA-65",
        "ML-DSA-87",
    }
)
_ML_DSA: Mapping[str, type[mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey]] = {
    "ML-DSA-44": mldsa.MLDSA44PublicKey,
    "ML-DSA-65": mldsa.MLDSA65PublicKey,
    "ML-DSA-87": mldsa.MLDSA87PublicKey,
}

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
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate member {name!r}")
        result[name] = value
    return result


def _json_object(segment: str) -> dict[str, Any]:
    decoded = json.loads(b64url_decode(segment).decode("utf-8"), object_pairs_hook=_no_duplicates)
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
    try:
        key = load_public_jwk(jwk)
    except TokenError as error:
        raise ValueError(f"unusable key: {error.message}") from error
    if jwk.get("kty") == "AKP":
        if jwk.get("alg") != alg or alg not in _ML_DSA:
            raise ValueError(f"an AKP {jwk.get('alg')} key cannot verify {alg}")
        assert isinstance(key, _ML_DSA[alg])
        try:
            key.verify(jws.signature, jws.signing_input)
        except InvalidSignature:
            return False
        return True
    if alg in _ML_DSA:
        raise ValueError(f"a {jwk.get('kty')} key cannot verify {alg}")
    try:
        joserfc_key = JWKRegistry.import_key(dict(jwk))
        algorithm = JWSRegistry(algorithms=[alg]).get_alg(alg)
        algorithm.check_key(joserfc_key)
        # joserfc also refuses here a key whose "key_ops" or "use" forbids verification.
        return bool(algorithm.verify(jws.signing_input, jws.signature, joserfc_key))
    except (JoseError, ValueError, TypeError) as error:
        raise ValueError(f"alg {alg} cannot be used with a {jwk.get('kty')} key: {error}") from error
