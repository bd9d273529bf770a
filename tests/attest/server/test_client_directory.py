"""The per-process client cache (``attest.server.clients.ClientDirectory``): found clients are kept for
the configured time, unknown ids never, the size is bounded, and the platform is checked on every call."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from attest.server.clients import (
    AndroidClientConfig,
    AppleClientConfig,
    ClientDirectory,
    ClientRegistration,
    add_client,
    remove_client,
)
from attest.server.db.engine import make_engine, make_sessionmaker
from attest.server.db.migrate import upgrade
from attest.server.errors import ClientPlatformMismatch, ClientUnknown

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path}/clients.db")
    upgrade(engine)
    return make_sessionmaker(engine)


def register(sessions: sessionmaker[Session], client_id: str, app_id: str = "ABCDE12345.com.example") -> None:
    config = AppleClientConfig(app_ids=(app_id,))
    with sessions.begin() as session:
        add_client(session, ClientRegistration(client_id=client_id, config=config), now=NOW, production=False)


def test_a_found_client_is_kept_for_the_ttl(sessions: sessionmaker[Session]) -> None:
    ticks = Ticks()
    directory = ClientDirectory(sessions, ttl=5.0, monotonic=ticks)
    register(sessions, "ios")
    assert directory.get("ios").config == AppleClientConfig(app_ids=("ABCDE12345.com.example",))
    register(sessions, "ios", app_id="ABCDE12345.com.example.changed")
    ticks.value += 4.9
    assert directory.get("ios").config == AppleClientConfig(app_ids=("ABCDE12345.com.example",))
    ticks.value += 0.1
    assert directory.get("ios").config == AppleClientConfig(app_ids=("ABCDE12345.com.example.changed",))
    with sessions.begin() as session:
        remove_client(session, "ios")
    ticks.value += 5.0
    with pytest.raises(ClientUnknown):
        directory.get("ios")


def test_unknown_ids_are_not_remembered(sessions: sessionmaker[Session]) -> None:
    directory = ClientDirectory(sessions, ttl=60.0, monotonic=Ticks())
    with pytest.raises(ClientUnknown):
        directory.get("later")
    register(sessions, "later")
    assert directory.get("later").client_id == "later"


def test_ttl_zero_reads_every_time(sessions: sessionmaker[Session]) -> None:
    directory = ClientDirectory(sessions, ttl=0, monotonic=Ticks())
    register(sessions, "ios")
    directory.get("ios")
    with sessions.begin() as session:
        remove_client(session, "ios")
    with pytest.raises(ClientUnknown):
        directory.get("ios")


def test_the_platform_is_checked_on_cached_clients(sessions: sessionmaker[Session]) -> None:
    directory = ClientDirectory(sessions, ttl=60.0, monotonic=Ticks())
    with sessions.begin() as session:
        config = AndroidClientConfig(packages=("com.example",), signer_digests=("00" * 32,))
        add_client(session, ClientRegistration(client_id="droid", config=config), now=NOW, production=False)
    assert directory.get("droid", platform="android").platform == "android"
    with pytest.raises(ClientPlatformMismatch):
        directory.get("droid", platform="apple")


def test_the_cache_is_bounded(sessions: sessionmaker[Session]) -> None:
    ticks = Ticks()
    directory = ClientDirectory(sessions, ttl=60.0, max_entries=2, monotonic=ticks)
    for client_id in ("a", "b", "c"):
        register(sessions, client_id)
        directory.get(client_id)
    with sessions.begin() as session:
        for client_id in ("a", "b", "c"):
            remove_client(session, client_id)
    with pytest.raises(ClientUnknown):
        directory.get("a")  # evicted first: read again, and gone
    assert directory.get("b").client_id == "b"
    assert directory.get("c").client_id == "c"
