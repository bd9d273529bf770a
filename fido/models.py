"""Tables of the passkey service, on the service's one declarative ``Base`` so that a single Alembic
history (attest/server/db/migrations) covers every table. Timestamps are aware UTC
(:class:`attest.server.db.types.UtcDateTime`, the default for ``datetime`` on ``Base``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from attest.server.db.models import Base


class WebAuthnUser(Base):
    """An account. ``user_handle`` is the WebAuthn user.id: 64 random bytes, never personal data
    (WebAuthn Level 3 section 14.6.1); ``id`` is our own random identifier (the login token's ``sub``)."""

    __tablename__ = "webauthn_users"
    __table_args__ = (
        UniqueConstraint("user_handle", name="uq_webauthn_users_user_handle"),
        UniqueConstraint("username", name="uq_webauthn_users_username"),
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
    kind: Mapped[str] = mapped_column(String(16))  # registration | authentication | removal
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
