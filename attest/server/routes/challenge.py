"""``POST /v1/challenge``: the draft's challenge endpoint (draft -10 section 8)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from attest.server.challenges import Purpose, issue_challenge
from attest.server.routes.dependencies import limit_per_address, runtime_of
from attest.server.runtime import Runtime
from attest.server.schemas import ChallengeRequest, ChallengeResponse

router = APIRouter(tags=["challenge"])


@router.post("/v1/challenge", response_model=ChallengeResponse)
def post_challenge(
    body: ChallengeRequest, request: Request, response: Response, runtime: Annotated[Runtime, Depends(runtime_of)]
) -> ChallengeResponse:
    """A fresh single-use challenge for ``client_id`` (``Cache-Control: no-store``)."""
    limit_per_address(request, runtime, "challenge")
    now = runtime.now()
    runtime.clients.get(body.client_id)
    with runtime.sessions.begin() as session:
        value = issue_challenge(
            session,
            client_id=body.client_id,
            purpose=Purpose(body.purpose),
            now=now,
            ttl=runtime.settings.challenge_ttl,
        )
    response.headers["Cache-Control"] = "no-store"
    return ChallengeResponse(
        attestation_challenge=value, expires_in=int(runtime.settings.challenge_ttl.total_seconds())
    )
