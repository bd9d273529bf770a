"""``attest.server.verdict_transaction``: a request's writes and its "valid" audit event commit together; a
failed check rolls them back, then spends the accepted challenge and records "invalid"; any other error
leaves nothing behind. On SQLite and PostgreSQL, on a Core connection and on an ORM session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from attest.errors import AttestationError
from attest.server.audit import RequestAudit
from attest.server.challenges import Purpose, issue_challenge
from attest.server.clients import ClientRegistration, DebugClientConfig, add_client
from attest.server.db.engine import make_engine, make_sessionmaker
from attest.server.db.models import AuditEvent, Challenge
from attest.server.errors import ChallengeUnknown, ChallengeUsed
from attest.server.metrics import Metrics
from attest.server.verdict_transaction import VerdictTransaction, verdict_transaction

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


class CheckFailed(AttestationError):
    code = "test.check_failed"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    with make_sessionmaker(engine).begin() as session:
        registration = ClientRegistration(client_id="app", config=DebugClientConfig(), debug_secret="s" * 16)
        add_client(session, registration, now=NOW, production=False)
    yield engine
    engine.dispose()


@pytest.fixture(params=["connection", "session"])
def begin(request: pytest.FixtureRequest, engine: Engine) -> Callable[[], AbstractContextManager[Any]]:
    """How the routes open it: a Core connection (attest) or an ORM session (passkeys)."""
    return engine.begin if request.param == "connection" else make_sessionmaker(engine).begin


def new_challenge(engine: Engine) -> str:
    with make_sessionmaker(engine).begin() as session:
        return issue_challenge(session, client_id="app", purpose=Purpose.ATTEST, now=NOW, ttl=timedelta(minutes=5))


def audit_for(engine: Engine, metrics: Metrics | None = None) -> RequestAudit:
    return RequestAudit(make_sessionmaker(engine), NOW, "test.event", "app", "debug", "req-1", metrics)


def events(engine: Engine) -> list[tuple[str, str, str | None, str | None]]:
    with make_sessionmaker(engine)() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        return [(row.event, row.outcome, row.code, row.subject) for row in rows]


def consumed(engine: Engine) -> int:
    with make_sessionmaker(engine)() as session:
        count = session.scalar(select(func.count()).select_from(Challenge).where(Challenge.consumed_at.is_not(None)))
        return int(count or 0)


def judge(
    begin: Callable[[], AbstractContextManager[Any]],
    engine: Engine,
    work: Callable[[VerdictTransaction[Any]], None],
    metrics: Metrics | None = None,
) -> None:
    """One request: ``work`` inside its verdict transaction."""
    with verdict_transaction(begin, audit_for(engine, metrics), now=NOW) as transaction:
        work(transaction)


def test_success_commits_the_work_and_the_valid_event_together(
    engine: Engine, begin: Callable[[], AbstractContextManager[Any]]
) -> None:
    challenge = new_challenge(engine)
    metrics = Metrics()

    def succeed(transaction: VerdictTransaction[Any]) -> None:
        transaction.consume_challenge(challenge, client_id="app", purpose=Purpose.ATTEST)
        transaction.subject = "account-1"

    judge(begin, engine, succeed, metrics)
    assert consumed(engine) == 1
    assert events(engine) == [("test.event", "valid", None, "account-1")]
    labels = {"event": "test.event", "outcome": "valid", "code": ""}
    assert metrics.registry.get_sample_value("attest_verdicts_total", labels) == 1


def test_a_failed_check_spends_the_challenge_and_keeps_nothing_else(
    engine: Engine, begin: Callable[[], AbstractContextManager[Any]]
) -> None:
    challenge = new_challenge(engine)
    second = new_challenge(engine)
    ran: list[str] = []

    def fail_after_the_challenges(transaction: VerdictTransaction[Any]) -> None:
        transaction.consume_challenge(challenge, client_id="app", purpose=Purpose.ATTEST)
        transaction.consume_challenge(second, client_id="app", purpose=Purpose.ATTEST)
        transaction.on_failure(lambda _database, error: ran.append(error.code))
        transaction.subject = "account-2"
        raise CheckFailed("the check failed")

    def reuse(transaction: VerdictTransaction[Any]) -> None:
        transaction.consume_challenge(challenge, client_id="app", purpose=Purpose.ATTEST)

    with pytest.raises(CheckFailed):
        judge(begin, engine, fail_after_the_challenges)
    assert ran == ["test.check_failed"]
    assert consumed(engine) == 2  # rolled back with the request, then spent by the failure transaction
    assert events(engine) == [("test.event", "invalid", "test.check_failed", "account-2")]
    with pytest.raises(ChallengeUsed):
        judge(begin, engine, reuse)


def test_a_refused_challenge_is_audited_and_nothing_is_spent(
    engine: Engine, begin: Callable[[], AbstractContextManager[Any]]
) -> None:
    new_challenge(engine)

    def unknown_challenge(transaction: VerdictTransaction[Any]) -> None:
        transaction.consume_challenge("A" * 43, client_id="app", purpose=Purpose.ATTEST)

    with pytest.raises(ChallengeUnknown):
        judge(begin, engine, unknown_challenge)
    assert consumed(engine) == 0
    assert events(engine) == [("test.event", "invalid", "challenge.unknown", None)]


def test_an_unexpected_error_leaves_nothing_behind(
    engine: Engine, begin: Callable[[], AbstractContextManager[Any]]
) -> None:
    challenge = new_challenge(engine)

    def break_down(transaction: VerdictTransaction[Any]) -> None:
        transaction.consume_challenge(challenge, client_id="app", purpose=Purpose.ATTEST)
        raise RuntimeError("not a verdict")

    with pytest.raises(RuntimeError):
        judge(begin, engine, break_down)
    assert consumed(engine) == 0  # the challenge stays usable: the request was not judged
    assert events(engine) == []
