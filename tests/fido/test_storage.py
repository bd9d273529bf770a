"""Storage of ceremonies, passkeys and sessions on SQLite and PostgreSQL: the conditional writes hold
under concurrency (threads, one connection each), and the migration goes down and up again."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from attest.errors import AttestationError
from attest.server.db.engine import make_engine, make_sessionmaker
from attest.server.db.migrate import alembic_config, upgrade
from fido.attestation import AttestationType, VerifiedAttestation
from fido.authentication import VerifiedAuthentication
from fido.ceremonies import CeremonyKind, consume_ceremony, purge_expired, start_ceremony
from fido.credentials import (
    add_passkey,
    create_account,
    find_passkey,
    new_user_handle,
    passkeys_of,
    record_sign_in,
    remove_passkey,
)
from fido.public_key import ES256
from fido.registration import VerifiedRegistration
from fido.sessions import end_session, resolve_session, start_session, token_hash

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def registration(credential_id: bytes, sign_count: int = 0) -> VerifiedRegistration:
    return VerifiedRegistration(
        credential_id=credential_id,
        public_key=b"\xa0",
        algorithm=ES256,
        sign_count=sign_count,
        aaguid="00000000-0000-0000-0000-000000000000",
        attestation=VerifiedAttestation(fmt="none", type=AttestationType.NONE, trusted=False),
        user_verified=True,
        backup_eligible=False,
        backup_state=False,
        transports=("internal",),
        authenticator_attachment="platform",
    )


def account_with_passkeys(sessions: sessionmaker[Session], *credential_ids: bytes, sign_count: int = 0) -> str:
    with sessions.begin() as session:
        account = create_account(session, user_handle=new_user_handle(), username="alice", display_name="A", now=NOW)
        for credential_id in credential_ids:
            add_passkey(
                session, user_id=account.id, registration=registration(credential_id, sign_count), label="k", now=NOW
            )
    return account.id


def race(count: int, attempt: Callable[[], object]) -> tuple[int, list[str]]:
    """Run ``attempt`` on ``count`` threads at once; the number that succeeded and the error codes."""
    barrier = threading.Barrier(count)
    successes: list[object] = []
    codes: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            result = attempt()
        except AttestationError as error:
            with lock:
                codes.append(error.code)
        else:
            with lock:
                successes.append(result)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(successes), codes


def test_a_ceremony_is_consumed_once_under_concurrency(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        ceremony = start_ceremony(
            session,
            kind=CeremonyKind.AUTHENTICATION,
            binding="browser",
            now=NOW,
            ttl=timedelta(minutes=5),
            require_user_verification=True,
        )

    def consume() -> object:
        with sessions.begin() as session:
            return consume_ceremony(
                session, ceremony.ceremony_id, kind=CeremonyKind.AUTHENTICATION, binding="browser", now=NOW
            )

    won, codes = race(12, consume)
    assert won == 1
    assert set(codes) == {"webauthn.challenge_used"}


def test_ceremony_lookups(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        ceremony = start_ceremony(
            session,
            kind=CeremonyKind.REMOVAL,
            binding="browser",
            now=NOW,
            ttl=timedelta(minutes=5),
            require_user_verification=True,
            credential_id=b"\x01" * 16,
        )
    cases = [
        (CeremonyKind.REMOVAL, None, NOW, "webauthn.challenge_binding"),
        (CeremonyKind.REMOVAL, "another", NOW, "webauthn.challenge_binding"),
        (CeremonyKind.AUTHENTICATION, "browser", NOW, "webauthn.challenge_unknown"),
        (CeremonyKind.REMOVAL, "browser", NOW + timedelta(minutes=5), "webauthn.challenge_expired"),
    ]
    for kind, binding, at, code in cases:
        with sessions.begin() as session, pytest.raises(AttestationError) as raised:
            consume_ceremony(session, ceremony.ceremony_id, kind=kind, binding=binding, now=at)
        assert raised.value.code == code
    with sessions.begin() as session:
        consumed = consume_ceremony(
            session, ceremony.ceremony_id, kind=CeremonyKind.REMOVAL, binding="browser", now=NOW
        )
    assert (consumed.challenge, consumed.credential_id) == (ceremony.challenge, b"\x01" * 16)
    with sessions.begin() as session:
        assert purge_expired(session, now=NOW + timedelta(hours=2)) == 1


def test_the_counter_moves_once_under_concurrency(sessions: sessionmaker[Session]) -> None:
    account_with_passkeys(sessions, b"\x01" * 16, sign_count=7)
    with sessions() as session:
        found = find_passkey(session, b"\x01" * 16)
    assert found is not None
    passkey = found[0]
    result = VerifiedAuthentication(
        credential_id=passkey.credential_id,
        sign_count=8,
        user_verified=True,
        backup_eligible=False,
        backup_state=False,
        backup_state_changed=False,
    )

    def sign_in() -> object:
        with sessions.begin() as session:
            record_sign_in(session, passkey, result, now=NOW)
        return True

    won, codes = race(8, sign_in)
    assert won == 1
    assert set(codes) == {"webauthn.counter"}


def test_concurrent_removals_never_remove_the_last_passkey(sessions: sessionmaker[Session]) -> None:
    user_id = account_with_passkeys(sessions, b"\x01" * 16, b"\x02" * 16)
    targets = iter([b"\x01" * 16, b"\x02" * 16])
    lock = threading.Lock()

    def remove() -> object:
        with lock:
            target = next(targets)
        with sessions.begin() as session:
            remove_passkey(session, user_id=user_id, credential_id=target)
        return target

    won, codes = race(2, remove)
    assert (won, codes) == (1, ["passkey.last_passkey"])
    with sessions() as session:
        assert len(passkeys_of(session, user_id)) == 1


def test_sessions_store_only_a_hash(sessions: sessionmaker[Session]) -> None:
    user_id = account_with_passkeys(sessions, b"\x01" * 16)
    with sessions.begin() as session:
        token = start_session(
            session, user_id=user_id, credential_id=b"\x01" * 16, user_verified=True, now=NOW, ttl=timedelta(hours=1)
        )
    with sessions() as session:
        signed_in = resolve_session(session, token, now=NOW)
        assert signed_in is not None
        assert signed_in.token_hash == token_hash(token)
        assert resolve_session(session, token, now=NOW + timedelta(hours=1)) is None
        assert resolve_session(session, token + "x", now=NOW) is None
    with sessions.begin() as session:
        assert end_session(session, token_hash(token), now=NOW)
    with sessions() as session:
        assert resolve_session(session, token, now=NOW) is None


def test_migration_downgrades_and_upgrades(database_url: str) -> None:
    from alembic import command

    engine = make_engine(database_url)
    command.downgrade(alembic_config(engine), "0001")
    tables = set(inspect(engine).get_table_names())
    assert "webauthn_users" not in tables
    assert "audit_events" in tables
    assert "subject" not in {column["name"] for column in inspect(engine).get_columns("audit_events")}
    upgrade(engine)
    assert {"webauthn_users", "webauthn_credentials", "webauthn_ceremonies", "passkey_sessions"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()
