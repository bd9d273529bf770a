"""Rate limits shared by every worker through the database: fixed windows, one atomic upsert per hit.

``INSERT ... ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count`` counts a request and
reads the new total in one statement, so that concurrent workers never lose a hit. Over the limit the
request is refused with 429 (``rate_limited``) and ``Retry-After``; the counter rows expire with their
window and are purged as requests come in.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from attest.server.db.models import RateLimitCounter
from attest.server.errors import ServiceError

#: One request in this many also deletes expired counters.
_PURGE_ONE_IN = 200


class RateLimited(ServiceError):
    """Too many requests for this client, address or account in the current window: slows brute force
    (recovery codes, debug secrets) and resource exhaustion."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``requests`` per ``window`` for one identifier in one scope."""

    scope: str
    requests: int
    window: timedelta


class RateLimiter:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def hit(self, limit: Limit, identifier: str, *, now: datetime) -> None:
        """Count one request of ``identifier`` against ``limit``; raise :class:`RateLimited` over it."""
        seconds = max(1, int(limit.window.total_seconds()))
        window_index = int(now.timestamp()) // seconds
        window_end = datetime.fromtimestamp((window_index + 1) * seconds, now.tzinfo)
        # The identifier may be an email address: only its hash is stored.
        digest = hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:32]
        key = f"{limit.scope}:{digest}:{window_index}"
        with self._sessions.begin() as session:
            count = _increment(session, key, expires_at=window_end)
            if random.randrange(_PURGE_ONE_IN) == 0:  # noqa: S311 -- housekeeping, not security
                session.execute(delete(RateLimitCounter).where(RateLimitCounter.expires_at < now))
        if count > limit.requests:
            retry_after = max(1, int((window_end - now).total_seconds()))
            raise RateLimited(
                f"more than {limit.requests} requests per {seconds} s for {limit.scope}; retry in {retry_after} s",
                retry_after=retry_after,
            )


def _increment(session: Session, key: str, *, expires_at: datetime) -> int:
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(RateLimitCounter)
        .values(key=key, count=1, expires_at=expires_at)
        .on_conflict_do_update(index_elements=[RateLimitCounter.key], set_={"count": RateLimitCounter.count + 1})
        .returning(RateLimitCounter.count)
    )
    return int(session.execute(statement).scalar_one())
