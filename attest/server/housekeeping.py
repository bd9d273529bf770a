"""Housekeeping: expired single-use rows are deleted, by ``attest db purge`` or in the background.

Challenges (:mod:`attest.server.challenges`) and passkey ceremonies (:mod:`fido.ceremonies`) are kept
for an hour after they expire, then deleted: an expired one can no longer be used, and anonymous
callers can create them (``/v1/challenge``, the options endpoints) as fast as the rate limits allow.
Audit events are kept for ``ATTEST_AUDIT_RETENTION`` when it is set, and forever when not.
Each worker process runs :class:`PurgeLoop` every ``ATTEST_PURGE_INTERVAL``; the deletes are
idempotent, so workers running them at once only repeat each other's work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from attest.server.audit import purge_audit_events
from attest.server.challenges import purge_expired as purge_challenges
from fido.ceremonies import purge_expired as purge_ceremonies

log = logging.getLogger("attest.housekeeping")


@dataclass(frozen=True, slots=True)
class Purged:
    """How many rows one purge deleted."""

    challenges: int
    ceremonies: int
    audit_events: int

    def describe(self) -> str:
        return (
            f"deleted {self.challenges} expired challenges, {self.ceremonies} expired passkey ceremonies "
            f"and {self.audit_events} audit events past their retention"
        )


def purge_expired(
    sessions: sessionmaker[Session], *, now: datetime, audit_retention: timedelta | None = None
) -> Purged:
    """Delete the challenges and ceremonies expired for more than an hour at ``now``, and with an
    ``audit_retention`` the audit events older than that, in one transaction."""
    with sessions.begin() as session:
        return Purged(
            challenges=purge_challenges(session, now=now),
            ceremonies=purge_ceremonies(session, now=now),
            audit_events=(
                purge_audit_events(session, now=now, retention=audit_retention) if audit_retention is not None else 0
            ),
        )


class PurgeLoop:
    """A daemon thread that runs :func:`purge_expired` every ``interval`` seconds (the first time one
    interval after :meth:`start`). A failed pass (the database unavailable) is logged by its type and
    tried again next time; :meth:`stop` ends the thread, after the pass in hand."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        interval: float,
        audit_retention: timedelta | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._interval = interval
        self._audit_retention = audit_retention
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the purge loop is already running")
        self._thread = threading.Thread(target=self._run, name="purge", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                purged = purge_expired(self._sessions, now=self._clock(), audit_retention=self._audit_retention)
            except Exception as error:  # noqa: BLE001 -- the loop must outlive a database outage; type only
                log.warning("purge pass failed: %s", type(error).__name__)
            else:
                if purged != Purged(0, 0, 0):
                    log.info("purge: %s", purged.describe())
