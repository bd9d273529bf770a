"""The HTTP API of email verification and account recovery (JSON; errors are problem+json with a stable
``code``, see attest/server/problems.py).

Email verification (fido.email_verification):

* ``POST /v1/email/verification`` ``{email?}`` (signed in) -> 202 ``{email, expires_in}``: mails a code and a
  link proving ``email`` (default: the account's current address).
* ``POST /v1/email/verification/confirm`` ``{code}`` (signed in) or ``{token}`` (from the link) -> 200
  ``{email, email_verified}``.

Recovery (fido.recovery):

* ``POST /v1/recovery/start`` ``{email}`` -> 202 with one body for every address (:data:`RECOVERY_STARTED`).
* ``POST /v1/recovery/verify`` ``{email, code}`` or ``{token}`` -> 200 :class:`RecoveryView` and the recovery
  session cookie, which lets ``POST /v1/passkeys/registration/options|verify`` (fido/routes.py) add one
  passkey to that account and nothing else.
* ``GET /v1/recovery/session`` -> :class:`RecoveryView`.
* ``POST /v1/recovery/complete`` ``{remove_other_passkeys}`` (after the passkey was added) -> 200
  ``{removed_passkeys}``; the recovery session ends.

Who may learn what. ``/v1/recovery/start`` answers every well-formed address with the same status, headers
and body, and no sooner than ``ATTEST_RECOVERY_RESPONSE_FLOOR`` (250 ms) after the request arrived. Both
mechanisms are used: the same work is done for unknown addresses where it is cheap (secret generation,
keyed hashing, template rendering, sealing; fido.recovery.start_recovery), but the database work cannot
be the same (a known address writes two rows), so the answer is held back to a fixed minimum duration,
which hides that difference as long as the work takes less than the floor. The padding is an
``asyncio.sleep`` outside the worker thread, so it holds no thread and no database connection. The
code form of ``/v1/recovery/verify`` gets the same floor and one answer for every failure
(``recovery.code_invalid``). Rate limits count per client address and per email address (its SHA-256
only, attest.server.rate_limit), known or not, so that a 429 says nothing about the address either.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from attest.errors import AttestationError
from attest.server.rate_limit import Limit
from attest.server.routes.dependencies import client_address, runtime_of
from attest.server.runtime import Runtime
from fido.credentials import find_account, passkeys_of
from fido.email_secrets import MAX_CODE_ATTEMPTS, Outcome, Purpose, Redeemed, redeem_code, redeem_token
from fido.email_verification import VERIFICATION_TTL, apply_verified_email, normalize_email, request_verification
from fido.errors import (
    EmailAlreadyVerified,
    EmailCodeInvalid,
    EmailCodeLocked,
    EmailMissing,
    EmailNotRequested,
    EmailSecretExpired,
    EmailSecretUsed,
    EmailTokenInvalid,
    RecoveryCodeInvalid,
    RecoveryExpired,
    RecoverySessionRequired,
    RecoveryTokenInvalid,
    RecoveryUsed,
    SessionRequired,
)
from fido.recovery import (
    RECOVERY_TTL,
    complete_recovery,
    open_recovery_session,
    redeem_recovery_code,
    redeem_recovery_token,
    start_recovery,
)
from fido.schemas import (
    EmailConfirmRequest,
    EmailVerificationRequest,
    EmailVerificationStarted,
    EmailVerified,
    RecoveryCompleted,
    RecoveryCompleteRequest,
    RecoveryStarted,
    RecoveryStartRequest,
    RecoveryVerifyRequest,
    RecoveryView,
)
from fido.sessions import Recovering, SignedIn, resolve_recovery_session
from fido.web import Config, PasskeyConfig, audit_event, recovering_of, set_cookie, signed_in_of, signed_in_user

router = APIRouter(tags=["recovery"])

RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
SignedInUser = Annotated[SignedIn, Depends(signed_in_user)]
NO_STORE = {"Cache-Control": "no-store"}

#: The one answer of ``POST /v1/recovery/start``, for every address.
RECOVERY_STARTED = RecoveryStarted(
    status="accepted",
    detail="If an account has this verified email address, a recovery code and link are on their way to it.",
    expires_in=int(RECOVERY_TTL.total_seconds()),
)


# --- rate limits and timing -----------------------------------------------------------------------------


def _per_hour(runtime: Runtime, scope: str, identifier: str, requests: int) -> None:
    if requests > 0:
        runtime.rate_limiter.hit(Limit(scope, requests, timedelta(hours=1)), identifier, now=runtime.now())


def _limit_address(request: Request, runtime: Runtime, scope: str) -> None:
    """Per client address, per endpoint (``ATTEST_RATE_LIMIT_RECOVERY_PER_ADDRESS`` an hour)."""
    _per_hour(runtime, f"{scope}:address", client_address(request), runtime.settings.rate_limit_recovery_per_address)


def _limit_email(runtime: Runtime, scope: str, email: str, *, factor: int = 1) -> None:
    """Per email address (``ATTEST_RATE_LIMIT_MAIL_PER_EMAIL`` an hour, times ``factor``)."""
    _per_hour(runtime, f"{scope}:email", email, runtime.settings.rate_limit_mail_per_email * factor)


async def _hold_until(started: float, floor: timedelta) -> None:
    """Sleep until ``floor`` has passed since ``started`` (time.monotonic()), without holding a thread."""
    remaining = floor.total_seconds() - (time.monotonic() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)


# --- email verification -----------------------------------------------------------------------------------


@router.post("/v1/email/verification", response_model=EmailVerificationStarted, status_code=202)
def post_email_verification(
    body: EmailVerificationRequest, request: Request, response: Response, runtime: RuntimeDep, signed_in: SignedInUser
) -> EmailVerificationStarted:
    """Mail a code and a link that prove ``email``. Whether another account verified the address is not
    said here (that would tell a signed-in stranger which addresses have accounts)."""
    settings, now = runtime.settings, runtime.now()
    _limit_address(request, runtime, "email.verification")
    with runtime.sessions() as session:
        account = find_account(session, user_id=signed_in.user_id)
    assert account is not None  # sessions are deleted with their account
    if body.email is not None:
        email = normalize_email(body.email)
    elif account.email is not None:
        email = account.email
    else:
        raise EmailMissing("this account has no email address yet; send one")
    if account.email_verified and account.email == email:
        raise EmailAlreadyVerified("this address is already verified for your account")
    _limit_email(runtime, "email.verification", email)
    _limit_email(runtime, "email.verification.account", account.id)
    audit = audit_event(request, runtime, "email.verification")
    with runtime.sessions.begin() as session:
        request_verification(
            session,
            runtime.secret_hasher,
            runtime.mail,
            account=account,
            email=email,
            now=now,
            rp_name=settings.rp_name,
        )
        audit.record_in(session, "info", subject=account.id)
    audit.publish("info", subject=account.id)
    response.headers.update(NO_STORE)
    return EmailVerificationStarted(email=email, expires_in=int(VERIFICATION_TTL.total_seconds()))


@router.post("/v1/email/verification/confirm", response_model=EmailVerified)
def post_email_verification_confirm(
    body: EmailConfirmRequest, request: Request, response: Response, runtime: RuntimeDep, config: Config
) -> EmailVerified:
    """Redeem the code (signed in: it names no account by itself) or the link's token, and make the address
    the account's verified address."""
    settings, now = runtime.settings, runtime.now()
    audit = audit_event(request, runtime, "email.verify")
    _limit_address(request, runtime, "email.confirm")
    user_id: str | None = None
    if body.code is not None:
        signed_in = signed_in_of(request, runtime, config)
        if signed_in is None:
            raise SessionRequired("sign in to enter the code, or open the link in the mail")
        user_id = signed_in.user_id
    try:
        with runtime.sessions.begin() as session:
            result: Redeemed | Outcome
            if body.code is not None:
                result = redeem_code(
                    session,
                    runtime.secret_hasher,
                    purpose=Purpose.VERIFICATION,
                    user_id=user_id,
                    code=body.code,
                    now=now,
                )
            else:
                assert body.token is not None
                result = redeem_token(
                    session, runtime.secret_hasher, purpose=Purpose.VERIFICATION, token=body.token, now=now
                )
            # An Outcome is returned, not raised, so that the attempt it counted is committed here, with
            # the audit event of the failure.
            if isinstance(result, Redeemed):
                account = apply_verified_email(
                    session, runtime.mail, redeemed=result, now=now, rp_name=settings.rp_name
                )
                audit.record_in(session, "valid", subject=account.id)
                failure = None
            else:
                failure = _email_error(result, by_code=body.code is not None)
                audit.record_in(session, "invalid", failure.code, subject=user_id)
    except AttestationError as error:
        audit("invalid", error.code, subject=user_id)
        raise
    if failure is not None:
        audit.publish("invalid", failure.code, subject=user_id)
        raise failure
    audit.publish("valid", subject=account.id)
    response.headers.update(NO_STORE)
    assert account.email is not None
    return EmailVerified(email=account.email, email_verified=account.email_verified)


def _email_error(outcome: Outcome, *, by_code: bool) -> AttestationError:
    if outcome is Outcome.MISMATCH:
        return EmailCodeInvalid("the code is wrong; check the latest mail")
    if outcome is Outcome.LOCKED:
        return EmailCodeLocked(f"{MAX_CODE_ATTEMPTS} wrong codes were tried; request a new mail, or open its link")
    if outcome is Outcome.EXPIRED:
        return EmailSecretExpired("this code or link expired; request a new mail")
    if outcome is Outcome.USED:
        return EmailSecretUsed("this code or link was already used")
    if by_code:
        return EmailNotRequested("no verification is pending for your account; request one")
    if outcome is Outcome.SUPERSEDED:
        return EmailTokenInvalid("a newer verification mail replaced this link; use the latest one")
    return EmailTokenInvalid("this link is not valid; request a new mail")


# --- recovery ----------------------------------------------------------------------------------------------


@router.post("/v1/recovery/start", response_model=RecoveryStarted, status_code=202)
async def post_recovery_start(body: RecoveryStartRequest, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Mail a recovery code and link if ``email`` is an account's verified address. The answer is the
    same, in status, body and time, whether or not it is (see the module docstring)."""
    started = time.monotonic()
    try:
        await run_in_threadpool(_start_recovery, body.email, request, runtime)
    finally:
        await _hold_until(started, runtime.settings.recovery_response_floor)
    return JSONResponse(RECOVERY_STARTED.model_dump(), status_code=202, headers=NO_STORE)


def _start_recovery(email_text: str, request: Request, runtime: Runtime) -> None:
    _limit_address(request, runtime, "recovery.start")
    email = normalize_email(email_text)
    _limit_email(runtime, "recovery.start", email)
    audit = audit_event(request, runtime, "recovery.start")
    with runtime.sessions.begin() as session:
        user_id = start_recovery(
            session,
            runtime.secret_hasher,
            runtime.mail,
            email=email,
            now=runtime.now(),
            rp_name=runtime.settings.rp_name,
        )
        # The same audit row (and metric) either way; only the subject tells the audit log whose it was.
        audit.record_in(session, "info", subject=user_id)
    audit.publish("info", subject=user_id)


@router.post("/v1/recovery/verify", response_model=RecoveryView)
async def post_recovery_verify(
    body: RecoveryVerifyRequest, request: Request, runtime: RuntimeDep, config: Config
) -> JSONResponse:
    """Redeem a recovery code (with its email address) or link, and open a recovery session."""
    started = time.monotonic()
    try:
        token, view = await run_in_threadpool(_verify_recovery, body, request, runtime)
    finally:
        if body.token is None:  # the code form names an address: its timing must not tell
            await _hold_until(started, runtime.settings.recovery_response_floor)
    response = JSONResponse(view.model_dump(mode="json"), headers=NO_STORE)
    set_cookie(response, config, config.cookies.recovery_cookie, token, int(_remaining(view.expires_at, runtime)))
    return response


def _verify_recovery(body: RecoveryVerifyRequest, request: Request, runtime: Runtime) -> tuple[str, RecoveryView]:
    now = runtime.now()
    audit = audit_event(request, runtime, "recovery.verify")
    _limit_address(request, runtime, "recovery.verify")
    failure: AttestationError | None = None
    try:
        email, code = None, None
        if body.token is None:
            assert body.email is not None
            assert body.code is not None
            email, code = normalize_email(body.email), body.code
            # Code attempts per address and hour: five per mail, for as many mails as may be sent.
            _limit_email(runtime, "recovery.verify", email, factor=MAX_CODE_ATTEMPTS)
        with runtime.sessions.begin() as session:
            # An Outcome is returned, not raised, so that the attempt it counted is committed here, with the
            # audit event of the failure; a recovery session opens with the audit event of the success.
            if email is None or code is None:
                assert body.token is not None
                result = redeem_recovery_token(session, runtime.secret_hasher, token=body.token, now=now)
            else:
                result = redeem_recovery_code(session, runtime.secret_hasher, email=email, code=code, now=now)
            opened = open_recovery_session(session, result, now=now) if isinstance(result, Redeemed) else result
            if isinstance(opened, Outcome):
                failure = _token_error(opened) if body.token is not None else _code_error(opened)
                audit.record_in(session, "invalid", failure.code)
            else:
                audit.record_in(session, "valid", subject=opened[1].id)
    except AttestationError as error:
        audit("invalid", error.code)
        raise
    if failure is not None:
        audit.publish("invalid", failure.code)
        raise failure
    assert not isinstance(opened, Outcome)
    token, account = opened
    audit.publish("valid", subject=account.id)
    with runtime.sessions() as session:
        recovering = resolve_recovery_session(session, token, now=now)
        assert recovering is not None  # just started
        view = _view(session, recovering)
    return token, view


def _code_error(outcome: Outcome) -> AttestationError:
    return RecoveryCodeInvalid(
        "this code does not open a recovery for this address: check the address and the latest mail, "
        "or request a new one",
        reason=outcome.value,
    )


def _token_error(outcome: Outcome) -> AttestationError:
    if outcome is Outcome.EXPIRED:
        return RecoveryExpired("this recovery link expired; request a new one")
    if outcome is Outcome.USED:
        return RecoveryUsed("this recovery link was already used; request a new one")
    if outcome is Outcome.SUPERSEDED:
        return RecoveryTokenInvalid("a newer recovery mail replaced this link; use the latest one")
    return RecoveryTokenInvalid("this recovery link is not valid; request a new one")


def recovering_user(request: Request, runtime: RuntimeDep, config: Config) -> Recovering:
    recovering = recovering_of(request, runtime, config)
    if recovering is None:
        raise RecoverySessionRequired("verify a recovery code or link first (or the recovery expired)")
    return recovering


RecoveringUser = Annotated[Recovering, Depends(recovering_user)]


@router.get("/v1/recovery/session", response_model=RecoveryView)
def get_recovery_session(response: Response, runtime: RuntimeDep, recovering: RecoveringUser) -> RecoveryView:
    with runtime.sessions() as session:
        view = _view(session, recovering)
    response.headers.update(NO_STORE)
    return view


@router.post("/v1/recovery/complete", response_model=RecoveryCompleted)
def post_recovery_complete(
    body: RecoveryCompleteRequest, request: Request, runtime: RuntimeDep, config: Config, recovering: RecoveringUser
) -> JSONResponse:
    """The user's choice about the account's other passkeys, once the recovery added its own; the recovery
    session ends (its cookie is cleared)."""
    audit = audit_event(request, runtime, "recovery.complete")
    removal = audit_event(request, runtime, "recovery.removed_other_passkeys")
    try:
        with runtime.sessions.begin() as session:
            removed = complete_recovery(
                session, recovering=recovering, remove_other_passkeys=body.remove_other_passkeys, now=runtime.now()
            )
            audit.record_in(session, "valid", subject=recovering.user_id)
            if removed:
                removal.record_in(session, "info", subject=recovering.user_id)
    except AttestationError as error:
        audit("invalid", error.code, subject=recovering.user_id)
        raise
    audit.publish("valid", subject=recovering.user_id)
    if removed:
        removal.publish("info", subject=recovering.user_id)
    response = JSONResponse(RecoveryCompleted(removed_passkeys=removed).model_dump(), headers=NO_STORE)
    _clear_recovery_cookie(response, config)
    return response


def _clear_recovery_cookie(response: Response, config: PasskeyConfig) -> None:
    response.delete_cookie(
        config.cookies.recovery_cookie, path="/", secure=config.cookies.secure, httponly=True, samesite="strict"
    )


def _view(session: Session, recovering: Recovering) -> RecoveryView:
    account = find_account(session, user_id=recovering.user_id)
    assert account is not None  # recovery sessions are deleted with their account
    others = [p for p in passkeys_of(session, account.id) if p.credential_id != recovering.credential_id]
    return RecoveryView(
        user_id=account.id,
        username=account.username,
        display_name=account.display_name,
        passkey_added=recovering.credential_id is not None,
        other_passkeys=len(others),
        expires_at=recovering.expires_at,
    )


def _remaining(expires_at: datetime, runtime: Runtime) -> float:
    return max(1.0, (expires_at - runtime.now()).total_seconds())
