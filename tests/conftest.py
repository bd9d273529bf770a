"""Shared fixtures: the databases every storage test runs on (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from attest.server.db.engine import make_engine
from tests.databases import PostgresUnavailable, postgres_database, truncate_all

_postgres_skipped: list[str] = []


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        yield from postgres_database()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test against PostgreSQL: {exc}")
        _postgres_skipped.append(str(exc))
        warnings.warn(f"SKIPPING PostgreSQL tests: {exc}", stacklevel=1)
        pytest.skip(f"PostgreSQL unavailable: {exc}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        sqlite_url = f"sqlite:///{tmp_path / 'attest.db'}"
        from attest.server.db.migrate import upgrade

        engine = make_engine(sqlite_url)
        upgrade(engine)
        engine.dispose()
        return sqlite_url
    url: str = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    truncate_all(engine)
    engine.dispose()
    return url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _postgres_skipped:
        terminalreporter.write_sep("!", "PostgreSQL tests were SKIPPED", red=True, bold=True)
        terminalreporter.write_line(_postgres_skipped[0])
