"""Replay stores (draft section 10.7): in memory, and SQL on SQLite."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from attest.client_auth import InMemoryReplayStore, ReplayStore, SqlReplayStore
from attest.client_auth.replay import replay_key
from attest.errors import ConfigurationError
from tests.attest.client_auth.factory import NOW


@pytest.fixture
def sql_store(tmp_path: Path) -> Iterator[SqlReplayStore]:
    engine = create_engine(f"sqlite:///{tmp_path / 'jti.db'}")
    store = SqlReplayStore(engine)
    store.create_table()
    yield store
    engine.dispose()


@pytest.fixture(params=["memory", "sql"])
def store(request: pytest.FixtureRequest, sql_store: SqlReplayStore) -> ReplayStore:
    return InMemoryReplayStore() if request.param == "memory" else sql_store


def test_insert_then_replay(store: ReplayStore) -> None:
    key = replay_key("pop", "jkt", "jti-1")
    until = NOW + timedelta(minutes=5)
    assert store.check_and_store(key, expires_at=until, now=NOW)
    assert not store.check_and_store(key, expires_at=until, now=NOW + timedelta(seconds=1))
    assert store.check_and_store(replay_key("pop", "jkt", "jti-2"), expires_at=until, now=NOW)


def test_expired_entry_can_be_reused(store: ReplayStore) -> None:
    key = replay_key("dpop", "jkt", "jti")
    assert store.check_and_store(key, expires_at=NOW + timedelta(minutes=5), now=NOW)
    later = NOW + timedelta(minutes=6)
    assert store.check_and_store(key, expires_at=later + timedelta(minutes=5), now=later)
    assert not store.check_and_store(key, expires_at=later + timedelta(minutes=5), now=later)


def test_purge(sql_store: SqlReplayStore) -> None:
    for index in range(5):
        sql_store.check_and_store(f"k{index}", expires_at=NOW + timedelta(minutes=index + 1), now=NOW)
    assert sql_store.purge(now=NOW + timedelta(minutes=3)) == 3  # expires_at <= now
    with sql_store._engine.connect() as connection:
        rows = connection.execute(select(sql_store.table.c.jti_hash, sql_store.table.c.expires_at)).all()
    assert sorted(row.jti_hash for row in rows) == ["k3", "k4"]
    assert all(row.expires_at.tzinfo is not None for row in rows)


def test_memory_purge() -> None:
    store = InMemoryReplayStore()
    for index in range(5):
        store.check_and_store(f"k{index}", expires_at=NOW + timedelta(minutes=index + 1), now=NOW)
    assert store.purge(now=NOW + timedelta(minutes=3)) == 3
    assert len(store) == 2


def test_times_in_other_zones(store: ReplayStore) -> None:
    east = datetime(2026, 7, 6, 14, 0, tzinfo=UTC).astimezone()  # the same instant in local time
    assert store.check_and_store("k", expires_at=east + timedelta(minutes=1), now=east)
    assert not store.check_and_store("k", expires_at=NOW + timedelta(minutes=1), now=east.astimezone(UTC))


def test_naive_times_are_refused(store: ReplayStore) -> None:
    with pytest.raises(ConfigurationError):
        store.check_and_store("k", expires_at=datetime(2026, 1, 1), now=datetime(2026, 1, 1))


def test_concurrent_use_has_one_winner(store: ReplayStore) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def use() -> None:
        barrier.wait()
        results.append(store.check_and_store("same", expires_at=NOW + timedelta(minutes=5), now=NOW))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_replay_key_is_scoped_and_fixed_length() -> None:
    keys = {replay_key("pop", "a", "j"), replay_key("dpop", "a", "j"), replay_key("pop", "b", "j")}
    assert len(keys) == 3
    assert {len(key) for key in keys} == {43}
