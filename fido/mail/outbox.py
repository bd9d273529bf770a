"""The transactional outbox: a mail is a row written in the same transaction as the change it reports (a
recovery secret, a new passkey), so that it is sent if and only if that change was committed; a sender
loop delivers the rows, retries with backoff, and loses nothing while the SMTP server is down.

Claiming is one statement, ``UPDATE ... WHERE id = (SELECT id ... LIMIT 1 FOR UPDATE SKIP LOCKED)``:
on PostgreSQL concurrent senders skip each other's rows instead of waiting; SQLite takes its single
write lock for the statement (``FOR UPDATE`` is not rendered there). A claim is a lease with a random
token: the mail is sent outside any transaction (an SMTP exchange may take seconds), and only the
claimant may then mark it sent. Several workers therefore never send the same mail twice, except when
a sender dies between the server's acceptance and its own commit, which SMTP's at-least-once delivery
cannot exclude (RFC 5321 section 6.1); the mail then goes again with the same Message-ID.

At rest the message is sealed with AES-256-GCM under a key derived from the service's key-encryption key,
with the row's random ``message_id`` as associated data (a payload cannot be moved to another row), and
erased once sent, refused or expired: a reader of the database sees neither codes nor links.

Retries follow RFC 5321 section 4.5.4.1: at least 30 minutes apart eventually (30 s, doubling, at most
30 min), giving up after 4-5 days; a mail that carries a secret gives up when the secret expires.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.orm import Session, sessionmaker

from attest.server.settings import Settings
from fido.errors import MailDeliveryFailed, MailDeliveryRefused
from fido.mail.message import MailMessage, to_mime
from fido.mail.transport import MailTransport, transport_from_settings
from fido.models import OutboxEmail

log = logging.getLogger("fido.mail")

#: How long a claim keeps other senders off a mail (longer than one SMTP exchange can take).
LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(minutes=30)
#: RFC 5321 section 4.5.4.1: "the give-up time generally needs to be at least 4-5 days".
NOTIFICATION_LIFETIME = timedelta(days=5)
#: Sent and failed rows (without their content) are kept this long for operators, then deleted.
KEEP_FINISHED = timedelta(days=7)
#: The HKDF info of the outbox key (attest.server.signing_keys.KeyEncryption.derive).
KEY_PURPOSE = "attest email outbox v1"


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 30 s, 1 min, 2 min, ... at most 30 min."""
    doublings: int = max(0, min(attempts - 1, 16))
    return min(FIRST_RETRY * (1 << doublings), LAST_RETRY)


class OutboxCipher:
    """AES-256-GCM over the JSON of a :class:`MailMessage`, with the outbox row's ``message_id`` as
    associated data."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, message_id: str, message: MailMessage) -> bytes:
        nonce = secrets.token_bytes(12)
        plaintext = json.dumps(message.as_dict(), separators=(",", ":")).encode()
        return nonce + self._aead.encrypt(nonce, plaintext, message_id.encode())

    def open(self, message_id: str, sealed: bytes) -> MailMessage | None:
        """The message, or None when it cannot be decrypted (another key, a moved or altered row)."""
        try:
            plaintext = self._aead.decrypt(sealed[:12], sealed[12:], message_id.encode())
            return MailMessage.from_dict(json.loads(plaintext))
        except (InvalidTag, ValueError, KeyError, TypeError):
            return None


@dataclass
class SendReport:
    """What one pass over the outbox did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Claimed:
    id: int
    message_id: str
    kind: str
    payload: bytes | None
    created_at: datetime
    not_after: datetime
    attempts: int
    claim: str


class Mailer:
    """The outbox of this process: queues mails in a caller's transaction, sends what is due, and wakes
    its sender loop when a transaction that queued a mail commits."""

    def __init__(self, transport: MailTransport, cipher: OutboxCipher, *, mail_from: str, public_url: str) -> None:
        self.transport = transport
        self.cipher = cipher
        self.mail_from = mail_from
        self.public_url = public_url
        self._wake = threading.Event()

    @classmethod
    def from_settings(cls, settings: Settings, key: bytes) -> Mailer:
        return cls(
            transport_from_settings(settings),
            OutboxCipher(key),
            mail_from=settings.mail_from,
            public_url=settings.public_url,
        )

    def link(self, path: str, **secret: str) -> str:
        """An absolute link to one of our pages (``ATTEST_PUBLIC_URL`` + ``path``), with ``secret`` (e.g.
        ``token=...``) in the fragment: a browser never sends a fragment to a server (RFC 3986 section 3.5),
        so the secret stays out of access logs, proxies and Referer headers; the page's script reads it
        and sends it in a POST body."""
        return f"{self.public_url}{path}" + (f"#{urlencode(secret)}" if secret else "")

    def enqueue(
        self, session: Session, message: MailMessage, *, now: datetime, not_after: datetime | None = None
    ) -> str:
        """Queue ``message`` in ``session``'s transaction: it is sent only if that transaction commits.
        ``not_after``: do not send it later than this (default: the RFC 5321 give-up time)."""
        message_id = secrets.token_hex(16)
        session.add(
            OutboxEmail(
                message_id=message_id,
                kind=message.kind,
                payload=self.cipher.seal(message_id, message),
                created_at=now,
                not_after=not_after if not_after is not None else now + NOTIFICATION_LIFETIME,
                next_attempt_at=now,
                attempts=0,
                lease_until=None,
                claim=None,
                sent_at=None,
                failed_at=None,
                last_error=None,
            )
        )
        sqlalchemy_event.listen(session, "after_commit", self._after_commit, once=True)
        return message_id

    def wake(self) -> None:
        """Ask the sender loop to look at the outbox now rather than at its next interval."""
        self._wake.set()

    def wait_for_mail(self, timeout: float) -> None:
        """Block until :meth:`wake` or ``timeout`` seconds, whichever comes first (the sender loop)."""
        self._wake.wait(timeout)
        self._wake.clear()

    def _after_commit(self, session: Session) -> None:
        self.wake()

    def send_pending(self, sessions: sessionmaker[Session], *, now: datetime, limit: int = 100) -> SendReport:
        """Send the mails that are due, one claim at a time, at most ``limit``; then housekeeping. A
        transient failure ends the pass (the server is likely down for the next mail too)."""
        report = SendReport()
        for _ in range(limit):
            with sessions.begin() as session:
                claimed = _claim_next(session, now=now)
            if claimed is None:
                break
            outcome = self._deliver(sessions, claimed, now=now)
            if outcome == "sent":
                report.sent += 1
            elif outcome == "failed":
                report.failed += 1
            else:
                report.retrying += 1
                break
        with sessions.begin() as session:
            _housekeeping(session, now=now)
        return report

    def _deliver(self, sessions: sessionmaker[Session], claimed: _Claimed, *, now: datetime) -> str:
        if claimed.not_after <= now:
            return _finish(sessions, claimed, now=now, failed="expired")
        message = self.cipher.open(claimed.message_id, claimed.payload) if claimed.payload is not None else None
        if message is None:
            log.error("mail %s (%s) cannot be decrypted; dropped", claimed.id, claimed.kind)
            return _finish(sessions, claimed, now=now, failed="undecryptable")
        mime = to_mime(message, mail_from=self.mail_from, message_id=claimed.message_id, date=claimed.created_at)
        try:
            self.transport.send(mime)
        except MailDeliveryRefused as error:
            log.warning("mail %s (%s) refused for good: %s", claimed.id, claimed.kind, error.message)
            return _finish(sessions, claimed, now=now, failed=error.message)
        except MailDeliveryFailed as error:
            retry_at = now + retry_delay(claimed.attempts)
            log.warning(
                "mail %s (%s) not sent (attempt %d), retry at %s: %s",
                claimed.id,
                claimed.kind,
                claimed.attempts,
                retry_at.isoformat(),
                error.message,
            )
            with sessions.begin() as session:
                _release(session, claimed, retry_at=retry_at, error=error.message)
            return "retrying"
        log.info("mail %s (%s) sent", claimed.id, claimed.kind)
        return _finish(sessions, claimed, now=now, failed=None)


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        OutboxEmail.sent_at.is_(None),
        OutboxEmail.failed_at.is_(None),
        OutboxEmail.next_attempt_at <= now,
        or_(OutboxEmail.lease_until.is_(None), OutboxEmail.lease_until <= now),
    ]


def _claim_next(session: Session, *, now: datetime) -> _Claimed | None:
    """Lease the next due mail to this sender, or None. One statement; see the module docstring."""
    token = secrets.token_hex(16)
    candidate = (
        select(OutboxEmail.id)
        .where(*_due(now))
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == candidate, *_due(now))
        .values(lease_until=now + LEASE, claim=token, attempts=OutboxEmail.attempts + 1)
        .returning(
            OutboxEmail.id,
            OutboxEmail.message_id,
            OutboxEmail.kind,
            OutboxEmail.payload,
            OutboxEmail.created_at,
            OutboxEmail.not_after,
            OutboxEmail.attempts,
        )
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is None:
        return None
    return _Claimed(
        id=row.id,
        message_id=row.message_id,
        kind=row.kind,
        payload=row.payload,
        created_at=row.created_at,
        not_after=row.not_after,
        attempts=row.attempts,
        claim=token,
    )


def _finish(sessions: sessionmaker[Session], claimed: _Claimed, *, now: datetime, failed: str | None) -> str:
    """Mark the claimed mail sent (``failed`` None) or failed for good; its content is erased either way."""
    values: dict[str, object] = {"payload": None, "lease_until": None, "claim": None}
    if failed is None:
        values.update(sent_at=now, last_error=None)
    else:
        values.update(failed_at=now, last_error=failed[:128])
    with sessions.begin() as session:
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == claimed.id, OutboxEmail.claim == claimed.claim)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return "sent" if failed is None else "failed"


def _release(session: Session, claimed: _Claimed, *, retry_at: datetime, error: str) -> None:
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == claimed.id, OutboxEmail.claim == claimed.claim)
        .values(next_attempt_at=retry_at, lease_until=None, claim=None, last_error=error[:128])
        .execution_options(synchronize_session=False)
    )


def _housekeeping(session: Session, *, now: datetime) -> None:
    """Expire unsent mails past ``not_after`` (erasing their content), delete finished ones after a week."""
    session.execute(
        update(OutboxEmail)
        .where(
            OutboxEmail.sent_at.is_(None),
            OutboxEmail.failed_at.is_(None),
            OutboxEmail.not_after <= now,
            or_(OutboxEmail.lease_until.is_(None), OutboxEmail.lease_until <= now),
        )
        .values(failed_at=now, payload=None, lease_until=None, claim=None, last_error="expired")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(OutboxEmail).where(
            or_(OutboxEmail.sent_at < now - KEEP_FINISHED, OutboxEmail.failed_at < now - KEEP_FINISHED)
        )
    )


class SenderLoop:
    """A daemon thread that sends the outbox every ``interval`` seconds, and at once when this process
    queued a mail (:meth:`Mailer.wake`). :meth:`stop` ends it after the mail in hand."""

    def __init__(
        self,
        mailer: Mailer,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        interval: float,
    ) -> None:
        self._mailer = mailer
        self._sessions = sessions
        self._clock = clock
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the mail sender is already running")
        self._thread = threading.Thread(target=self._run, name="mail-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._mailer.wake()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._mailer.send_pending(self._sessions, now=self._clock())
            except Exception as error:  # noqa: BLE001 -- the loop must outlive a database outage; type only
                log.warning("mail sender pass failed: %s", type(error).__name__)
            self._mailer.wait_for_mail(self._interval)
