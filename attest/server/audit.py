"""The audit log: every verdict and security event, with its error code. No secrets, no device identifiers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session, sessionmaker

from attest.server.db.engine import Executor, affected_rows
from attest.server.db.models import AuditEvent, table_of
from attest.server.metrics import Metrics

log = logging.getLogger("attest.audit")

_INSERT = insert(table_of(AuditEvent))


@dataclass(frozen=True, slots=True)
class RequestAudit:
    """The audit trail of one request. ``audit("valid")`` or ``audit("invalid", error.code)`` records the
    event in a transaction of its own, so that it is kept whether or not the request's work was.
    :meth:`record_in` adds it to the request's own transaction instead (see
    :mod:`attest.server.verdict_transaction`); :meth:`publish` then logs and counts it, once the
    transaction that holds it has committed."""

    sessions: sessionmaker[Session]
    at: datetime
    event: str
    client_id: str | None
    platform: str | None
    request_id: str | None
    metrics: Metrics | None = None

    def __call__(self, outcome: str, code: str | None = None, *, subject: str | None = None) -> None:
        with self.sessions.begin() as session:
            self.record_in(session, outcome, code, subject=subject)
        self.publish(outcome, code, subject=subject)

    def record_in(
        self, session: Executor, outcome: str, code: str | None = None, *, subject: str | None = None
    ) -> None:
        """Add the event to ``session``'s transaction: it is stored only if that transaction commits."""
        session.execute(_INSERT, self.row(outcome, code, subject=subject))

    def row(self, outcome: str, code: str | None = None, *, subject: str | None = None) -> dict[str, Any]:
        """The event's row in ``audit_events`` (every column but the id)."""
        return {
            "at": self.at,
            "event": self.event,
            "outcome": outcome,
            "client_id": self.client_id,
            "platform": self.platform,
            "code": code,
            "request_id": self.request_id,
            "subject": subject,
        }

    def publish(self, outcome: str, code: str | None = None, *, subject: str | None = None) -> None:
        """Log the stored event (``attest.audit``) and count it in the metrics."""
        if self.metrics is not None:
            self.metrics.verdict(self.event, outcome, code)
        log.info(
            "audit event=%s outcome=%s client=%s platform=%s code=%s request=%s subject=%s",
            self.event,
            outcome,
            self.client_id,
            self.platform,
            code,
            self.request_id,
            subject,
        )


def purge_audit_events(session: Executor, *, now: datetime, retention: timedelta) -> int:
    """Delete the audit events recorded more than ``retention`` before ``now`` (ATTEST_AUDIT_RETENTION)."""
    return affected_rows(session.execute(delete(AuditEvent).where(AuditEvent.at < now - retention)))
