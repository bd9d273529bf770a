"""A FastAPI dependency that authenticates the client instance of a request.

Example::

    policy = ClientAttestationPolicy(audience="https://as.example.com", jwks=..., replay_store=...)
    require_client = RequireClientAttestation(policy, clock=lambda: datetime.now(UTC))
    app = FastAPI()
    install_problem_handler(app)

    @app.post("/token")
    def token(client: Annotated[ValidatedClient, Depends(require_client)]) -> dict[str, str]: ...

Rejections become ``401`` responses (``503`` when the attester's keys are unreachable) with a
``WWW-Authenticate`` challenge carrying the OAuth error code (RFC 6750 section 3 and draft
section 7.4; the ``DPoP`` scheme for DPoP errors, RFC 9449 section 7.1), an RFC 9457
``application/problem+json`` body with the stable ``code`` and the OAuth ``error``, a fresh
challenge in ``OAuth-Client-Attestation-Challenge`` for ``use_attestation_challenge`` (draft
section 6.1) and a fresh ``DPoP-Nonce`` for ``use_dpop_nonce`` (RFC 9449 section 8).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from attest.client_auth.errors import (
    USE_ATTESTATION_CHALLENGE,
    USE_DPOP_NONCE,
    ClientAuthError,
    DpopError,
    SubMismatch,
)
from attest.client_auth.policy import ClientAttestationPolicy
from attest.client_auth.validator import (
    CHALLENGE_HEADER,
    DPOP_NONCE_HEADER,
    AttestationRequest,
    ValidatedClient,
    validate_client_attestation,
)
from attest.tokens.clock import Clock

#: Makes a fresh challenge (or DPoP nonce) for an error response, given the current time.
FreshValue = Callable[[datetime], str]

# RFC 6749 section 5.2: error_description is limited to these characters.
_NOT_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_FORM = "application/x-www-form-urlencoded"


class ClientAttestationRejected(Exception):
    """Raised by :class:`RequireClientAttestation`; rendered by :func:`install_problem_handler`."""

    def __init__(self, error: ClientAuthError, headers: Mapping[str, str]) -> None:
        super().__init__(str(error))
        self.error = error
        self.headers = dict(headers)


def problem_response(error: ClientAuthError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The RFC 9457 response for ``error`` with its ``WWW-Authenticate`` challenge."""
    status = 503 if error.server_fault else 401
    description = _NOT_DESCRIPTION.sub("'", error.message)[:300]
    all_headers = {"Cache-Control": "no-store", **(headers or {})}
    if not error.server_fault:
        scheme = "DPoP" if isinstance(error, DpopError) else "Bearer"
        all_headers["WWW-Authenticate"] = f'{scheme} error="{error.oauth_error}", error_description="{description}"'
    body = {
        "type": "about:blank",
        "title": "Client attestation rejected",
        "status": status,
        "detail": error.message,
        "code": error.code,
        "error": error.oauth_error,
        "error_description": description,
    }
    return JSONResponse(body, status_code=status, headers=all_headers, media_type="application/problem+json")


def install_problem_handler(app: FastAPI) -> None:
    """Render :class:`ClientAttestationRejected` as :func:`problem_response`."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ClientAttestationRejected)
        return problem_response(exc.error, exc.headers)

    app.add_exception_handler(ClientAttestationRejected, handle)


class RequireClientAttestation:
    """The dependency: reads the attestation headers, the form ``client_id`` and a ``DPoP``
    access token from the request, validates them in a worker thread (JWKS fetches and database
    writes block), and returns the :class:`ValidatedClient`.

    Args:
        policy: what to accept.
        clock: the current time.
        challenge_issuer: makes the fresh challenge sent with ``use_attestation_challenge``.
        dpop_nonce_issuer: makes the fresh nonce sent with ``use_dpop_nonce``.
        public_url: the URL the client addressed (DPoP ``htu``) when a proxy rewrites it;
            defaults to the URL the application sees.
    """

    def __init__(
        self,
        policy: ClientAttestationPolicy,
        *,
        clock: Clock,
        challenge_issuer: FreshValue | None = None,
        dpop_nonce_issuer: FreshValue | None = None,
        public_url: Callable[[Request], str] | None = None,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.challenge_issuer = challenge_issuer
        self.dpop_nonce_issuer = dpop_nonce_issuer
        self.public_url = public_url

    async def __call__(self, request: Request) -> ValidatedClient:
        """Validate ``request``; raises :class:`ClientAttestationRejected`."""
        now = self.clock()
        client_id: str | None = None
        if request.headers.get("content-type", "").split(";")[0].strip().lower() == _FORM:
            # Parsed here (Starlette keeps the body for the endpoint), no multipart dependency needed.
            values = [
                value
                for name, value in parse_qsl((await request.body()).decode("utf-8", "replace"))
                if name == "client_id"
            ]
            if len(values) > 1:
                # RFC 6749 section 3.2: request parameters must not be repeated.
                raise ClientAttestationRejected(SubMismatch("client_id is sent more than once"), {})
            client_id = values[0] if values else None
        access_token = None
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "dpop" and credentials.strip():
            access_token = credentials.strip()
        attestation_request = AttestationRequest.from_headers(
            request.headers.items(),
            method=request.method,
            url=self.public_url(request) if self.public_url is not None else str(request.url),
            client_id=client_id,
            access_token=access_token,
        )
        try:
            return await run_in_threadpool(validate_client_attestation, attestation_request, self.policy, now=now)
        except ClientAuthError as error:
            raise ClientAttestationRejected(error, self._fresh_headers(error, now)) from error

    def _fresh_headers(self, error: ClientAuthError, now: datetime) -> dict[str, str]:
        headers: dict[str, str] = {}
        if error.oauth_error == USE_ATTESTATION_CHALLENGE and self.challenge_issuer is not None:
            headers[CHALLENGE_HEADER] = self.challenge_issuer(now)
        if error.oauth_error == USE_DPOP_NONCE and self.dpop_nonce_issuer is not None:
            headers[DPOP_NONCE_HEADER] = self.dpop_nonce_issuer(now)
        return headers
