"""Test databases: a fresh SQLite file per test, and one PostgreSQL database per session (truncated
between tests). PostgreSQL comes from ``ATTEST_TEST_POSTGRES_URL`` (default: the CI machine's server at
127.0.0.1:5432, user postgres, trust auth). Without CI, an unreachable server skips its tests loudly;
in CI (``CI`` set) it fails them."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
from sqlalchemy import Engine, text

from attest.server.db.engine import make_engine
from attest.server.db.migrate import upgrade
from attest.server.db.models import Base

POSTGRES_ADMIN_URL = os.environ.get("ATTEST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class PostgresUnavailable(Exception):
    pass


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        raise PostgresUnavailable(f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable: {exc}") from exc


def postgres_database() -> Iterator[str]:
    """Create a uniquely named database, migrate it, yield its URL, drop it."""
    name = f"attest_test_{os.getpid()}_{secrets.token_hex(4)}"
    with _admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with _admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {tables} CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
