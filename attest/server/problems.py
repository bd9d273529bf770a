"""RFC 9457 problem details for every error the service answers with.

``type`` is ``urn:attest:problem:<code>``; ``code`` repeats the stable error code of the
:class:`~attest.errors.AttestationError` raised; ``detail`` is its human message (never a stack
trace or a secret). Verification failures are 403, unreadable input 400, oversized bodies 413,
unavailable dependencies 503.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from attest.android.play_integrity.errors import IntegrityRemoteUnavailable
from attest.errors import AttestationError, ConfigurationError, InputError, InputTooLarge, RevocationListUnavailable
from attest.server import errors as service_errors
from attest.server.rate_limit import RateLimited
from fido import errors as fido_errors

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("attest.server")

_STATUS_BY_CLASS: tuple[tuple[type[AttestationError], int], ...] = (
    (InputTooLarge, 413),
    (service_errors.RequestTooLarge, 413),
    (InputError, 400),
    (service_errors.ClientUnknown, 401),
    (service_errors.DebugSecretInvalid, 401),
    (service_errors.MetricsUnauthorized, 401),
    (service_errors.ClientPlatformMismatch, 400),
    (service_errors.ClientInvalid, 400),
    (service_errors.ChallengeUnknown, 400),
    (service_errors.ChallengeExpired, 400),
    (service_errors.ChallengeUsed, 400),
    (service_errors.AppAttestKeyUnknown, 400),
    (service_errors.AppAttestKeyExists, 409),
    (service_errors.AppAttestKeyRevoked, 403),
    # passkeys (fido/): unreadable responses 400, unknown passkeys 401, conflicts 409; other failed
    # WebAuthn checks (origin, signature, counter, ...) are verification failures, 403.
    (fido_errors.ResponseMalformed, 400),
    (fido_errors.ChallengeUnknown, 400),
    (fido_errors.ChallengeExpired, 400),
    (fido_errors.ChallengeUsed, 400),
    (fido_errors.CredentialUnknown, 401),
    (fido_errors.CredentialExists, 409),
    (fido_errors.SessionRequired, 401),
    (fido_errors.UsernameInvalid, 400),
    (fido_errors.LabelInvalid, 400),
    (fido_errors.UnknownUser, 404),
    (fido_errors.PasskeyNotFound, 404),
    (fido_errors.UsernameTaken, 409),
    (fido_errors.AccountMismatch, 409),
    (fido_errors.LastPasskey, 409),
    # email verification and recovery (fido/recovery_routes.py): unreadable addresses, unknown, expired and
    # used links 400; a wrong code is a verification failure (403, below); conflicts 409.
    (fido_errors.EmailInvalid, 400),
    (fido_errors.EmailMissing, 400),
    (fido_errors.EmailNotRequested, 400),
    (fido_errors.EmailTokenInvalid, 400),
    (fido_errors.EmailSecretExpired, 400),
    (fido_errors.EmailSecretUsed, 400),
    (fido_errors.EmailAlreadyVerified, 409),
    (fido_errors.EmailTaken, 409),
    (fido_errors.MailDeliveryFailed, 503),  # never raised by a request; here so it could not be a 403
    (fido_errors.RecoveryTokenInvalid, 400),
    (fido_errors.RecoveryExpired, 400),
    (fido_errors.RecoveryUsed, 400),
    (fido_errors.RecoverySessionRequired, 401),
    (fido_errors.RecoveryPasskeyAdded, 409),
    (fido_errors.RecoveryPasskeyMissing, 409),
    (service_errors.ServiceUnavailable, 503),
    (RateLimited, 429),
    (RevocationListUnavailable, 503),
    (IntegrityRemoteUnavailable, 503),
    (ConfigurationError, 500),
    (service_errors.ServiceError, 503),
)


def status_for(error: AttestationError) -> int:
    """The HTTP status of an error: the first matching class above; other verification failures 403."""
    for cls, status in _STATUS_BY_CLASS:
        if isinstance(error, cls):
            return status
    return 403


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"urn:attest:problem:{code}",
        "title": title or code,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers={"Cache-Control": "no-store", **(headers or {})}
    )


def _headers_for(error: AttestationError) -> Mapping[str, str] | None:
    """Retry-After for a rate limit (RFC 9110 section 10.2.3); the challenge for a missing bearer token
    (RFC 6750 section 3)."""
    if isinstance(error, RateLimited):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, service_errors.MetricsUnauthorized):
        return {"WWW-Authenticate": 'Bearer realm="metrics"'}
    return None


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(AttestationError)
    async def attestation_error(request: Request, error: AttestationError) -> JSONResponse:
        status = status_for(error)
        if status >= 500:
            log.warning("request failed: %s", error.code)
        headers = _headers_for(error)
        return problem(status, error.code, error.message, headers=headers, request_id=_request_id(request))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        fields = []
        for item in error.errors()[:10]:
            location = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            fields.append(f"{location or 'body'}: {item.get('msg', 'invalid')}")
        return problem(
            400, "request.malformed", "; ".join(fields) or "malformed request", request_id=_request_id(request)
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "request.not_found", 405: "request.method_not_allowed", 413: "request.too_large"}.get(
            error.status_code, "request.error"
        )
        return problem(
            error.status_code, code, str(error.detail), headers=error.headers, request_id=_request_id(request)
        )

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, error: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", type(error.orig).__name__ if error.orig else "unknown")
        return problem(
            503,
            "service.unavailable",
            "the database is unavailable; nothing was written",
            request_id=_request_id(request),
        )

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, error: DBAPIError) -> JSONResponse:
        log.error("database error: %s", type(error.orig).__name__ if error.orig else "unknown")
        return problem(
            503,
            "service.unavailable",
            "the database refused the request; nothing was written",
            request_id=_request_id(request),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem(500, "internal", "internal error", request_id=_request_id(request))


def _request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None
