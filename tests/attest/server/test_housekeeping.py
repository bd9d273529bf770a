"""Housekeeping: expired challenges and passkey ceremonies are deleted an hour after they expire, and
audit events past ATTEST_AUDIT_RETENTION, by ``attest db purge`` and by each worker's background loop,
on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from attest.server.audit import RequestAudit
from attest.server.challenges import Purpose, issue_challenge
from attest.server.clients import ClientRegistration, DebugClientConfig
from attest.server.db.models import AuditEvent, Challenge
from attest.server.housekeeping import Purged, PurgeLoop, purge_expired
from fido.ceremonies import CeremonyKind, start_ceremony
from fido.models import WebAuthnCeremony
from tests.attest.server.service import Service, make_settings, start_service

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)


def started(database_url: str, tmp_path: Path, **overrides: Any) -> Service:
    service = start_service(database_url, tmp_path, fixed_time=NOW, **overrides)
    service.register(ClientRegistration(client_id="ci", config=DebugClientConfig(), debug_secret="s" * 32))
    return service


def seed(sessions: sessionmaker[Session], *, issued: datetime) -> None:
    """One challenge and one ceremony, issued at ``issued`` (both expire five minutes later)."""
    with sessions.begin() as session:
        issue_challenge(session, client_id="ci", purpose=Purpose.ATTEST, now=issued, ttl=TTL)
        start_ceremony(
            session,
            kind=CeremonyKind.AUTHENTICATION,
            binding="binding",
            now=issued,
            ttl=TTL,
            require_user_verification=True,
        )


def remaining(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        challenges = session.scalar(select(func.count()).select_from(Challenge))
        ceremonies = session.scalar(select(func.count()).select_from(WebAuthnCeremony))
    assert challenges is not None
    assert ceremonies is not None
    return challenges, ceremonies


def test_purge_deletes_what_expired_over_an_hour_ago(database_url: str, tmp_path: Path) -> None:
    service = started(database_url, tmp_path)
    sessions = service.runtime.sessions
    seed(sessions, issued=NOW)  # valid
    seed(sessions, issued=NOW - timedelta(minutes=30))  # expired 25 minutes ago: kept for now
    seed(sessions, issued=NOW - timedelta(hours=2))  # expired 1 h 55 min ago
    assert purge_expired(sessions, now=NOW) == Purged(challenges=1, ceremonies=1, audit_events=0)
    assert remaining(sessions) == (2, 2)
    assert purge_expired(sessions, now=NOW) == Purged(challenges=0, ceremonies=0, audit_events=0)
    assert purge_expired(sessions, now=NOW + timedelta(hours=2)) == Purged(challenges=2, ceremonies=2, audit_events=0)
    assert remaining(sessions) == (0, 0)


def record_events(sessions: sessionmaker[Session], *ages: timedelta) -> None:
    """One audit event recorded ``age`` before NOW for each age."""
    with sessions.begin() as session:
        for age in ages:
            audit = RequestAudit(sessions, NOW - age, "attest.debug", "ci", "debug", None)
            audit.record_in(session, "valid")


def audit_ages(sessions: sessionmaker[Session]) -> list[timedelta]:
    with sessions() as session:
        return sorted(NOW - at for at in session.scalars(select(AuditEvent.at)))


def test_audit_events_are_kept_for_their_retention(database_url: str, tmp_path: Path) -> None:
    service = started(database_url, tmp_path)
    sessions = service.runtime.sessions
    record_events(sessions, timedelta(0), timedelta(days=29), timedelta(days=31), timedelta(days=400))
    assert purge_expired(sessions, now=NOW).audit_events == 0  # no retention set: kept forever
    assert len(audit_ages(sessions)) == 4
    assert purge_expired(sessions, now=NOW, audit_retention=timedelta(days=30)).audit_events == 2
    assert audit_ages(sessions) == [timedelta(0), timedelta(days=29)]


def test_audit_retention_is_at_least_a_day(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        make_settings("sqlite://", tmp_path, audit_retention=timedelta(hours=23))
    assert make_settings("sqlite://", tmp_path, audit_retention="P400D").audit_retention == timedelta(days=400)
    assert make_settings("sqlite://", tmp_path).audit_retention is None


def test_the_background_purge_applies_the_audit_retention(database_url: str, tmp_path: Path) -> None:
    service = started(
        database_url, tmp_path, purge_interval=timedelta(milliseconds=50), audit_retention=timedelta(days=30)
    )
    record_events(service.runtime.sessions, timedelta(days=1), timedelta(days=60))
    with service.http:
        wait_until(lambda: audit_ages(service.runtime.sessions) == [timedelta(days=1)])


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_service_purges_in_the_background(database_url: str, tmp_path: Path) -> None:
    service = started(database_url, tmp_path, purge_interval=timedelta(milliseconds=50))
    seed(service.runtime.sessions, issued=NOW - timedelta(hours=2))
    seed(service.runtime.sessions, issued=NOW)
    assert remaining(service.runtime.sessions) == (2, 2)
    with service.http:  # the lifespan starts the loop
        wait_until(lambda: remaining(service.runtime.sessions) == (1, 1))


def test_background_purge_can_be_disabled(database_url: str, tmp_path: Path) -> None:
    service = started(database_url, tmp_path, purge_enabled=False, purge_interval=timedelta(milliseconds=10))
    seed(service.runtime.sessions, issued=NOW - timedelta(hours=2))
    with service.http:
        assert service.http.get("/healthz").status_code == 200
        time.sleep(0.3)
        assert remaining(service.runtime.sessions) == (1, 1)


def test_the_loop_outlives_a_failing_pass(database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A pass that fails (here the first one: the clock raises) is logged by its type only, and the next
    pass runs; stop ends the thread."""
    service = started(database_url, tmp_path)
    seed(service.runtime.sessions, issued=NOW - timedelta(hours=2))
    calls = 0

    def clock() -> datetime:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("secret detail")
        return NOW

    loop = PurgeLoop(service.runtime.sessions, clock, interval=0.02)
    with caplog.at_level(logging.WARNING, logger="attest.housekeeping"):
        loop.start()
        try:
            wait_until(lambda: remaining(service.runtime.sessions) == (0, 0))
        finally:
            loop.stop()
    assert "purge pass failed: ConnectionError" in caplog.text
    assert "secret detail" not in caplog.text


def test_a_loop_starts_once(database_url: str, tmp_path: Path) -> None:
    loop = PurgeLoop(started(database_url, tmp_path).runtime.sessions, lambda: NOW, interval=60)
    loop.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            loop.start()
    finally:
        loop.stop()
