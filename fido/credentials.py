"""Accounts and their passkeys in the database: the credential records of WebAuthn Level 3 section 4,
created by registration (section 7.1 steps 26-27) and updated by every sign-in (section 7.2 step 24).

Every write that races is one conditional statement: the counter moves only forward (two concurrent
sign-ins cannot both succeed with the same or a lower counter), and removals of an account's passkeys
are serialized on the account row, so that two concurrent removals cannot leave it with none.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Update, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from attest.server.db.engine import affected_rows
from attest.server.db.models import table_of
from fido import base64url
from fido.authentication import StoredCredential, VerifiedAuthentication
from fido.errors import (
    CredentialExists,
    CredentialUnknown,
    LabelInvalid,
    LastPasskey,
    PasskeyNotFound,
    SignCountRegression,
    UsernameInvalid,
    UsernameTaken,
)
from fido.models import WebAuthnCredential, WebAuthnUser
from fido.registration import VerifiedRegistration

USER_HANDLE_BYTES = 64
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{2,63}")
#: Unicode categories refused in names people read: controls, format characters (bidirectional
#: overrides, zero-width joiners), surrogates, private use, line and paragraph separators.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def normalize_username(value: str) -> str:
    """NFKC, trimmed, lower case; 3 to 64 of ``a-z 0-9 . _ @ + -``, starting with a letter or digit."""
    text = unicodedata.normalize("NFKC", value).strip().lower()
    if not _USERNAME.fullmatch(text):
        raise UsernameInvalid("a username is 3 to 64 letters, digits and . _ @ + - (an email address works)")
    return text


def clean_text(value: str, *, what: str, max_length: int = 64, allow_empty: bool = False) -> str:
    """A display name or label: NFKC, trimmed, at most ``max_length`` characters, nothing invisible."""
    text = unicodedata.normalize("NFKC", value).strip()
    if (not text and not allow_empty) or len(text) > max_length:
        raise LabelInvalid(f"the {what} must be 1 to {max_length} characters")
    if any(unicodedata.category(character) in _INVISIBLE for character in text):
        raise LabelInvalid(f"the {what} contains control or invisible characters")
    return text


@dataclass(frozen=True)
class Account:
    id: str
    user_handle: bytes
    username: str
    display_name: str
    email: str | None
    email_verified: bool
    created_at: datetime


@dataclass(frozen=True)
class Passkey:
    """A registered passkey (credential record) and our bookkeeping on it."""

    credential_id: bytes
    user_id: str
    public_key: bytes
    sign_count: int
    transports: tuple[str, ...]
    aaguid: str
    backup_eligible: bool
    backup_state: bool
    uv_initialized: bool
    attestation_format: str
    label: str
    created_at: datetime
    last_used_at: datetime | None

    def stored(self, user_handle: bytes) -> StoredCredential:
        return StoredCredential(
            credential_id=self.credential_id,
            user_handle=user_handle,
            public_key=self.public_key,
            sign_count=self.sign_count,
            backup_eligible=self.backup_eligible,
            backup_state=self.backup_state,
        )


def new_user_handle() -> bytes:
    """Section 14.6.1: 64 random bytes, no personal data."""
    return secrets.token_bytes(USER_HANDLE_BYTES)


# --- accounts --------------------------------------------------------------------------------------


def find_account(session: Session, *, username: str | None = None, user_id: str | None = None) -> Account | None:
    if (username is None) == (user_id is None):
        raise ValueError("give exactly one of username and user_id")
    where = WebAuthnUser.username == username if username is not None else WebAuthnUser.id == user_id
    row = session.scalars(select(WebAuthnUser).where(where)).one_or_none()
    return None if row is None else _account(row)


def create_account(session: Session, *, user_handle: bytes, username: str, display_name: str, now: datetime) -> Account:
    """A new account. A username given by email address becomes the (not yet verified) recovery email."""
    if find_account(session, username=username) is not None:
        raise UsernameTaken(f"the username {username!r} is taken")
    row = WebAuthnUser(
        id=base64url.encode(secrets.token_bytes(16)),
        user_handle=user_handle,
        username=username,
        display_name=display_name,
        email=username if "@" in username else None,
        email_verified=False,
        created_at=now,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise UsernameTaken(f"the username {username!r} is taken") from None
    return _account(row)


def lock_account(session: Session, user_id: str) -> None:
    """Serialize this transaction with every other one that locks the account: a no-op UPDATE of its
    row takes the row lock on PostgreSQL and the write lock on SQLite before anything else is read."""
    session.execute(
        update(WebAuthnUser)
        .where(WebAuthnUser.id == user_id)
        .values(id=WebAuthnUser.id)
        .execution_options(synchronize_session=False)
    )


# --- passkeys --------------------------------------------------------------------------------------


def add_passkey(
    session: Session, *, user_id: str, registration: VerifiedRegistration, label: str, now: datetime
) -> Passkey:
    """Store a verified registration (section 7.1 steps 26-27). A credential ID registered before, to any
    account, is refused (step 26)."""
    if session.get(WebAuthnCredential, registration.credential_id) is not None:
        raise CredentialExists("this passkey is already registered")
    row = WebAuthnCredential(
        credential_id=registration.credential_id,
        user_id=user_id,
        public_key=registration.public_key,
        sign_count=registration.sign_count,
        transports=list(registration.transports),
        aaguid=registration.aaguid,
        backup_eligible=registration.backup_eligible,
        backup_state=registration.backup_state,
        uv_initialized=registration.user_verified,
        attestation_format=registration.attestation.fmt,
        label=label,
        created_at=now,
        last_used_at=None,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise CredentialExists("this passkey is already registered") from None
    return _passkey(row)


def passkeys_of(session: Session, user_id: str) -> list[Passkey]:
    rows = session.scalars(
        select(WebAuthnCredential).where(WebAuthnCredential.user_id == user_id).order_by(WebAuthnCredential.created_at)
    )
    return [_passkey(row) for row in rows]


def find_passkey(session: Session, credential_id: bytes) -> tuple[Passkey, Account] | None:
    """The passkey with this credential ID and the account that owns it."""
    row = session.execute(_PASSKEY_AND_ACCOUNT, {"credential": credential_id}).one_or_none()
    if row is None:
        return None
    account = Account(
        id=row.account_id,
        user_handle=row.account_user_handle,
        username=row.account_username,
        display_name=row.account_display_name,
        email=row.account_email,
        email_verified=row.account_email_verified,
        created_at=row.account_created_at,
    )
    return _passkey(row), account


def record_sign_in(session: Session, passkey: Passkey, result: VerifiedAuthentication, *, now: datetime) -> None:
    """Section 7.2 step 24: the new counter and backup state, with the condition that the counter still
    moves forward (or, for an authenticator without a counter, is still zero). A concurrent sign-in that
    got there first makes this one a counter regression. ``uvInitialized`` is left as registered (the
    step allows skipping it without an extra factor)."""
    statement = _SIGN_IN_COUNTER_FORWARD if result.sign_count else _SIGN_IN_WITHOUT_COUNTER
    parameters = {
        "credential": passkey.credential_id,
        "new_count": result.sign_count,
        "new_backup_state": result.backup_state,
        "now": now,
    }
    if affected_rows(session.execute(statement, parameters)) == 1:
        return
    if session.get(WebAuthnCredential, passkey.credential_id) is None:
        raise CredentialUnknown("the passkey was removed while signing in")
    raise SignCountRegression(
        f"the signature counter {result.sign_count} was overtaken by a concurrent sign-in: "
        "the authenticator may have been cloned"
    )


# The statements of the sign-in path, built once (Core, on the tables: no ORM bookkeeping per request).
_CREDENTIALS = table_of(WebAuthnCredential)
_USERS = table_of(WebAuthnUser)
_PASSKEY_AND_ACCOUNT = (
    select(_CREDENTIALS, *(column.label(f"account_{column.name}") for column in _USERS.c))
    .join_from(_CREDENTIALS, _USERS, _USERS.c.id == _CREDENTIALS.c.user_id)
    .where(_CREDENTIALS.c.credential_id == bindparam("credential"))
)


def _sign_in_update(counter_still_valid: ColumnElement[bool]) -> Update:
    return (
        update(_CREDENTIALS)
        .where(_CREDENTIALS.c.credential_id == bindparam("credential"), counter_still_valid)
        .values(
            sign_count=bindparam("new_count"), backup_state=bindparam("new_backup_state"), last_used_at=bindparam("now")
        )
    )


_SIGN_IN_COUNTER_FORWARD = _sign_in_update(_CREDENTIALS.c.sign_count < bindparam("new_count"))
_SIGN_IN_WITHOUT_COUNTER = _sign_in_update(_CREDENTIALS.c.sign_count == 0)


def rename_passkey(session: Session, *, user_id: str, credential_id: bytes, label: str) -> Passkey:
    changed = affected_rows(
        session.execute(
            update(WebAuthnCredential)
            .where(WebAuthnCredential.credential_id == credential_id, WebAuthnCredential.user_id == user_id)
            .values(label=label)
            .execution_options(synchronize_session=False)
        )
    )
    if changed != 1:
        raise PasskeyNotFound("you have no passkey with this credential ID")
    row = session.get(WebAuthnCredential, credential_id, populate_existing=True)
    assert row is not None
    return _passkey(row)


def remove_passkey(session: Session, *, user_id: str, credential_id: bytes) -> None:
    """Remove one of the account's passkeys. The last one goes only when a verified recovery email
    exists; the account row is locked first so that concurrent removals are counted one after another."""
    lock_account(session, user_id)
    owned = session.scalar(
        select(func.count())
        .select_from(WebAuthnCredential)
        .where(WebAuthnCredential.user_id == user_id, WebAuthnCredential.credential_id == credential_id)
    )
    if not owned:
        raise PasskeyNotFound("you have no passkey with this credential ID")
    remaining = session.scalar(
        select(func.count()).select_from(WebAuthnCredential).where(WebAuthnCredential.user_id == user_id)
    )
    account = find_account(session, user_id=user_id)
    assert account is not None
    if remaining == 1 and not (account.email and account.email_verified):
        raise LastPasskey("this is your last passkey: add another one, or verify a recovery email, before removing it")
    session.execute(
        delete(WebAuthnCredential).where(
            WebAuthnCredential.credential_id == credential_id, WebAuthnCredential.user_id == user_id
        )
    )


def _account(row: WebAuthnUser) -> Account:
    return Account(
        id=row.id,
        user_handle=row.user_handle,
        username=row.username,
        display_name=row.display_name,
        email=row.email,
        email_verified=row.email_verified,
        created_at=row.created_at,
    )


def _passkey(row: WebAuthnCredential | Row[Any]) -> Passkey:
    return Passkey(
        credential_id=row.credential_id,
        user_id=row.user_id,
        public_key=row.public_key,
        sign_count=row.sign_count,
        transports=tuple(row.transports),
        aaguid=row.aaguid,
        backup_eligible=row.backup_eligible,
        backup_state=row.backup_state,
        uv_initialized=row.uv_initialized,
        attestation_format=row.attestation_format,
        label=row.label,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )
