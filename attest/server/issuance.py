"""Signing the Client Attestation JWT once a platform attestation verified."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attest.server.clients import RegisteredClient
from attest.server.runtime import Runtime
from attest.server.schemas import TokenResponse
from attest.tokens.client_attestation import AttestationVerdict, issue_client_attestation


def issue_token(
    runtime: Runtime, client: RegisteredClient, cnf_jwk: Mapping[str, Any], verdict: AttestationVerdict
) -> TokenResponse:
    ttl = runtime.token_ttl(client.token_ttl)
    token = issue_client_attestation(
        key=runtime.keys.ring().active(),
        issuer=runtime.settings.issuer,
        client_id=client.client_id,
        cnf_jwk=cnf_jwk,
        verdict=verdict,
        ttl=ttl,
        now=runtime.now(),
    )
    return TokenResponse(client_attestation=token, expires_in=int(ttl.total_seconds()))
