"""Sessions of the built-in pages, and the browser binding of ceremonies.

A session is a row keyed by the SHA-256 of a random 32-byte token; the token travels only in a cookie
that is HttpOnly (no script reads it), SameSite=Strict (no other site's request carries it) and, in
production or behind https, Secure (never over plain http), with the ``__Host-`` prefix there (no
Domain, Path ``/``: a sibling subdomain cannot set or shadow it).

The binding cookie identifies the browser that asked for a ceremony's options (fido.ceremonies binds
the ceremony to it), so that a ceremony id seen elsewhere cannot be completed from another browser.
It lives as long as the browser session.

A recovery session (fido.recovery) is another kind, in a table and a cookie of its own: a browser that
proved the account's email address may add one passkey to that account, then decide about the other
passkeys, and nothing else. :func:`resolve_session` never returns one, so no signed-in endpoint can
accept it, whatever cookie it is sent in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from attest.server.db.engine import affected_rows
from attest.server.db.models import table_of
from fido import base64url
from fido.models import PasskeySession, RecoverySession

TOKEN_BYTES = 32


@dataclass(frozen=True)
class CookiePolicy:
    """Cookie names and the Secure flag for this deployment."""

    secure: bool

    @property
    def session_cookie(self) -> str:
        return "__Host-passkey_session" if self.secure else "passkey_session"

    @property
    def binding_cookie(self) -> str:
        return "__Host-passkey_ceremony" if self.secure else "passkey_ceremony"

    @property
    def recovery_cookie(self) -> str:
        return "__Host-passkey_recovery" if self.secure else "passkey_recovery"


@dataclass(frozen=True)
class SignedIn:
    """A valid session: who, since when, with which passkey."""

    user_id: str
    token_hash: bytes
    credential_id: bytes
    user_verified: bool
    created_at: datetime
    expires_at: datetime


def new_token() -> str:
    return base64url.encode(secrets.token_bytes(TOKEN_BYTES))


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def start_session(
    session: Session, *, user_id: str, credential_id: bytes, user_verified: bool, now: datetime, ttl: timedelta
) -> str:
    """A new session; returns the token for the cookie (only its hash is stored)."""
    token = new_token()
    session.execute(
        _INSERT_SESSION,
        {
            "token_hash": token_hash(token),
            "user_id": user_id,
            "credential_id": credential_id,
            "user_verified": user_verified,
            "created_at": now,
            "expires_at": now + ttl,
            "ended_at": None,
        },
    )
    return token


def resolve_session(session: Session, token: str | None, *, now: datetime) -> SignedIn | None:
    """The live session of ``token`` (not ended, not expired), or None."""
    if not token or len(token) > 128:
        return None
    row = session.scalars(
        select(PasskeySession).where(
            PasskeySession.token_hash == token_hash(token),
            PasskeySession.ended_at.is_(None),
            PasskeySession.expires_at > now,
        )
    ).one_or_none()
    if row is None:
        return None
    return SignedIn(
        user_id=row.user_id,
        token_hash=row.token_hash,
        credential_id=row.credential_id,
        user_verified=row.user_verified,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def end_session(session: Session, token_hash_value: bytes, *, now: datetime) -> bool:
    return affected_rows(session.execute(_END_SESSION, {"token": token_hash_value, "now": now})) == 1


# The statements of the sign-in path, built once (Core, on the table: no ORM bookkeeping per request).
_SESSIONS = table_of(PasskeySession)
_INSERT_SESSION = insert(_SESSIONS)
_END_SESSION = (
    update(_SESSIONS)
    .where(_SESSIONS.c.token_hash == bindparam("token"), _SESSIONS.c.ended_at.is_(None))
    .values(ended_at=bindparam("now"))
)


def end_sessions_of_passkey(
    session: Session, *, user_id: str, credential_id: bytes, keep: bytes | None, now: datetime
) -> int:
    """End the sessions a removed passkey started (a lost device's sessions), except ``keep``."""
    condition = [
        PasskeySession.user_id == user_id,
        PasskeySession.credential_id == credential_id,
        PasskeySession.ended_at.is_(None),
    ]
    if keep is not None:
        condition.append(PasskeySession.token_hash != keep)
    return affected_rows(session.execute(update(PasskeySession).where(*condition).values(ended_at=now)))


def end_sessions_of_account(session: Session, *, user_id: str, now: datetime) -> int:
    """End every session of the account (after a recovery: whoever else was signed in is signed out)."""
    return affected_rows(
        session.execute(
            update(PasskeySession)
            .where(PasskeySession.user_id == user_id, PasskeySession.ended_at.is_(None))
            .values(ended_at=now)
        )
    )


# --- recovery sessions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recovering:
    """A live recovery session: whose account, and the passkey it added (None until it has)."""

    user_id: str
    token_hash: bytes
    credential_id: bytes | None
    expires_at: datetime


def start_recovery_session(session: Session, *, user_id: str, now: datetime, ttl: timedelta) -> str:
    """A new recovery session for the account; returns the token for the cookie (only its hash is stored).
    The account's recovery sessions that expired are deleted."""
    session.execute(
        delete(RecoverySession).where(RecoverySession.user_id == user_id, RecoverySession.expires_at <= now)
    )
    token = new_token()
    session.add(
        RecoverySession(
            token_hash=token_hash(token),
            user_id=user_id,
            credential_id=None,
            created_at=now,
            expires_at=now + ttl,
            ended_at=None,
        )
    )
    return token


def resolve_recovery_session(session: Session, token: str | None, *, now: datetime) -> Recovering | None:
    """The live recovery session of ``token`` (not ended, not expired), or None."""
    if not token or len(token) > 128:
        return None
    row = session.scalars(
        select(RecoverySession).where(
            RecoverySession.token_hash == token_hash(token),
            RecoverySession.ended_at.is_(None),
            RecoverySession.expires_at > now,
        )
    ).one_or_none()
    if row is None:
        return None
    return Recovering(
        user_id=row.user_id, token_hash=row.token_hash, credential_id=row.credential_id, expires_at=row.expires_at
    )


def record_recovery_passkey(session: Session, recovering: Recovering, *, credential_id: bytes, now: datetime) -> bool:
    """Record the one passkey this recovery session added: one conditional UPDATE, so that of two
    concurrent registrations on the same session only one is kept (the caller rolls the other back)."""
    return (
        affected_rows(
            session.execute(
                update(RecoverySession)
                .where(
                    RecoverySession.token_hash == recovering.token_hash,
                    RecoverySession.credential_id.is_(None),
                    RecoverySession.ended_at.is_(None),
                    RecoverySession.expires_at > now,
                )
                .values(credential_id=credential_id)
            )
        )
        == 1
    )


def end_recovery_sessions(session: Session, *, user_id: str, keep: bytes | None, now: datetime) -> int:
    """End the account's recovery sessions, except ``keep`` (the one completing)."""
    condition = [RecoverySession.user_id == user_id, RecoverySession.ended_at.is_(None)]
    if keep is not None:
        condition.append(RecoverySession.token_hash != keep)
    return affected_rows(session.execute(update(RecoverySession).where(*condition).values(ended_at=now)))


def end_recovery_session(session: Session, token_hash_value: bytes, *, now: datetime) -> bool:
    return (
        affected_rows(
            session.execute(
                update(RecoverySession)
                .where(RecoverySession.token_hash == token_hash_value, RecoverySession.ended_at.is_(None))
                .values(ended_at=now)
            )
        )
        == 1
    )
