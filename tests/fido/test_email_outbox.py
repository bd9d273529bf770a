"""The mail outbox (fido.mail.outbox) on SQLite and PostgreSQL with a real SMTP server: mails go out only
with their transaction, sealed at rest, once each however many senders run, after an SMTP outage too; the
sender loop, and ``attest mail send-pending``."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from attest.cli import main
from fido.mail.message import MailMessage, render
from fido.mail.outbox import KEEP_FINISHED, Mailer, OutboxCipher, SenderLoop, retry_delay
from fido.models import OutboxEmail
from tests.attest.server.processes import free_port
from tests.fido.authenticator import SoftAuthenticator
from tests.fido.mail_service import MailedService, start_mailed
from tests.fido.smtp_server import HOST, MailServer, code_in

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


@pytest.fixture
def api(database_url: str, tmp_path: Path, smtp: MailServer) -> MailedService:
    return start_mailed(database_url, tmp_path, smtp, fixed_time=NOW)


def message(n: int = 0, to: str = "alice@example.com") -> MailMessage:
    return render(
        "recovery",
        to=to,
        rp_name="Example",
        username="alice",
        code=f"{n:08d}",
        link=f"https://example.com/passkeys/recover#token=t{n}",
        minutes=15,
    )


def rows(api: MailedService) -> list[OutboxEmail]:
    with api.passkeys.service.session() as session:
        return list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


def test_a_mail_goes_with_its_transaction_sealed_and_once(api: MailedService) -> None:
    runtime = api.passkeys.service.runtime

    def roll_back() -> None:
        with runtime.sessions.begin() as session:
            runtime.mail.enqueue(session, message(1), now=NOW)
            raise RuntimeError("the change this mail reports was rolled back")

    with pytest.raises(RuntimeError):
        roll_back()
    assert rows(api) == []
    with runtime.sessions.begin() as session:
        message_id = runtime.mail.enqueue(session, message(2), now=NOW)
    (pending,) = rows(api)
    assert pending.payload is not None
    assert b"00000002" not in pending.payload
    assert b"alice@example.com" not in pending.payload
    assert (pending.sent_at, pending.attempts, pending.not_after) == (None, 0, NOW + timedelta(days=5))
    report = api.deliver()
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    (received,) = api.smtp.wait_for(1)
    assert received["Message-ID"] == f"<{message_id}@example.com>"
    assert code_in(received) == "00000002"
    (sent,) = rows(api)
    assert (sent.sent_at, sent.payload, sent.attempts, sent.lease_until) == (NOW, None, 1, None)
    assert api.deliver().sent == 0
    assert len(api.smtp.messages) == 1


def test_smtp_down_then_up_loses_nothing(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    first = MailServer(port=port).start()
    api = start_mailed(database_url, tmp_path, first, fixed_time=NOW)
    api.verified_account(SoftAuthenticator(), "alice@example.com")
    first.stop()  # the SMTP server goes down

    assert api.start("alice@example.com", api.browser()).status_code == 202
    report = api.deliver()
    assert (report.sent, report.retrying) == (0, 1)
    waiting = rows(api)[-1]
    assert (waiting.kind, waiting.attempts, waiting.sent_at, waiting.failed_at) == ("recovery", 1, None, None)
    assert waiting.next_attempt_at == NOW + timedelta(seconds=30)
    assert waiting.last_error is not None
    assert "ConnectionRefusedError" in waiting.last_error
    assert waiting.payload is not None  # kept for the retry

    second = MailServer(port=port).start()  # up again
    try:
        api.smtp = second
        assert api.deliver(at=NOW + timedelta(seconds=10)).sent == 0  # not due yet
        assert api.deliver(at=NOW + timedelta(seconds=31)).sent == 1
        (mail,) = second.wait_for(1)
        assert mail["Subject"] == "Your account recovery code"
        assert api.verify(api.browser(), email="alice@example.com", code=code_in(mail)).status_code == 200
        assert rows(api)[-1].attempts == 2
    finally:
        second.stop()


def test_concurrent_senders_send_every_mail_once(api: MailedService) -> None:
    runtime = api.passkeys.service.runtime
    with runtime.sessions.begin() as session:
        for n in range(16):
            runtime.mail.enqueue(session, message(n), now=NOW)
    reports = []
    barrier = threading.Barrier(4)

    def sender() -> None:
        barrier.wait()
        reports.append(runtime.mail.send_pending(runtime.sessions, now=NOW))

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = api.smtp.wait_for(16)
    time.sleep(0.2)
    assert len(api.smtp.messages) == 16
    assert len({mail["Message-ID"] for mail in received}) == 16
    assert sorted(code_in(mail) for mail in received) == [f"{n:08d}" for n in range(16)]
    assert sum(report.sent for report in reports) == 16
    assert all(row.sent_at is not None and row.attempts == 1 for row in rows(api))


def test_expired_refused_and_undecryptable_mails_are_kept_not_sent(api: MailedService) -> None:
    runtime = api.passkeys.service.runtime
    api.smtp.inbox.refuse.add("gone@example.com")
    other_key = Mailer(runtime.mail.transport, OutboxCipher(bytes(32)), mail_from="x <x@example.com>", public_url="")
    with runtime.sessions.begin() as session:
        runtime.mail.enqueue(session, message(1), now=NOW, not_after=NOW)
        runtime.mail.enqueue(session, message(2, to="gone@example.com"), now=NOW)
        other_key.enqueue(session, message(3), now=NOW)
    report = api.deliver()
    assert (report.sent, report.retrying, report.failed) == (0, 0, 3)
    assert api.smtp.messages == []
    expired, refused, undecryptable = rows(api)
    assert expired.last_error == "expired"
    assert refused.last_error is not None
    assert "SMTP 550" in refused.last_error
    assert undecryptable.last_error == "undecryptable"
    assert all(row.failed_at == NOW and row.payload is None and row.sent_at is None for row in rows(api))
    assert api.deliver(at=NOW + timedelta(hours=1)).failed == 0  # never retried
    # A week later, finished rows are deleted.
    api.deliver(at=NOW + KEEP_FINISHED + timedelta(seconds=1))
    assert rows(api) == []


def test_the_sender_loop_sends_when_woken_and_stops(tmp_path: Path, smtp: MailServer) -> None:
    api = start_mailed(f"sqlite:///{tmp_path / 'attest.db'}", tmp_path, smtp, fixed_time=None)
    runtime = api.passkeys.service.runtime
    loop = SenderLoop(runtime.mail, runtime.sessions, runtime.clock, interval=60.0)
    loop.start()
    try:
        time.sleep(0.2)  # the first pass found nothing; the next is a minute away unless woken
        with runtime.sessions.begin() as session:
            runtime.mail.enqueue(session, message(7), now=runtime.now())
        (mail,) = smtp.wait_for(1, timeout=5)
        assert code_in(mail) == "00000007"
    finally:
        loop.stop()
    assert not any(thread.name == "mail-sender" for thread in threading.enumerate())


def test_the_sender_runs_with_the_served_app(tmp_path: Path, smtp: MailServer) -> None:
    from fastapi.testclient import TestClient

    from attest.server.app import create_app

    api = start_mailed(f"sqlite:///{tmp_path / 'attest.db'}", tmp_path, smtp, fixed_time=None)
    with TestClient(create_app(api.passkeys.service.runtime)) as served:  # runs the lifespan
        assert served.post("/v1/recovery/start", json={"email": "nobody@example.com"}).status_code == 202
        runtime = api.passkeys.service.runtime
        with runtime.sessions.begin() as session:
            runtime.mail.enqueue(session, message(8), now=runtime.now())
        assert code_in(smtp.wait_for(1, timeout=5)[0]) == "00000008"
    assert not any(thread.name == "mail-sender" for thread in threading.enumerate())


def test_attest_mail_send_pending(
    tmp_path: Path, smtp: MailServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"sqlite:///{tmp_path / 'attest.db'}"
    api = start_mailed(database, tmp_path, smtp, fixed_time=NOW)
    runtime = api.passkeys.service.runtime
    with runtime.sessions.begin() as session:
        runtime.mail.enqueue(session, message(9), now=NOW)
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": database,
        "STATE_DIR": str(tmp_path / "state"),
        "FIXED_TIME": NOW.isoformat(),
        "EMAIL_BACKEND": "smtp",
        "SMTP_HOST": HOST,
        "SMTP_PORT": str(smtp.port),
        "SMTP_TLS": "none",
        "MAIL_FROM": "Example <no-reply@example.com>",
    }.items():
        monkeypatch.setenv(f"ATTEST_{name}", value)
    assert main(["mail", "send-pending"]) == 0
    assert "1 sent, 0 left to retry" in capsys.readouterr().out
    assert code_in(smtp.wait_for(1)[0]) == "00000009"
    with runtime.sessions.begin() as session:
        runtime.mail.enqueue(session, message(10), now=NOW)
    smtp.stop()
    assert main(["mail", "send-pending"]) == 1
    assert "0 sent, 1 left to retry" in capsys.readouterr().out


def test_retry_schedule() -> None:
    """RFC 5321 section 4.5.4.1: retries at least 30 minutes apart once the first quick ones failed."""
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 6, 7, 50)] == [30, 60, 120, 240, 960, 1800, 1800]
