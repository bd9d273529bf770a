"""The audit log: every verdict and security event, with its error code. No secrets, no device identifiers."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from attest.server.db.models import AuditEvent

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
        )
    )
    log.info(
        "audit event=%s outcome=%s client=%s platform=%s code=%s request=%s",
        event,
        outcome,
        client_id,
        platform,
        code,
        request_id,
    )


def record_separately(
    sessions: sessionmaker[Session],
    *,
    at: datetime,
    event: str,
    outcome: str,
    client_id: str | None = None,
    platform: str | None = None,
    code: str | None = None,
    request_id: str | None = None,
) -> None:
    """Record in a transaction of its own (used when the request's own work failed or is done)."""
    with sessions.begin() as session:
        record(
            session,
            at=at,
            event=event,
            outcome=outcome,
            client_id=client_id,
            platform=platform,
            code=code,
            request_id=request_id,
        )
