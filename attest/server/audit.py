"""The audit log: every verdict and security event, with its error code. No secrets, no device identifiers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from attest.server.db.models import AuditEvent
from attest.server.metrics import Metrics

log = logging.getLogger("attest.audit")


def record(
    session: Session,
    *,
    at: datetime,
    event: str,
    outcome: str,
    client_id: str | None = None,
    platform: str | None = None,
    code: str | None = None,
    request_id: str | None = None,
    subject: str | None = None,
) -> None:
    session.add(
        AuditEvent(
            at=at,
            event=event,
            outcome=outcome,
            client_id=client_id,
            platform=platform,
            code=code,
            request_id=request_id,
            subject=subject,
        )
    )
    log.info(
        "audit event=%s outcome=%s client=%s platform=%s code=%s request=%s subject=%s",
        event,
        outcome,
        client_id,
        platform,
        code,
        request_id,
        subject,
    )


@dataclass(frozen=True, slots=True)
class RequestAudit:
    """The audit trail of one request: ``audit("valid")`` or ``audit("invalid", error.code)`` records an
    event in a transaction of its own, so that it is kept whether or not the request's work was."""

    sessions: sessionmaker[Session]
    at: datetime
    event: str
    client_id: str | None
    platform: str | None
    request_id: str | None
    metrics: Metrics | None = None

    def __call__(self, outcome: str, code: str | None = None, *, subject: str | None = None) -> None:
        if self.metrics is not None:
            self.metrics.verdict(self.event, outcome, code)
        with self.sessions.begin() as session:
            record(
                session,
                at=self.at,
                event=self.event,
                outcome=outcome,
                client_id=self.client_id,
                platform=self.platform,
                code=code,
                request_id=self.request_id,
                subject=subject,
            )
