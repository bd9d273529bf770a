"""The client data a browser (or platform) collected and the authenticator signed over:
CollectedClientData, WebAuthn Level 3 section 5.8.1, and its checks in sections 7.1 and 7.2.

The steps are those of registration (section 7.1 steps 5-12) and authentication (section 7.2 steps
8-14), which are the same but for ``type``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from fido import base64url
from fido.errors import (
    ChallengeMismatch,
    ClientDataMalformed,
    OriginNotAllowed,
    TokenBindingUnsupported,
    TypeMismatch,
)
from fido.relying_party import RelyingParty

#: Longest challenge read from client data. We issue 32 bytes (the spec asks for at least 16); other
#: relying parties have used signed tokens of a few hundred bytes as challenges.
MAX_CHALLENGE_BYTES = 1024

CREATE = "webauthn.create"
GET = "webauthn.get"


@dataclass(frozen=True)
class ClientData:
    """The members of CollectedClientData we check, and the SHA-256 of its exact bytes
    (``clientDataHash``, section 7.1 step 12 / 7.2 step 20), over which the authenticator signed."""

    type: str
    challenge: bytes
    origin: str
    cross_origin: bool
    top_origin: str | None
    token_binding: object
    hash: bytes


def parse_client_data(raw: bytes) -> ClientData:
    """Decode clientDataJSON: UTF-8 (section 7.1 step 5 / 7.2 step 8), then JSON (step 6 / step 9).

    A duplicated member name is refused: a browser never writes one, and two parsers picking
    different values is how signed data gets read differently from how it was signed."""
    try:
        document = _json_document(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ClientDataMalformed(f"clientDataJSON is not UTF-8 JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ClientDataMalformed("clientDataJSON is not a JSON object")
    members: dict[str, Any] = document
    for name in ("type", "challenge", "origin"):
        if not isinstance(members.get(name), str):
            raise ClientDataMalformed(f"clientDataJSON has no {name!r} string")
    challenge = base64url.decode(members["challenge"], max_bytes=MAX_CHALLENGE_BYTES)
    if challenge is None:
        raise ClientDataMalformed("clientDataJSON.challenge is not base64url")
    cross_origin = members.get("crossOrigin", False)
    if not isinstance(cross_origin, bool):
        raise ClientDataMalformed("clientDataJSON.crossOrigin is not a boolean")
    top_origin = members.get("topOrigin")
    if top_origin is not None and not isinstance(top_origin, str):
        raise ClientDataMalformed("clientDataJSON.topOrigin is not a string")
    return ClientData(
        type=members["type"],
        challenge=challenge,
        origin=members["origin"],
        cross_origin=cross_origin,
        top_origin=top_origin,
        token_binding=members.get("tokenBinding"),
        hash=hashlib.sha256(raw).digest(),
    )


def verify_client_data(client_data: ClientData, *, expected_type: str, challenge: bytes, rp: RelyingParty) -> None:
    """The checks on C, in the order of section 7.1 steps 7-11 (registration) and 7.2 steps 10-14
    (authentication)."""
    # Step 7 / 10: the ceremony's own type, so that a webauthn.get assertion is never read as a
    # webauthn.create attestation or the reverse.
    if client_data.type != expected_type:
        raise TypeMismatch(f"clientDataJSON.type is {client_data.type[:40]!r}, expected {expected_type!r}")
    # Step 8 / 11: the challenge of this ceremony.
    if not hmac.compare_digest(client_data.challenge, challenge):
        raise ChallengeMismatch("clientDataJSON.challenge is not the challenge of this ceremony")
    # Step 9 / 12 and section 13.4.9: one of our origins, compared exactly.
    if client_data.origin not in rp.origins:
        raise OriginNotAllowed(
            f"the ceremony ran on {client_data.origin[:200]!r}, which is not an origin of this relying party"
        )
    # Steps 10-11 / 13-14: our pages are never embedded in another site's frame, so a ceremony
    # from a cross-origin iframe is one we did not start.
    if client_data.cross_origin or client_data.top_origin is not None:
        raise OriginNotAllowed("the ceremony ran in a cross-origin frame, which this relying party does not allow")
    _check_token_binding(client_data.token_binding)


def _check_token_binding(token_binding: object) -> None:
    """Level 2 section 7.1 step 10 / 7.2 step 14 (removed in Level 3). We never negotiate Token Binding.

    * absent, or a bare string (drafts before Level 1 sent ``"unused"``): no claim is made;
    * ``{"status": "supported"}``: the client could bind, and did not; that matches our connection;
    * ``{"status": "present"}``: the response was bound to a TLS connection that is not ours;
    * any other status (``"not-supported"`` of a pre-Level-1 draft): not a value any published level
      defines, refused rather than guessed at.
    """
    if token_binding is None or isinstance(token_binding, str):
        return
    if not isinstance(token_binding, dict):
        raise ClientDataMalformed("clientDataJSON.tokenBinding is neither an object nor a string")
    status = token_binding.get("status")
    if status == "supported":
        return
    if status == "present":
        raise TokenBindingUnsupported("the response is bound to a Token Binding this service never negotiates")
    raise TokenBindingUnsupported(f"tokenBinding.status {str(status)[:40]!r} is not defined by WebAuthn")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        _raise_on_repeated_name(pairs)
    return members


def _raise_on_repeated_name(pairs: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise ValueError(f"member {name[:40]!r} appears twice")
        seen.add(name)


_JSON = json.JSONDecoder(object_pairs_hook=_unique_members)
#: Insignificant whitespace around a JSON text (RFC 8259 section 2).
_JSON_WHITESPACE = " \t\n\r"


def _json_document(text: str) -> Any:
    """The JSON text ``text``, as ``JSONDecoder.decode`` reads it, with the whitespace around it
    skipped by string methods instead of two regular-expression matches."""
    start = len(text) - len(text.lstrip(_JSON_WHITESPACE))
    document, end = _JSON.raw_decode(text, start)
    if text[end:].strip(_JSON_WHITESPACE):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return document
