"""``POST /v1/attest/debug``: tokens for emulators and CI, like Firebase App Check debug tokens.

Registered only in development: in production the route does not exist (404) and debug clients
cannot be created. The token's verdict says ``platform: debug``; relying parties must not accept it
in production."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from attest.server.challenges import Purpose
from attest.server.clients import debug_secret_hash_of, debug_secret_matches
from attest.server.errors import DebugSecretInvalid
from attest.server.issuance import issue_token
from attest.server.rate_limit import Limit
from attest.server.routes.dependencies import limit_per_address, request_audit, runtime_of
from attest.server.runtime import Runtime
from attest.server.schemas import DebugAttestRequest, TokenResponse
from attest.server.verdict_transaction import verdict_transaction
from attest.tokens.client_attestation import AttestationVerdict
from attest.tokens.cnf import check_public_jwk

router = APIRouter(tags=["attest"])


@router.post("/v1/attest/debug", response_model=TokenResponse)
def attest_debug(
    body: DebugAttestRequest, request: Request, runtime: Annotated[Runtime, Depends(runtime_of)]
) -> TokenResponse:
    limit_per_address(request, runtime, "attest")
    if runtime.settings.rate_limit_debug_per_client > 0:
        limit = Limit("debug-client", runtime.settings.rate_limit_debug_per_client, timedelta(minutes=1))
        runtime.rate_limiter.hit(limit, body.client_id, now=runtime.now())
    now = runtime.now()
    audit = request_audit(request, runtime, event="attest.debug", client_id=body.client_id, platform="debug")
    with verdict_transaction(
        runtime.engine.begin, audit, now=now, one_statement=runtime.one_statement_verdicts
    ) as transaction:
        jwk = check_public_jwk(body.jwk)
        client = runtime.clients.get(body.client_id, platform="debug")
        if not debug_secret_matches(body.debug_secret, debug_secret_hash_of(transaction.database, client.client_id)):
            raise DebugSecretInvalid("the debug secret does not match")
        transaction.consume_challenge(body.challenge, client_id=client.client_id, purpose=Purpose.ATTEST)
    verdict = AttestationVerdict(
        platform="debug",
        security_level=None,
        environment="development",
        app_checked=False,
        revocation_checked=False,
    )
    return issue_token(runtime, client, jwk, verdict)
