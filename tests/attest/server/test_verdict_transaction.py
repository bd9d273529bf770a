"""``attest.server.verdict_transaction``: a request's writes and its "valid" audit event commit together; a
failed check rolls them back, then spends the accepted challenge and records "invalid"; any other error
leaves nothing behind. On SQLite and PostgreSQL, on a Core connection and on an ORM session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, func, select, update
from sqlalchemy.pool import NullPool

from attest.errors import AttestationError
from attest.server.audit import RequestAudit
from attest.server.challenges import Purpose, challenge_consumption, issue_challenge
from attest.server.clients import ClientRegistration, DebugClientConfig, add_client
from attest.server.db.engine import make_engine, make_sessionmaker, normalize_url, one_statement_connections
from attest.server.db.models import AuditEvent, Challenge
from attest.server.errors import ChallengeExpired, ChallengeUnknown, ChallengeUsed
from attest.server.metrics import Metrics
from attest.server.verdict_transaction import VerdictTransaction, verdict_transaction
from tests.databases import truncate_all

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ATTEST = Purpose.ATTEST


class CheckFailed(AttestationError):
    code = "test.check_failed"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    register_app(engine)
    yield engine
    engine.dispose()


def register_app(engine: Engine) -> None:
    """The client "app" the challenges are issued to."""
    with make_sessionmaker(engine).begin() as session:
        registration = ClientRegistration(client_id="app", config=DebugClientConfig(), debug_secret="s" * 16)
        add_client(session, registration, now=NOW, production=False)


@dataclass(frozen=True)
class Opening:
    """How a route opens its verdict: ``begin`` (a Core connection for attest, an ORM session for passkeys),
    and on PostgreSQL, for the attest routes, ``one_statement`` (autocommit connections)."""

    begin: Callable[[], AbstractContextManager[Any]]
    one_statement: Callable[[], Connection] | None = None


@pytest.fixture(params=["connection", "session", "one statement"])
def opening(request: pytest.FixtureRequest, engine: Engine) -> Opening:
    if request.param == "session":
        return Opening(make_sessionmaker(engine).begin)
    if request.param == "connection":
        return Opening(engine.begin)
    one_statement = one_statement_connections(engine)
    if one_statement is None:
        pytest.skip(f"{engine.dialect.name} has no data-modifying WITH queries")
    return Opening(engine.begin, one_statement)


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
    opening: Opening,
    engine: Engine,
    work: Callable[[VerdictTransaction[Any]], None],
    metrics: Metrics | None = None,
) -> None:
    """One request: ``work`` inside its verdict transaction."""
    audit = audit_for(engine, metrics)
    with verdict_transaction(opening.begin, audit, now=NOW, one_statement=opening.one_statement) as transaction:
        work(transaction)


def consume(challenge: str) -> Callable[[VerdictTransaction[Any]], None]:
    def work(transaction: VerdictTransaction[Any]) -> None:
        transaction.consume_challenge(challenge, client_id="app", purpose=ATTEST)

    return work


def test_success_commits_the_work_and_the_valid_event_together(engine: Engine, opening: Opening) -> None:
    challenge = new_challenge(engine)
    metrics = Metrics()

    def succeed(transaction: VerdictTransaction[Any]) -> None:
        transaction.consume_challenge(challenge, client_id="app", purpose=Purpose.ATTEST)
        transaction.subject = "account-1"

    judge(opening, engine, succeed, metrics)
    assert consumed(engine) == 1
    assert events(engine) == [("test.event", "valid", None, "account-1")]
    labels = {"event": "test.event", "outcome": "valid", "code": ""}
    assert metrics.registry.get_sample_value("attest_verdicts_total", labels) == 1


def test_a_failed_check_spends_the_challenge_and_keeps_nothing_else(engine: Engine, opening: Opening) -> None:
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
        judge(opening, engine, fail_after_the_challenges)
    assert ran == ["test.check_failed"]
    assert consumed(engine) == 2  # rolled back with the request, then spent by the failure transaction
    assert events(engine) == [("test.event", "invalid", "test.check_failed", "account-2")]
    with pytest.raises(ChallengeUsed):
        judge(opening, engine, reuse)


def test_a_refused_challenge_is_audited_and_nothing_is_spent(engine: Engine, opening: Opening) -> None:
    new_challenge(engine)

    def unknown_challenge(transaction: VerdictTransaction[Any]) -> None:
        transaction.consume_challenge("A" * 43, client_id="app", purpose=Purpose.ATTEST)

    with pytest.raises(ChallengeUnknown):
        judge(opening, engine, unknown_challenge)
    assert consumed(engine) == 0
    assert events(engine) == [("test.event", "invalid", "challenge.unknown", None)]


def test_an_unexpected_error_leaves_nothing_behind(engine: Engine, opening: Opening) -> None:
    challenge = new_challenge(engine)

    def break_down(transaction: VerdictTransaction[Any]) -> None:
        transaction.consume_challenge(challenge, client_id="app", purpose=Purpose.ATTEST)
        raise RuntimeError("not a verdict")

    with pytest.raises(RuntimeError):
        judge(opening, engine, break_down)
    assert consumed(engine) == 0  # the challenge stays usable: the request was not judged
    assert events(engine) == []


def test_the_writes_run_after_the_checks_in_order_and_the_first_refused_one_decides(
    engine: Engine, opening: Opening
) -> None:
    first, used, third = new_challenge(engine), new_challenge(engine), new_challenge(engine)
    judge(opening, engine, consume(used))

    def three_writes(transaction: VerdictTransaction[Any]) -> None:
        for challenge in (first, used, third):
            transaction.consume_challenge(challenge, client_id="app", purpose=ATTEST)
        assert consumed(engine) == 1  # nothing is sent before the checks are done

    with pytest.raises(ChallengeUsed):
        judge(opening, engine, three_writes)
    # The same outcome whether the writes ran in order or as one statement: every presented challenge
    # is spent (the failure transaction uses up what the refused request did not keep), and the audit
    # log has the refusal only.
    assert consumed(engine) == 3
    assert events(engine) == [
        ("test.event", "valid", None, None),
        ("test.event", "invalid", "challenge.used", None),
    ]


def test_a_refused_first_write_runs_none_of_the_others(engine: Engine, opening: Opening) -> None:
    expired = new_challenge(engine)
    with make_sessionmaker(engine).begin() as session:  # the only challenge so far
        session.execute(update(Challenge).values(expires_at=NOW))
    live = new_challenge(engine)

    def expired_then_live(transaction: VerdictTransaction[Any]) -> None:
        transaction.consume_challenge(expired, client_id="app", purpose=ATTEST)
        transaction.on_failure(lambda database, _error: None)
        transaction.write(challenge_consumption(live, client_id="app", purpose=ATTEST, now=NOW))

    with pytest.raises(ChallengeExpired):
        judge(opening, engine, expired_then_live)
    # The live challenge was a write of the refused request, not one it presented: it stays usable.
    judge(opening, engine, consume(live))
    assert events(engine) == [
        ("test.event", "invalid", "challenge.expired", None),
        ("test.event", "valid", None, None),
    ]


def test_one_statement_stores_the_audit_time_in_utc_whatever_the_session_time_zone(postgres_url: str) -> None:
    """The audit row of a verdict sent as one statement goes through the column types (naive UTC at rest),
    like the row of any other INSERT: read back, it is the same instant under any session time zone."""
    engine = make_engine(postgres_url)
    truncate_all(engine)
    elsewhere = create_engine(
        normalize_url(postgres_url), connect_args={"options": "-c TimeZone=America/New_York"}, poolclass=NullPool
    )
    one_statement = one_statement_connections(elsewhere)
    assert one_statement is not None
    try:
        register_app(engine)
        challenge = new_challenge(engine)
        audit = RequestAudit(make_sessionmaker(elsewhere), NOW, "test.event", "app", "debug", "req-1")
        with verdict_transaction(elsewhere.begin, audit, now=NOW, one_statement=one_statement) as transaction:
            transaction.consume_challenge(challenge, client_id="app", purpose=ATTEST)
        with make_sessionmaker(engine)() as session:
            assert session.scalars(select(AuditEvent.at)).all() == [NOW]
            assert session.scalars(select(Challenge.consumed_at)).all() == [NOW]
    finally:
        elsewhere.dispose()
        engine.dispose()


def test_a_connection_returns_from_a_one_statement_verdict_to_transactions(postgres_url: str) -> None:
    """The autocommit of a one-statement verdict ends with it: the pooled connection it used (the only one
    here) runs the next ``engine.begin()`` as a transaction again."""
    engine = make_engine(postgres_url, pool_size=1)
    truncate_all(engine)
    one_statement = one_statement_connections(engine)
    assert one_statement is not None
    try:
        register_app(engine)
        judge(Opening(engine.begin, one_statement), engine, consume(new_challenge(engine)))
        with engine.connect() as connection:
            assert connection.connection.dbapi_connection is not None
            assert connection.connection.dbapi_connection.autocommit is False
        challenge = new_challenge(engine)
        with engine.connect() as connection:
            transaction = connection.begin()
            connection.execute(update(Challenge).values(consumed_at=NOW))
            transaction.rollback()
        assert consumed(engine) == 1  # the first verdict's; the rolled back UPDATE left the new one alone
        judge(Opening(engine.begin, one_statement), engine, consume(challenge))
        assert consumed(engine) == 2
    finally:
        engine.dispose()
