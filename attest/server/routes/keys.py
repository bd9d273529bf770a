"""``GET /.well-known/jwks.json`` and the service metadata document."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from attest.server.routes.dependencies import runtime_of
from attest.server.runtime import Runtime

router = APIRouter(tags=["keys"])

#: Where the metadata document is published.
METADATA_PATH = "/.well-known/client-attestation-issuer"


@router.get("/.well-known/jwks.json")
def jwks(response: Response, runtime: Annotated[Runtime, Depends(runtime_of)]) -> dict[str, Any]:
    """Every non-retired key, and retired keys until every token they signed has expired."""
    response.headers["Cache-Control"] = "public, max-age=300"
    published: dict[str, Any] = runtime.keys.ring().jwks(
        runtime.now(), max_token_lifetime=runtime.settings.max_token_ttl
    )
    return published


@router.get(METADATA_PATH)
def metadata(runtime: Annotated[Runtime, Depends(runtime_of)]) -> dict[str, Any]:
    """Who we are and where our endpoints are (issuer, jwks_uri, algorithms, endpoints)."""
    base = runtime.settings.issuer.rstrip("/")
    endpoints = {
        "challenge_endpoint": f"{base}/v1/challenge",
        "android_attestation_endpoint": f"{base}/v1/attest/android",
        "apple_attestation_endpoint": f"{base}/v1/attest/apple",
        "apple_assertion_endpoint": f"{base}/v1/attest/apple/assertion",
    }
    if not runtime.settings.is_production:
        endpoints["debug_attestation_endpoint"] = f"{base}/v1/attest/debug"
    return {
        "issuer": runtime.settings.issuer,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "client_attestation_signing_alg_values_supported": [runtime.settings.signing_alg],
        "client_attestation_typ": "oauth-client-attestation+jwt",
        **endpoints,
    }
