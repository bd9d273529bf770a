"""Request and response bodies of the HTTP API (JSON; binary values as standard base64)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from attest.server.errors import RequestMalformed

ClientId = Annotated[str, Field(min_length=1, max_length=255)]
Base64Text = Annotated[str, Field(min_length=1, max_length=64 * 1024)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ChallengeRequest(_Request):
    client_id: ClientId
    #: "attest" (default) for an attestation, "assertion" for an App Attest assertion renewal.
    purpose: Annotated[str, Field(pattern="^(attest|assertion)$")] = "attest"


class ChallengeResponse(BaseModel):
    attestation_challenge: str
    expires_in: int


class AndroidAttestRequest(_Request):
    client_id: ClientId
    challenge: Annotated[str, Field(min_length=1, max_length=128)]
    #: Base64 DER certificates, leaf first, as KeyStore.getCertificateChain() returns them.
    certificate_chain: Annotated[list[Base64Text], Field(min_length=1, max_length=8)]
    #: Optional Google Play Integrity token (JOSE compact), requested with the same challenge:
    #: ``requestHash`` = base64url(SHA-256(challenge bytes)) for standard requests, ``nonce`` = the
    #: challenge string for classic ones (:mod:`attest.android.play_integrity.policy`).
    integrity_token: Annotated[str, Field(min_length=1, max_length=32 * 1024)] | None = None


class AppleAttestRequest(_Request):
    client_id: ClientId
    key_id: Annotated[str, Field(min_length=1, max_length=64)]
    attestation_object: Base64Text
    client_data: Base64Text


class AppleAssertionRequest(_Request):
    client_id: ClientId
    key_id: Annotated[str, Field(min_length=1, max_length=64)]
    assertion: Base64Text
    client_data: Base64Text


class DebugAttestRequest(_Request):
    client_id: ClientId
    challenge: Annotated[str, Field(min_length=1, max_length=128)]
    debug_secret: Annotated[str, Field(min_length=1, max_length=256)]
    jwk: dict[str, Any]


class TokenResponse(BaseModel):
    client_attestation: str
    expires_in: int


def decode_base64(value: str, what: str) -> bytes:
    """Standard base64 (padding required); anything else is ``request.malformed`` naming the field."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RequestMalformed(f"{what} is not standard base64") from None
