"""Tables of the passkey service, on the service's one declarative ``Base`` so that a single Alembic
history (attest/server/db/migrations) covers every table. Timestamps are aware UTC
(:class:`attest.server.db.types.UtcDateTime`, the default for ``datetime`` on ``Base``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from attest.server.db.models import Base


class WebAuthnUser(Base):
    """An account. ``user_handle`` is the WebAuthn user.id: 64 random bytes, never personal data
    (WebAuthn Level 3 section 14.6.1); ``id`` is our own random identifier (the login token's ``sub``)."""

    __tablename__ = "webauthn_users"
    __table_args__ = (
        UniqueConstraint("user_handle", name="uq_webauthn_users_user_handle"),
        UniqueConstraint("username", name="uq_webauthn_users_username"),
        # One verified address recovers exactly one account (fido.email_verification refuses a second).
        Index(
            "uq_webauthn_users_verified_email",
            "email",
            unique=True,
            postgresql_where=text("email_verified"),
            sqlite_where=text("email_verified"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64))
    #: Normalized (fido.credentials.normalize_username): unique, what users type to sign in.
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(64))
    #: The recovery address; only a verified one lets the last passkey be removed.
    email: Mapped[str | None] = mapped_column(String(255))
    email_verified: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class WebAuthnCredential(Base):
    """A passkey: the credential record of WebAuthn Level 3 section 4, plus our label and times."""

    __tablename__ = "webauthn_credentials"

    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("webauthn_users.id", ondelete="CASCADE"), index=True)
    #: The COSE_Key as the authenticator encoded it.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger)
    transports: Mapped[list[str]] = mapped_column(JSON)
    aaguid: Mapped[str] = mapped_column(String(36))
    backup_eligible: Mapped[bool] = mapped_column(Boolean)
    backup_state: Mapped[bool] = mapped_column(Boolean)
    uv_initialized: Mapped[bool] = mapped_column(Boolean)
    attestation_format: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class WebAuthnCeremony(Base):
    """A started registration, sign-in or removal ceremony: its single-use challenge, what it is for, and
    the browser session it belongs to. Consumed by one conditional UPDATE (fido.ceremonies)."""

    __tablename__ = "webauthn_ceremonies"

    ceremony_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # registration | authentication | removal | recovery
    challenge: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: SHA-256 of the browser-binding cookie of the browser that started the ceremony.
    binding_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    require_user_verification: Mapped[bool] = mapped_column(Boolean)
    #: The account: for sign-in (username-first), adding a passkey, or removal.
    user_id: Mapped[str | None] = mapped_column(ForeignKey("webauthn_users.id", ondelete="CASCADE"))
    #: A new account, created when the registration verifies.
    username: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(64))
    user_handle: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    #: The passkey a removal ceremony confirms the removal of.
    credential_id: Mapped[bytes | None] = mapped_column(LargeBinary(1023))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    consumed_at: Mapped[datetime | None]


class PasskeySession(Base):
    """A signed-in browser. Only the SHA-256 of the session cookie's value is stored."""

    __tablename__ = "passkey_sessions"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("webauthn_users.id", ondelete="CASCADE"), index=True)
    #: The passkey that signed in (or was registered) to start the session.
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023))
    user_verified: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]


class EmailSecret(Base):
    """A one-time secret mailed to an address (fido.email_secrets): a long token for the link and a short
    code for typing, for a recovery or an email verification. Only keyed hashes of them are stored;
    single use, short-lived, at most five code attempts."""

    __tablename__ = "email_secrets"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_email_secrets_token_hash"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # recovery | verification
    user_id: Mapped[str] = mapped_column(ForeignKey("webauthn_users.id", ondelete="CASCADE"), index=True)
    #: The address the secret was mailed to (for a verification: the address being proved).
    email: Mapped[str] = mapped_column(String(255))
    #: HMAC-SHA256 of the link's token under the service's secret-hashing key.
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: HMAC-SHA256 of (id, purpose, code) under the same key.
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    code_attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]
    #: A newer secret of the same purpose for the same account replaced this one.
    superseded_at: Mapped[datetime | None]


class RecoverySession(Base):
    """A browser that proved an account's email address by a recovery secret: it may add one passkey to
    that account, then choose whether the other passkeys go (fido.recovery). Nothing else accepts it;
    only the SHA-256 of its cookie value is stored."""

    __tablename__ = "recovery_sessions"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("webauthn_users.id", ondelete="CASCADE"), index=True)
    #: The passkey this recovery added (None until it has).
    credential_id: Mapped[bytes | None] = mapped_column(LargeBinary(1023))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class OutboxEmail(Base):
    """A mail waiting to be sent, written in the transaction that decided to send it (the transactional
    outbox) and sent by fido.mail.outbox. The message is sealed (AES-256-GCM, ``message_id`` as associated
    data) and erased once sent or past ``not_after``."""

    __tablename__ = "email_outbox"
    __table_args__ = (UniqueConstraint("message_id", name="uq_email_outbox_message_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    #: Random; the associated data of the sealed payload and the local part of the Message-ID header.
    message_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # recovery | verification | passkey_added | email_changed
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    #: Not sent after this instant (a recovery mail is useless once its secret expired).
    not_after: Mapped[datetime]
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    #: A sender claimed the mail until then (its lease); another may take it over afterwards.
    lease_until: Mapped[datetime | None]
    #: The claiming sender's random token: only it may mark the mail sent or failed.
    claim: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None]
    #: Refused for good (a 5xx reply), undecryptable, or expired: kept, never retried.
    failed_at: Mapped[datetime | None]
    #: Why the last attempt failed: an SMTP reply code or an exception class, never message content.
    last_error: Mapped[str | None] = mapped_column(String(128))
