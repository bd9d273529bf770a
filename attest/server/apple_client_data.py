"""The client data of the service's App Attest contract.

The app hashes these exact bytes into ``attestKey``/``generateAssertion``: UTF-8 JSON
``{"challenge": "<the challenge string from /v1/challenge>", "jwk": {<public P-256 JWK>}}``.
``jwk`` is a Secure Enclave key the app created for signing JWTs (App Attest keys cannot sign
arbitrary data); it becomes ``cnf.jwk`` of the Client Attestation JWT. Binding it inside the
attested client data is what ties the PoP key to the genuine app instance.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from attest.server.errors import ClientDataMalformed
from attest.tokens.cnf import check_public_jwk

MAX_CLIENT_DATA = 8 * 1024
_MEMBERS = frozenset({"challenge", "jwk"})


@dataclass(frozen=True, slots=True)
class AppleClientData:
    challenge: str
    jwk: Mapping[str, Any]


def parse_apple_client_data(data: bytes) -> AppleClientData:
    """Strictly read the client data: one JSON object with exactly ``challenge`` and ``jwk``."""
    if len(data) > MAX_CLIENT_DATA:
        raise ClientDataMalformed(f"client data is {len(data)} bytes; at most {MAX_CLIENT_DATA}")
    try:
        document = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # RecursionError: nesting deeper than the JSON parser's recursion limit.
        raise ClientDataMalformed(f"client data is not UTF-8 JSON: {type(exc).__name__}") from exc
    if not isinstance(document, dict) or set(document) != _MEMBERS:
        raise ClientDataMalformed('client data must be a JSON object with exactly "challenge" and "jwk"')
    challenge, jwk = document["challenge"], document["jwk"]
    if not isinstance(challenge, str) or not isinstance(jwk, dict):
        raise ClientDataMalformed('"challenge" must be a string and "jwk" an object')
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ClientDataMalformed("the jwk must be a P-256 EC key (a Secure Enclave key)")
    return AppleClientData(challenge=challenge, jwk=check_public_jwk(jwk))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate member in JSON object")
    return dict(pairs)
