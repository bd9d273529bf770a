"""Fuzz target: Attestation-Based Client Authentication as an authorization server runs it,
:func:`attest.client_auth.validate_client_attestation` on a request built from header lines.

Input: text (latin-1, as HTTP field values arrive) of ``Name: value`` lines. These become the
request's header fields (names case-insensitive; only OAuth-Client-Attestation,
OAuth-Client-Attestation-PoP and DPoP matter). Lines named ``Fuzz-*`` set the rest of the context:

- ``Fuzz-Sign-Attestation: <header JSON>\\x1f<claims JSON>``: an OAuth-Client-Attestation header whose
  JWS the harness signs with the trusted attester key (ES256), so mutations of the JSON reach the
  claim checks behind the signature. ``Fuzz-Sign-Pop`` and ``Fuzz-Sign-Dpop`` do the same for a PoP
  and a DPoP proof, signed with the device key. The bytes are signed as given, whatever ``alg`` says.
- ``Fuzz-Now`` (seconds since the epoch), ``Fuzz-Issuer`` (required attestation ``iss``),
  ``Fuzz-Client-Id``, ``Fuzz-Access-Token``, ``Fuzz-Method``, ``Fuzz-Url``, ``Fuzz-Require-Challenge``
  and ``Fuzz-Require-Nonce`` (present: required).

Seeds: the draft's example tokens (fixtures/oauth) as sent and re-signed, tokens of the shape our
service issues, and the classic JWT attacks (``alg: none``, HS256, injected key headers, private
``cnf`` keys, expired tokens).

Oracle beyond "no other exception": a request that validates once does not validate again, its
second use fails as a replayed PoP or DPoP ``jti``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from attest.client_auth import (
    AttestationRequest,
    ClientAttestationPolicy,
    InMemoryReplayStore,
    StaticJwksSource,
    ValidatedClient,
    errors,
    validate_client_attestation,
)
from attest.client_auth.validator import ATTESTATION_HEADER, DPOP_HEADER, POP_HEADER
from attest.errors import AttestationError
from attest.jwk import b64url, public_key_to_jwk

EXPECTED_ERRORS: tuple[type[Exception], ...] = (AttestationError,)

#: Longest input libFuzzer makes (fuzz/run.py): room for tokens near the 32 768-character bound.
MAX_LEN = 40 * 1024

NOW = datetime(2026, 7, 6, 12, 0, tzinfo=UTC)
AUDIENCE = "https://as.example.com"
REQUEST_URL = "https://as.example.com/token"
#: Fixed scalars: the seeds stay valid from run to run. Test keys, never used anywhere else.
ATTESTER_KEY = ec.derive_private_key(0xA77E57E5, ec.SECP256R1())
DEVICE_KEY = ec.derive_private_key(0xDE71CE, ec.SECP256R1())
ATTESTER_KID = "fuzz-attester"
JWKS: Mapping[str, Any] = {
    "keys": [{**public_key_to_jwk(ATTESTER_KEY.public_key()), "kid": ATTESTER_KID, "alg": "ES256", "use": "sig"}]
}
#: The draft's example challenge, and ours.
CHALLENGES = frozenset({"5c1a9e10-29ff-4c2b-ae73-57c0957c09c4", "fuzz-challenge"})
DPOP_NONCES = frozenset({"fuzz-nonce"})
SEPARATOR = "\x1f"

_SIGNED = {
    "fuzz-sign-attestation": (ATTESTATION_HEADER, ATTESTER_KEY),
    "fuzz-sign-pop": (POP_HEADER, DEVICE_KEY),
    "fuzz-sign-dpop": (DPOP_HEADER, DEVICE_KEY),
}
_SECONDS = re.compile(r"[0-9]{1,12}")
_JWKS_SOURCE = StaticJwksSource(JWKS)


class Accepted:
    """A challenge (or DPoP nonce) checker that accepts a fixed set of values."""

    def __init__(self, values: frozenset[str]) -> None:
        self.values = values

    def check(self, value: str, *, now: datetime) -> bool:
        return value in self.values


def sign(key: ec.EllipticCurvePrivateKey, header: bytes, claims: bytes) -> str:
    """A compact JWS over exactly ``header`` and ``claims`` (ES256, raw r || s)."""
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    r, s = decode_dss_signature(key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def read_request(data: bytes) -> tuple[AttestationRequest, ClientAttestationPolicy, datetime]:
    headers: list[tuple[str, str]] = []
    context: dict[str, str] = {}
    for line in data.decode("latin-1").split("\n"):
        name, colon, value = line.partition(":")
        if not colon:
            continue
        name, value = name.strip(), value.strip(" \t")  # RFC 9110 section 5.5: no surrounding whitespace
        lowered = name.lower()
        if lowered in _SIGNED:
            header, key = _SIGNED[lowered]
            protected, _, claims = value.partition(SEPARATOR)
            headers.append((header, sign(key, protected.encode("latin-1"), claims.encode("latin-1"))))
        elif lowered.startswith("fuzz-"):
            context[lowered.removeprefix("fuzz-")] = value
        else:
            headers.append((name, value))
    now = NOW
    if _SECONDS.fullmatch(context.get("now", "")):
        now = datetime.fromtimestamp(int(context["now"]), UTC)
    request = AttestationRequest.from_headers(
        headers,
        method=context.get("method", "POST"),
        url=context.get("url", REQUEST_URL),
        client_id=context.get("client-id"),
        access_token=context.get("access-token"),
    )
    policy = ClientAttestationPolicy(
        audience=AUDIENCE,
        jwks=_JWKS_SOURCE,
        replay_store=InMemoryReplayStore(),
        attester_issuer=context.get("issuer"),
        challenge_checker=Accepted(CHALLENGES),
        require_challenge="require-challenge" in context,
        dpop_nonce_checker=Accepted(DPOP_NONCES),
        require_dpop_nonce="require-nonce" in context,
    )
    return request, policy, now


def check(data: bytes) -> ValidatedClient:
    request, policy, now = read_request(data)
    validated = validate_client_attestation(request, policy, now=now)
    try:
        validate_client_attestation(request, policy, now=now)
    except (errors.PopReplay, errors.DpopReplay):
        return validated
    except AttestationError as error:
        raise AssertionError(f"the second use of a validated request failed with {error.code}, not a replay") from error
    raise AssertionError("a validated request validated a second time: its proofs were not recorded as used")


def TestOneInput(data: bytes) -> None:
    with contextlib.suppress(*EXPECTED_ERRORS):
        check(data)


if __name__ == "__main__":
    from fuzz.engine import fuzz

    fuzz(TestOneInput)
