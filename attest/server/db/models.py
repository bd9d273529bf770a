"""Tables of the attestation service. All state lives here, so that several worker processes or hosts
behind a load balancer behave as one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from attest.server.db.types import UtcDateTime


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), dict[str, Any]: JSON()}


def table_of(model: type[Base]) -> Table:
    """The model's table, for Core statements built once at import (the request path's hot statements)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Client(Base):
    """A registered client (an app): its platform and what its attestations must show."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))  # android | apple | debug
    #: The platform policy, validated by attest.server.clients.ClientConfig on the way in and out.
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    token_ttl_seconds: Mapped[int] = mapped_column(Integer)
    #: scrypt hash of a debug client's secret (debug platform only).
    debug_secret_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]


class Challenge(Base):
    """A single-use server challenge. Only its SHA-256 is stored."""

    __tablename__ = "challenges"

    challenge_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    consumed_at: Mapped[datetime | None]


class AppAttestKey(Base):
    """An Apple App Attest key, attested once, then used for assertions with a strictly increasing counter."""

    __tablename__ = "app_attest_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # base64 of SHA-256(public key)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(String(255))
    environment: Mapped[str] = mapped_column(String(16))
    public_key_der: Mapped[bytes] = mapped_column(LargeBinary)
    counter: Mapped[int] = mapped_column(BigInteger)
    receipt: Mapped[bytes] = mapped_column(LargeBinary)
    risk_metric: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SigningKeyRecord(Base):
    """One of our token signing keys; the private key is encrypted at rest (AES-256-GCM, AAD = kid)."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # next | active | retired
    encrypted_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    #: Encrypted with a generated development key: production refuses to start while one is in use.
    development: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    activated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Every verdict and security event: what, for which client, and the error code. No secrets,
    no device identifiers."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(255))
    platform: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))  # valid | invalid | info
    code: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    #: Whose event it was, by our own random account id (passkey events); never a device identifier.
    subject: Mapped[str | None] = mapped_column(String(64))


# The passkey tables (fido/models.py) are declared on this Base: importing them here puts them in
# Base.metadata wherever the metadata is used (Alembic, tests), so one migration history covers all.
from fido import models as _fido_models  # noqa: E402, F401


class RateLimitCounter(Base):
    """One fixed-window request counter (``scope:identifier:window``), shared by every worker."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(index=True)
