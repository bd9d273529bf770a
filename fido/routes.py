"""The passkey HTTP API and the built-in pages (sign up, sign in, manage passkeys).

API (JSON; errors are problem+json with a stable ``code``, see attest/server/problems.py):

* ``POST /v1/passkeys/registration/options`` ``{username, display_name}`` -> ``{ceremony_id, options}``:
  a new account for a new username, a passkey for the signed-in user's account, or, with a recovery
  session (fido/recovery_routes.py) and no sign-in, the one passkey that recovery adds to its account.
* ``POST /v1/passkeys/registration/verify`` ``{ceremony_id, credential, label?}`` -> 201
  ``{credential_id}`` (and, for a new account, a session cookie).
* ``POST /v1/passkeys/authentication/options`` ``{username?}`` -> ``{ceremony_id, options}``; without a
  username, a discoverable-credential ceremony (modal, or autofill with conditional mediation).
* ``POST /v1/passkeys/authentication/verify`` ``{ceremony_id, credential}`` -> ``{login_token, user_id}``
  and a session cookie.
* Signed in: ``GET /v1/passkeys``; ``PATCH /v1/passkeys/{credential_id}`` ``{label}``;
  ``POST /v1/passkeys/{credential_id}/removal/options`` -> ``{ceremony_id, options}`` then
  ``DELETE /v1/passkeys/{credential_id}`` ``{ceremony_id, credential}``: a removal is confirmed by a fresh
  user-verified assertion made for exactly that removal. ``GET /v1/session``, ``DELETE /v1/session``.
* ``GET /.well-known/webauthn``: Related Origin Requests (WebAuthn Level 3 section 5.11), when several
  web origins are configured.

Every options response sets the browser-binding cookie its ceremony is bound to. Every passkey event is
audited (attest.server.audit) with our account id as subject.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from attest.errors import AttestationError
from attest.server.routes.dependencies import limit_per_address
from attest.server.runtime import Runtime
from attest.server.verdict_transaction import FailureAction, VerdictTransaction, verdict_transaction
from fido import base64url
from fido.authentication import (
    AuthenticationResponse,
    VerifiedAuthentication,
    authentication_options,
    parse_authentication_response,
    verify_authentication,
)
from fido.ceremonies import Ceremony, CeremonyKind, consume_ceremony, start_ceremony, use_up_ceremony
from fido.credentials import (
    Account,
    Passkey,
    add_passkey,
    clean_text,
    create_account,
    find_account,
    find_passkey,
    new_user_handle,
    normalize_username,
    passkeys_of,
    record_sign_in,
    remove_passkey,
    rename_passkey,
)
from fido.errors import (
    AccountMismatch,
    ChallengeUnknown,
    CredentialNotAllowed,
    CredentialUnknown,
    LastPasskey,
    PasskeyNotFound,
    RecoveryPasskeyAdded,
    RecoverySessionRequired,
    SessionRequired,
    SignCountRegression,
    UnknownUser,
    UsernameTaken,
)
from fido.login_token import issue_login_token
from fido.recovery import queue_passkey_added_mail, recovery_passkey_added
from fido.registration import (
    CredentialDescriptor,
    UserEntity,
    VerifiedRegistration,
    parse_registration_response,
    registration_options,
    verify_registration,
)
from fido.schemas import (
    AccountView,
    AuthenticationOptionsRequest,
    AuthenticationVerifyRequest,
    CeremonyOptions,
    LoginResponse,
    PasskeyList,
    PasskeyView,
    RegistrationOptionsRequest,
    RegistrationResult,
    RegistrationVerifyRequest,
    RenameRequest,
)
from fido.sessions import (
    Recovering,
    SignedIn,
    end_session,
    end_sessions_of_passkey,
    new_token,
    start_session,
    token_hash,
)
from fido.web import (
    Config,
    PasskeyConfig,
    RuntimeDep,
    SignedInUser,
    audit_event,
    no_store,
    recovering_of,
    set_cookie,
    signed_in_of,
)

router = APIRouter(tags=["passkeys"])
log = logging.getLogger("fido")

PAGES = Path(__file__).resolve().parent / "pages"
#: The page files served, by URL name: nothing else in the directory is reachable.
_PAGES = {
    "sign-up": "sign-up.html",
    "sign-in": "sign-in.html",
    "manage": "manage.html",
    "recover": "recover.html",
    "verify-email": "verify-email.html",
}
_ASSETS = {"passkeys.js": "text/javascript", "passkeys.css": "text/css"}
#: Pages load their script and style from this origin only; nothing inline, no frames.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def _binding(request: Request, response: Response, config: PasskeyConfig) -> str:
    """The browser-binding value of this browser, set as a cookie when it has none yet."""
    value = request.cookies.get(config.cookies.binding_cookie)
    if value is None or base64url.decode(value, max_bytes=32) is None:
        value = new_token()
        set_cookie(response, config, config.cookies.binding_cookie, value, None)
    return value


def _credential_id(value: str) -> bytes:
    raw = base64url.decode(value, max_bytes=1023)
    if not raw:
        raise PasskeyNotFound("you have no passkey with this credential ID")
    return raw


def _descriptors(passkeys: list[Passkey]) -> list[CredentialDescriptor]:
    return [CredentialDescriptor(id=passkey.credential_id, transports=passkey.transports) for passkey in passkeys]


# --- registration ------------------------------------------------------------------------------------


@router.post("/v1/passkeys/registration/options", response_model=CeremonyOptions)
def post_registration_options(
    body: RegistrationOptionsRequest, request: Request, response: Response, runtime: RuntimeDep, config: Config
) -> CeremonyOptions:
    """Creation options for a new account's first passkey, for another passkey of the signed-in user
    (whose passkeys are excluded, so that one authenticator is not registered twice), or for the passkey a
    recovery session adds (user verification required whatever the settings say: it will be the
    account's way in)."""
    limit_per_address(request, runtime, "passkey")
    settings, now = runtime.settings, runtime.now()
    username = normalize_username(body.username)
    signed_in = signed_in_of(request, runtime, config)
    recovering = recovering_of(request, runtime, config) if signed_in is None else None
    binding = _binding(request, response, config)
    with runtime.sessions.begin() as session:
        if signed_in is not None or recovering is not None:
            account, kind = _account_adding_a_passkey(session, username, signed_in, recovering)
            user = UserEntity(id=account.user_handle, name=account.username, display_name=account.display_name)
            exclude = _descriptors(passkeys_of(session, account.id))
            ceremony = start_ceremony(
                session,
                kind=kind,
                binding=binding,
                now=now,
                ttl=settings.webauthn_ceremony_ttl,
                require_user_verification=kind is CeremonyKind.RECOVERY or settings.webauthn_require_user_verification,
                user_id=account.id,
            )
        else:
            if find_account(session, username=username) is not None:
                raise UsernameTaken(f"the username {username!r} is taken; sign in to add a passkey to it")
            display_name = clean_text(body.display_name or username, what="display name")
            user = UserEntity(id=new_user_handle(), name=username, display_name=display_name)
            exclude = []
            ceremony = start_ceremony(
                session,
                kind=CeremonyKind.REGISTRATION,
                binding=binding,
                now=now,
                ttl=settings.webauthn_ceremony_ttl,
                require_user_verification=settings.webauthn_require_user_verification,
                username=username,
                display_name=display_name,
                user_handle=user.id,
            )
    no_store(response)
    options = registration_options(
        rp=config.rp,
        user=user,
        challenge=ceremony.challenge,
        exclude=exclude,
        require_user_verification=ceremony.require_user_verification,
        attestation="direct" if config.attestation.require_trusted else "none",
        timeout=settings.webauthn_ceremony_ttl,
    )
    return CeremonyOptions(ceremony_id=ceremony.ceremony_id, options=options)


def _account_adding_a_passkey(
    session: Session, username: str, signed_in: SignedIn | None, recovering: Recovering | None
) -> tuple[Account, CeremonyKind]:
    """The account that the signed-in user, or else the recovery session, adds a passkey to, and the
    ceremony kind for it; the username asked for must be that account's."""
    if signed_in is not None:
        account = find_account(session, user_id=signed_in.user_id)
        assert account is not None  # sessions are deleted with their account
        if account.username != username:
            raise AccountMismatch(f"you are signed in as {account.username!r}; passkeys are added to that account")
        return account, CeremonyKind.REGISTRATION
    assert recovering is not None
    account = find_account(session, user_id=recovering.user_id)
    assert account is not None  # recovery sessions are deleted with their account
    if account.username != username:
        raise AccountMismatch(f"this recovery is for {account.username!r}; passkeys are added to that account")
    if recovering.credential_id is not None:
        raise RecoveryPasskeyAdded("this recovery already added a passkey; sign in with it")
    return account, CeremonyKind.RECOVERY


@router.post("/v1/passkeys/registration/verify", response_model=RegistrationResult, status_code=201)
def post_registration_verify(
    body: RegistrationVerifyRequest, request: Request, response: Response, runtime: RuntimeDep, config: Config
) -> RegistrationResult:
    limit_per_address(request, runtime, "passkey")
    settings, now = runtime.settings, runtime.now()
    audit = audit_event(request, runtime, "passkey.register")
    credential = parse_registration_response(body.credential)
    label = clean_text(body.label, what="label") if body.label is not None else None
    signed_in = signed_in_of(request, runtime, config)
    recovering = recovering_of(request, runtime, config) if signed_in is None else None
    kind = CeremonyKind.RECOVERY if recovering is not None else CeremonyKind.REGISTRATION
    ceremony = _consume(request, runtime, config, body.ceremony_id, kind)
    try:
        if recovering is not None:
            if recovering.user_id != ceremony.user_id:
                raise RecoverySessionRequired("adding this passkey needs the recovery session that started it")
        elif ceremony.user_id is not None and (signed_in is None or signed_in.user_id != ceremony.user_id):
            raise SessionRequired("adding a passkey needs the session that started the ceremony")
        verified = verify_registration(
            credential,
            challenge=ceremony.challenge,
            rp=config.rp,
            require_user_verification=ceremony.require_user_verification,
            policy=config.attestation,
            at=now,
        )
        with runtime.sessions.begin() as session:
            account = _registering_account(session, ceremony, now)
            passkey = add_passkey(
                session,
                user_id=account.id,
                registration=verified,
                label=label or _default_label(verified, now),
                now=now,
            )
            token: str | None = None
            if recovering is not None:
                # Every other session ends; this browser is signed in with the new passkey (fido.recovery).
                token = recovery_passkey_added(
                    session,
                    runtime.mail,
                    recovering=recovering,
                    account=account,
                    passkey=passkey,
                    user_verified=verified.user_verified,
                    now=now,
                    session_ttl=settings.passkey_session_ttl,
                    rp_name=settings.rp_name,
                )
            elif ceremony.user_id is None:
                token = start_session(
                    session,
                    user_id=account.id,
                    credential_id=passkey.credential_id,
                    user_verified=verified.user_verified,
                    now=now,
                    ttl=settings.passkey_session_ttl,
                )
            else:
                queue_passkey_added_mail(
                    session, runtime.mail, account=account, now=now, recovered=False, rp_name=settings.rp_name
                )
            # The audit events are part of the registration: stored with it, or not at all.
            audit.record_in(session, "valid", subject=account.id)
            recovered = audit_event(request, runtime, "recovery.passkey_added") if recovering is not None else None
            if recovered is not None:
                recovered.record_in(session, "valid", subject=account.id)
    except AttestationError as error:
        audit("invalid", error.code, subject=ceremony.user_id)
        raise
    audit.publish("valid", subject=account.id)
    if recovered is not None:
        recovered.publish("valid", subject=account.id)
    if token is not None:
        set_cookie(response, config, config.cookies.session_cookie, token, _seconds(settings.passkey_session_ttl))
    no_store(response)
    return RegistrationResult(credential_id=base64url.encode(passkey.credential_id))


def _registering_account(session: Session, ceremony: Ceremony, now: datetime) -> Account:
    if ceremony.user_id is not None:
        account = find_account(session, user_id=ceremony.user_id)
        if account is None:
            raise SessionRequired("the account was deleted during the ceremony")
        return account
    # A registration ceremony started without a session always names the new account.
    assert ceremony.username is not None
    assert ceremony.display_name is not None
    assert ceremony.user_handle is not None
    return create_account(
        session,
        user_handle=ceremony.user_handle,
        username=ceremony.username,
        display_name=ceremony.display_name,
        now=now,
    )


def _default_label(verified: VerifiedRegistration, now: datetime) -> str:
    if verified.backup_eligible:
        kind = "Synced passkey"
    elif verified.authenticator_attachment == "cross-platform" or set(verified.transports) & {"usb", "nfc", "ble"}:
        kind = "Security key"
    else:
        kind = "Device passkey"
    return f"{kind}, added {now.date().isoformat()}"


# --- sign-in ------------------------------------------------------------------------------------------


@router.post("/v1/passkeys/authentication/options", response_model=CeremonyOptions)
def post_authentication_options(
    body: AuthenticationOptionsRequest, request: Request, response: Response, runtime: RuntimeDep, config: Config
) -> CeremonyOptions:
    """Request options: username-first (allowCredentials lists the account's passkeys) or, without a
    username, discoverable (empty allowCredentials; the page may use conditional mediation)."""
    limit_per_address(request, runtime, "passkey")
    settings, now = runtime.settings, runtime.now()
    binding = _binding(request, response, config)
    allow: list[CredentialDescriptor] = []
    user_id = None
    with runtime.sessions.begin() as session:
        if body.username is not None:
            username = normalize_username(body.username)
            account = find_account(session, username=username)
            allow = _descriptors(passkeys_of(session, account.id)) if account is not None else []
            if account is None or not allow:
                raise UnknownUser(f"no account with passkeys has the username {username!r}")
            user_id = account.id
        ceremony = start_ceremony(
            session,
            kind=CeremonyKind.AUTHENTICATION,
            binding=binding,
            now=now,
            ttl=settings.webauthn_ceremony_ttl,
            require_user_verification=settings.webauthn_require_user_verification,
            user_id=user_id,
        )
    no_store(response)
    options = authentication_options(
        rp=config.rp,
        challenge=ceremony.challenge,
        allow=allow,
        require_user_verification=ceremony.require_user_verification,
        timeout=settings.webauthn_ceremony_ttl,
    )
    return CeremonyOptions(ceremony_id=ceremony.ceremony_id, options=options)


@router.post("/v1/passkeys/authentication/verify", response_model=LoginResponse)
def post_authentication_verify(
    body: AuthenticationVerifyRequest, request: Request, response: Response, runtime: RuntimeDep, config: Config
) -> LoginResponse:
    """Verify the assertion, then start a session and sign the login result for the authorization server."""
    limit_per_address(request, runtime, "passkey")
    settings, now = runtime.settings, runtime.now()
    audit = audit_event(request, runtime, "passkey.sign_in")
    credential = parse_authentication_response(body.credential)
    previous = request.cookies.get(config.cookies.session_cookie)
    with verdict_transaction(runtime.sessions.begin, audit, now=now) as transaction:
        ceremony = _consume_in(transaction, request, config, body.ceremony_id, CeremonyKind.AUTHENTICATION)
        transaction.subject = ceremony.user_id
        transaction.on_failure(_suspected_clone(request, runtime, transaction))
        passkey, account = _assertion_passkey(transaction.database, credential.credential_id)
        transaction.subject = account.id
        verified = _verify_assertion(transaction.database, config, credential, passkey, account, ceremony)
        record_sign_in(transaction.database, passkey, verified, now=now)
        if previous:
            end_session(transaction.database, token_hash(previous), now=now)
        token = start_session(
            transaction.database,
            user_id=account.id,
            credential_id=passkey.credential_id,
            user_verified=verified.user_verified,
            now=now,
            ttl=settings.passkey_session_ttl,
        )
        backup_state = (
            audit_event(request, runtime, "passkey.backup_state_changed") if verified.backup_state_changed else None
        )
        if backup_state is not None:
            backup_state.record_in(transaction.database, "info", subject=account.id)
    login_token = issue_login_token(
        key=runtime.keys.ring().active(),
        issuer=settings.issuer,
        user_id=account.id,
        credential_id=passkey.credential_id,
        backup_eligible=verified.backup_eligible,
        auth_time=now,
        ttl=settings.login_token_ttl,
        now=now,
    )
    if backup_state is not None:
        backup_state.publish("info", subject=account.id)
    set_cookie(response, config, config.cookies.session_cookie, token, _seconds(settings.passkey_session_ttl))
    no_store(response)
    return LoginResponse(login_token=login_token, user_id=account.id)


def _assertion_passkey(session: Session, credential_id: bytes) -> tuple[Passkey, Account]:
    found = find_passkey(session, credential_id)
    if found is None:
        raise CredentialUnknown("this passkey is not registered here (it may have been removed)")
    return found


def _verify_assertion(
    session: Session,
    config: PasskeyConfig,
    credential: AuthenticationResponse,
    passkey: Passkey,
    account: Account,
    ceremony: Ceremony,
) -> VerifiedAuthentication:
    """Section 7.2 with the ceremony's account (when it identified one) and its allowCredentials."""
    allowed: list[bytes] = []
    expected_handle = None
    if ceremony.user_id is not None:
        identified = find_account(session, user_id=ceremony.user_id)
        allowed = [item.credential_id for item in passkeys_of(session, ceremony.user_id)]
        if identified is None or identified.id != account.id:
            raise CredentialNotAllowed("the passkey used belongs to another account than the one signing in")
        expected_handle = identified.user_handle
    return verify_authentication(
        credential,
        credential=passkey.stored(account.user_handle),
        challenge=ceremony.challenge,
        rp=config.rp,
        require_user_verification=ceremony.require_user_verification,
        allowed_credentials=allowed,
        expected_user_handle=expected_handle,
    )


def _suspected_clone(
    request: Request, runtime: Runtime, transaction: VerdictTransaction[Session]
) -> FailureAction[Session]:
    """A failure action: a signature counter that went backwards is also audited as a suspected clone."""

    def record_suspected_clone(session: Session, error: AttestationError) -> None:
        if isinstance(error, SignCountRegression):
            log.warning("possible cloned authenticator: account=%s reason=%s", transaction.subject, error.message)
            clone = audit_event(request, runtime, "passkey.clone_suspected")
            clone.record_in(session, "invalid", error.code, subject=transaction.subject)
            clone.publish("invalid", error.code, subject=transaction.subject)

    return record_suspected_clone


def _consume_in(
    transaction: VerdictTransaction[Session],
    request: Request,
    config: PasskeyConfig,
    ceremony_id: str,
    kind: CeremonyKind,
) -> Ceremony:
    """Consume the ceremony in the request's transaction; should a later check fail, it is used up all the same."""
    ceremony = consume_ceremony(
        transaction.database,
        ceremony_id,
        kind=kind,
        binding=request.cookies.get(config.cookies.binding_cookie),
        now=transaction.now,
    )
    transaction.on_failure(lambda session, _error: use_up_ceremony(session, ceremony_id, now=transaction.now))
    return ceremony


def _consume(
    request: Request, runtime: Runtime, config: PasskeyConfig, ceremony_id: str, kind: CeremonyKind
) -> Ceremony:
    with runtime.sessions.begin() as session:
        return consume_ceremony(
            session,
            ceremony_id,
            kind=kind,
            binding=request.cookies.get(config.cookies.binding_cookie),
            now=runtime.now(),
        )


# --- the signed-in user's passkeys ------------------------------------------------------------------


@router.get("/v1/passkeys", response_model=PasskeyList)
def get_passkeys(response: Response, runtime: RuntimeDep, signed_in: SignedInUser) -> PasskeyList:
    with runtime.sessions() as session:
        account = find_account(session, user_id=signed_in.user_id)
        passkeys = passkeys_of(session, signed_in.user_id)
    assert account is not None
    no_store(response)
    return PasskeyList(account=_account_view(account), passkeys=[_passkey_view(passkey) for passkey in passkeys])


@router.patch("/v1/passkeys/{credential_id}", response_model=PasskeyView)
def patch_passkey(
    credential_id: str,
    body: RenameRequest,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    signed_in: SignedInUser,
) -> PasskeyView:
    label = clean_text(body.label, what="label")
    audit = audit_event(request, runtime, "passkey.rename")
    with runtime.sessions.begin() as session:
        passkey = rename_passkey(
            session, user_id=signed_in.user_id, credential_id=_credential_id(credential_id), label=label
        )
        audit.record_in(session, "info", subject=signed_in.user_id)
    audit.publish("info", subject=signed_in.user_id)
    no_store(response)
    return _passkey_view(passkey)


@router.post("/v1/passkeys/{credential_id}/removal/options", response_model=CeremonyOptions)
def post_removal_options(
    credential_id: str,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    config: Config,
    signed_in: SignedInUser,
) -> CeremonyOptions:
    """A sign-in ceremony that confirms the removal of exactly this passkey, with user verification
    required whatever the settings say, by any of the user's passkeys."""
    target = _credential_id(credential_id)
    binding = _binding(request, response, config)
    now = runtime.now()
    with runtime.sessions.begin() as session:
        account = find_account(session, user_id=signed_in.user_id)
        passkeys = passkeys_of(session, signed_in.user_id)
        assert account is not None
        if target not in {passkey.credential_id for passkey in passkeys}:
            raise PasskeyNotFound("you have no passkey with this credential ID")
        if len(passkeys) == 1 and not (account.email and account.email_verified):
            raise LastPasskey(
                "this is your last passkey: add another one, or verify a recovery email, before removing it"
            )
        ceremony = start_ceremony(
            session,
            kind=CeremonyKind.REMOVAL,
            binding=binding,
            now=now,
            ttl=runtime.settings.webauthn_ceremony_ttl,
            require_user_verification=True,
            user_id=account.id,
            credential_id=target,
        )
    no_store(response)
    options = authentication_options(
        rp=config.rp,
        challenge=ceremony.challenge,
        allow=_descriptors(passkeys),
        require_user_verification=True,
        timeout=runtime.settings.webauthn_ceremony_ttl,
    )
    return CeremonyOptions(ceremony_id=ceremony.ceremony_id, options=options)


@router.delete("/v1/passkeys/{credential_id}", status_code=204)
def delete_passkey(
    credential_id: str,
    body: AuthenticationVerifyRequest,
    request: Request,
    runtime: RuntimeDep,
    config: Config,
    signed_in: SignedInUser,
) -> Response:
    """Remove a passkey, confirmed by the assertion of its removal ceremony; sessions the removed passkey
    started elsewhere end with it."""
    target = _credential_id(credential_id)
    now = runtime.now()
    audit = audit_event(request, runtime, "passkey.remove")
    credential = parse_authentication_response(body.credential)
    with verdict_transaction(runtime.sessions.begin, audit, now=now) as transaction:
        transaction.subject = signed_in.user_id
        ceremony = _consume_in(transaction, request, config, body.ceremony_id, CeremonyKind.REMOVAL)
        transaction.on_failure(_suspected_clone(request, runtime, transaction))
        if ceremony.user_id != signed_in.user_id or ceremony.credential_id != target:
            raise ChallengeUnknown("this ceremony confirms the removal of another passkey")
        passkey, account = _assertion_passkey(transaction.database, credential.credential_id)
        verified = _verify_assertion(transaction.database, config, credential, passkey, account, ceremony)
        record_sign_in(transaction.database, passkey, verified, now=now)
        remove_passkey(transaction.database, user_id=signed_in.user_id, credential_id=target)
        end_sessions_of_passkey(
            transaction.database, user_id=signed_in.user_id, credential_id=target, keep=signed_in.token_hash, now=now
        )
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


# --- the session --------------------------------------------------------------------------------------


@router.get("/v1/session", response_model=AccountView)
def get_session(response: Response, runtime: RuntimeDep, signed_in: SignedInUser) -> AccountView:
    with runtime.sessions() as session:
        account = find_account(session, user_id=signed_in.user_id)
    assert account is not None
    no_store(response)
    return _account_view(account)


@router.delete("/v1/session", status_code=204)
def delete_session(request: Request, runtime: RuntimeDep, config: Config) -> Response:
    """Sign out: the session ends on the server, and its cookie is cleared."""
    token = request.cookies.get(config.cookies.session_cookie)
    if token:
        audit = audit_event(request, runtime, "session.end")
        with runtime.sessions.begin() as session:
            ended = end_session(session, token_hash(token), now=runtime.now())
            if ended:
                audit.record_in(session, "info")
        if ended:
            audit.publish("info")
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.delete_cookie(
        config.cookies.session_cookie, path="/", secure=config.cookies.secure, httponly=True, samesite="strict"
    )
    return response


# --- Related Origin Requests and the pages ----------------------------------------------------------


@router.get("/.well-known/webauthn")
def related_origins(response: Response, config: Config) -> dict[str, list[str]]:
    document = config.rp.related_origins()
    if document is None:
        raise _not_found()
    response.headers["Cache-Control"] = "public, max-age=3600"
    return document


@router.get("/passkeys", include_in_schema=False)
def pages_root() -> RedirectResponse:
    return RedirectResponse("/passkeys/sign-in", status_code=303)


@router.get("/passkeys/assets/{name}", include_in_schema=False)
def page_asset(name: str) -> FileResponse:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise _not_found()
    return FileResponse(PAGES / name, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get("/passkeys/{page}", include_in_schema=False)
def page(page: str) -> FileResponse:
    file = _PAGES.get(page)
    if file is None:
        raise _not_found()
    return FileResponse(
        PAGES / file,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


def _not_found() -> HTTPException:
    return HTTPException(status_code=404, detail="not found")


def _account_view(account: Account) -> AccountView:
    return AccountView(
        user_id=account.id,
        username=account.username,
        display_name=account.display_name,
        email=account.email,
        email_verified=account.email_verified,
    )


def _passkey_view(passkey: Passkey) -> PasskeyView:
    return PasskeyView(
        credential_id=base64url.encode(passkey.credential_id),
        label=passkey.label,
        created_at=passkey.created_at,
        last_used_at=passkey.last_used_at,
        transports=list(passkey.transports),
        aaguid=passkey.aaguid,
        synced=passkey.backup_eligible,
        backed_up=passkey.backup_state,
        attestation_format=passkey.attestation_format,
    )


def _seconds(ttl: timedelta) -> int:
    return int(ttl.total_seconds())
