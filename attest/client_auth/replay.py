"""Seen ``jti`` values of PoP and DPoP proofs (draft section 10.7 and section 12.1; RFC 9449
section 11.1).

A sliding window: the validator first rejects proofs whose ``iat`` is outside the window, then
records each accepted proof's identifier until the window has passed it, so the store never
holds more than one window of traffic. Identifiers arrive already hashed and namespaced (see
:func:`replay_key`), so a store never sees raw ``jti`` values and all keys have one length.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeDecorator

from attest.jwk import b64url
from attest.tokens.clock import require_aware

TABLE_NAME = "client_attestation_jti"


def replay_key(kind: str, key_thumbprint: str, jti: str) -> str:
    """The stored form of a ``jti``: SHA-256 over the proof kind, the signing key's RFC 7638
    thumbprint and the ``jti`` (base64url, 43 characters). Scoping by key means one client cannot
    block another's ``jti`` values; scoping by kind keeps PoP and DPoP identifiers apart."""
    material = "\x00".join((kind, key_thumbprint, jti)).encode("utf-8")
    return b64url(hashlib.sha256(material).digest())


class ReplayStore(Protocol):
    """Remembers proof identifiers until they expire."""

    def check_and_store(self, key: str, *, expires_at: datetime, now: datetime) -> bool:
        """Record ``key`` until ``expires_at``; False when it is already recorded and not yet
        expired (a replay). Must be atomic: of two concurrent calls with one key, one gets False."""
        ...


class InMemoryReplayStore:
    """A process-local store (a dict behind a lock). Fine for one process; use
    :class:`SqlReplayStore` when several workers serve the same clients."""

    def __init__(self) -> None:
        self._seen: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._next_purge: datetime | None = None

    def __len__(self) -> int:
        return len(self._seen)

    def check_and_store(self, key: str, *, expires_at: datetime, now: datetime) -> bool:
        """See :meth:`ReplayStore.check_and_store`; expired entries are purged as time passes."""
        require_aware(now)
        require_aware(expires_at, "expires_at")
        with self._lock:
            if self._next_purge is None or now >= self._next_purge:
                self._purge_locked(now)
                self._next_purge = expires_at
            seen_until = self._seen.get(key)
            if seen_until is not None and seen_until > now:
                return False
            self._seen[key] = expires_at
            return True

    def purge(self, *, now: datetime) -> int:
        """Drop expired entries; the number dropped."""
        with self._lock:
            return self._purge_locked(require_aware(now))

    def _purge_locked(self, now: datetime) -> int:
        expired = [key for key, until in self._seen.items() if until <= now]
        for key in expired:
            del self._seen[key]
        return len(expired)


class _UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones: store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return require_aware(value, "expires_at").astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def define_jti_table(metadata: MetaData) -> Table:
    """The ``client_attestation_jti`` table on ``metadata`` (for the service's migrations)."""
    return Table(
        TABLE_NAME,
        metadata,
        Column("jti_hash", String(64), primary_key=True),
        Column("expires_at", _UtcDateTime(), nullable=False, index=True),
    )


class SqlReplayStore:
    """Seen identifiers in a SQL table (SQLAlchemy Core), shared by every worker.

    Insert-or-fail: the primary key decides atomically which of two concurrent uses wins. A row
    whose window has passed is replaced (the same ``jti`` may legitimately recur later). Call
    :meth:`purge` periodically to delete expired rows.
    """

    def __init__(self, engine: Engine, *, table: Table | None = None) -> None:
        self._engine = engine
        self.table = table if table is not None else define_jti_table(MetaData())

    def create_table(self) -> None:
        """Create the table if missing (development and tests; production uses migrations)."""
        self.table.create(self._engine, checkfirst=True)

    def check_and_store(self, key: str, *, expires_at: datetime, now: datetime) -> bool:
        """See :meth:`ReplayStore.check_and_store`."""
        require_aware(now)
        if self._insert(key, expires_at):
            return True
        with self._engine.begin() as connection:
            replaced = connection.execute(
                delete(self.table).where(self.table.c.jti_hash == key, self.table.c.expires_at <= now)
            ).rowcount
        # The row is live (a replay) unless it had expired; then a racing request may still win.
        return bool(replaced) and self._insert(key, expires_at)

    def purge(self, *, now: datetime) -> int:
        """Delete expired rows; the number deleted."""
        with self._engine.begin() as connection:
            result = connection.execute(delete(self.table).where(self.table.c.expires_at <= require_aware(now)))
        return int(result.rowcount)

    def _insert(self, key: str, expires_at: datetime) -> bool:
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(self.table).values(jti_hash=key, expires_at=expires_at))
        except IntegrityError:
            return False
        return True
