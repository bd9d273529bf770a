"""Account recovery: a user who lost every passkey gets back in by proving that they read the account's
verified email address, and adds a new passkey.

1. :func:`start_recovery`: for an account with this verified address, a one-time secret
   (fido.email_secrets: a 256-bit token for the link, an 8-digit code; keyed hashes only; 15 minutes;
   five code attempts) is stored and its mail queued in the same transaction (fido.mail.outbox). For any
   other address nothing is stored, but the same secret generation, rendering and sealing is done, and
   the HTTP layer answers identically (fido/recovery_routes.py).
2. :func:`redeem_recovery_code` or :func:`redeem_recovery_token` consume the secret; :func:`open_recovery_session`
   turns it into a recovery session (fido.sessions), valid for :data:`RECOVERY_SESSION_TTL`, that can only
   register one passkey for that account.
3. :func:`recovery_passkey_added`, in the transaction that stores the new passkey: every other session of
   the account ends, a normal session starts for the new passkey, and "a new passkey was added to your
   account" is mailed to the verified address.
4. :func:`complete_recovery`: the user chooses whether the other passkeys (maybe in a thief's hands) go.

Account recovery by email is only as strong as the mailbox: NIST SP 800-63B section 6.1.2.3 allows a
lost authenticator to be replaced with a confirmation code sent to an address of record, at a lower
assurance than the passkey it replaces. Every step is audited and the notification goes to that address.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fido.credentials import Account, Passkey, find_account, lock_account, passkeys_of
from fido.email_secrets import (
    Outcome,
    Purpose,
    Redeemed,
    SecretHasher,
    new_secret,
    redeem_code,
    redeem_token,
    store_secret,
)
from fido.errors import RecoveryPasskeyAdded, RecoveryPasskeyMissing
from fido.mail.message import render
from fido.mail.outbox import Mailer
from fido.models import WebAuthnCredential, WebAuthnUser
from fido.sessions import (
    Recovering,
    end_recovery_session,
    end_recovery_sessions,
    end_sessions_of_account,
    end_sessions_of_passkey,
    record_recovery_passkey,
    start_recovery_session,
    start_session,
)

#: How long a recovery code and link work (the issue's requirement; NIST SP 800-63B section 5.1.3.2
#: suggests 10 minutes for out-of-band secrets, a mail may take a few more to arrive).
RECOVERY_TTL = timedelta(minutes=15)
#: How long a verified recovery may take to register its passkey and decide about the others.
RECOVERY_SESSION_TTL = timedelta(minutes=10)
#: The sealing of a mail that is not sent (an unknown address) still uses a syntactically valid id.
_UNSENT_MESSAGE_ID = "0" * 32


def find_recoverable_account(session: Session, email: str) -> Account | None:
    """The account whose *verified* address is ``email`` (normalized); unverified addresses recover nothing."""
    row = session.scalars(
        select(WebAuthnUser).where(WebAuthnUser.email == email, WebAuthnUser.email_verified)
    ).one_or_none()
    return None if row is None else find_account(session, user_id=row.id)


def start_recovery(
    session: Session, hasher: SecretHasher, mailer: Mailer, *, email: str, now: datetime, rp_name: str
) -> str | None:
    """Issue a recovery secret and queue its mail when ``email`` recovers an account; returns that account's
    id, for the audit log only: it must not reach the requester. The same computation runs either way;
    only the two rows written differ."""
    secret = new_secret(hasher, Purpose.RECOVERY, now=now, ttl=RECOVERY_TTL)
    account = find_recoverable_account(session, email)
    message = render(
        "recovery",
        to=email,
        rp_name=rp_name,
        username=account.username if account is not None else email,
        code=secret.code,
        link=mailer.link("/passkeys/recover", token=secret.token),
        minutes=int(RECOVERY_TTL.total_seconds() // 60),
    )
    if account is None:
        mailer.cipher.seal(_UNSENT_MESSAGE_ID, message)  # the work enqueue() would do, discarded
        return None
    store_secret(session, secret, user_id=account.id, email=email)
    mailer.enqueue(session, message, now=now, not_after=secret.expires_at)
    return account.id


def redeem_recovery_code(
    session: Session, hasher: SecretHasher, *, email: str, code: str, now: datetime
) -> Redeemed | Outcome:
    """Consume the live recovery secret of the account whose verified address is ``email``, if ``code`` is
    its code (one of five attempts). Unknown addresses compute an HMAC like known ones."""
    account = find_recoverable_account(session, email)
    return redeem_code(
        session,
        hasher,
        purpose=Purpose.RECOVERY,
        user_id=account.id if account is not None else None,
        code=code,
        now=now,
    )


def redeem_recovery_token(session: Session, hasher: SecretHasher, *, token: str, now: datetime) -> Redeemed | Outcome:
    """Consume the recovery secret whose link carries ``token``."""
    return redeem_token(session, hasher, purpose=Purpose.RECOVERY, token=token, now=now)


def open_recovery_session(session: Session, redeemed: Redeemed, *, now: datetime) -> tuple[str, Account] | Outcome:
    """A recovery session for the account of a consumed secret, if the secret's address is still the
    account's verified address (a changed address supersedes its secrets; this is the second check)."""
    account = find_account(session, user_id=redeemed.user_id)
    if account is None or not account.email_verified or account.email != redeemed.email:
        return Outcome.SUPERSEDED
    token = start_recovery_session(session, user_id=account.id, now=now, ttl=RECOVERY_SESSION_TTL)
    return token, account


def recovery_passkey_added(
    session: Session,
    mailer: Mailer,
    *,
    recovering: Recovering,
    account: Account,
    passkey: Passkey,
    user_verified: bool,
    now: datetime,
    session_ttl: timedelta,
    rp_name: str,
) -> str:
    """After the recovery's passkey was stored (same transaction): record it on the recovery session (only
    one per recovery), end every other session of the account, start a session for the new passkey
    (returned: the cookie's token) and queue the notification."""
    if not record_recovery_passkey(session, recovering, credential_id=passkey.credential_id, now=now):
        raise RecoveryPasskeyAdded("this recovery already added a passkey; sign in with it")
    end_sessions_of_account(session, user_id=account.id, now=now)
    end_recovery_sessions(session, user_id=account.id, keep=recovering.token_hash, now=now)
    token = start_session(
        session,
        user_id=account.id,
        credential_id=passkey.credential_id,
        user_verified=user_verified,
        now=now,
        ttl=session_ttl,
    )
    queue_passkey_added_mail(session, mailer, account=account, now=now, recovered=True, rp_name=rp_name)
    return token


def queue_passkey_added_mail(
    session: Session, mailer: Mailer, *, account: Account, now: datetime, recovered: bool, rp_name: str
) -> None:
    """ "A new passkey was added to your account", to the verified address (none without one)."""
    if account.email is None or not account.email_verified:
        return
    mailer.enqueue(
        session,
        render(
            "passkey_added",
            to=account.email,
            rp_name=rp_name,
            username=account.username,
            when=now.strftime("%Y-%m-%d %H:%M UTC"),
            recovered=recovered,
            recover_link=mailer.link("/passkeys/recover"),
        ),
        now=now,
    )


def complete_recovery(session: Session, *, recovering: Recovering, remove_other_passkeys: bool, now: datetime) -> int:
    """End the recovery session; first, if asked, remove every passkey of the account but the one it added
    (and end the sessions they started). Returns how many were removed."""
    new_credential = recovering.credential_id
    if new_credential is None:
        raise RecoveryPasskeyMissing("add a new passkey first; then choose what happens to the others")
    lock_account(session, recovering.user_id)
    passkeys = passkeys_of(session, recovering.user_id)
    if new_credential not in {passkey.credential_id for passkey in passkeys}:
        raise RecoveryPasskeyMissing("the passkey this recovery added was removed; start a new recovery")
    removed = 0
    if remove_other_passkeys:
        for passkey in passkeys:
            if passkey.credential_id == new_credential:
                continue
            session.execute(
                delete(WebAuthnCredential).where(
                    WebAuthnCredential.credential_id == passkey.credential_id,
                    WebAuthnCredential.user_id == recovering.user_id,
                )
            )
            end_sessions_of_passkey(
                session, user_id=recovering.user_id, credential_id=passkey.credential_id, keep=None, now=now
            )
            removed += 1
    end_recovery_session(session, recovering.token_hash, now=now)
    return removed
