"""Engines and sessions: pooled connections, SQLite made safe for concurrent workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy's default would be psycopg2)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


def make_engine(url: str, *, pool_size: int = 16) -> Engine:
    """An engine for ``url``. Server databases get a pool of ``pool_size`` connections kept open (size it
    to the worker's thread pool) plus a few overflow ones for work outside requests (the key ring
    refresh, the mail sender). No pre-ping round trip per checkout: a connection found dead raises
    ``OperationalError`` (a 503 for that request), and SQLAlchemy then discards the pool's stale
    connections, so one request per process sees a database restart."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        in_memory = url.rstrip("/").endswith(":memory:") or url.rstrip("/") == "sqlite:"
        pool = {} if in_memory else {"pool_size": pool_size, "max_overflow": 8}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=8, pool_recycle=1800)


def one_statement_connections(engine: Engine) -> Callable[[], Connection] | None:
    """Where a verdict's writes can be one statement (data-modifying WITH queries: PostgreSQL), connections
    from ``engine``'s pool in autocommit for them (see attest.server.db.conditional_write); else None."""
    if engine.dialect.name != "postgresql":
        return None
    return engine.execution_options(isolation_level="AUTOCOMMIT").connect


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


#: What the request path's Core statements run on: an ORM session or a Core connection, in a transaction.
Executor = Session | Connection


def affected_rows(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE changed (the typed view of ``CursorResult.rowcount``)."""
    return int(cast(CursorResult[Any], result).rowcount)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
