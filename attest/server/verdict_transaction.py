"""One database transaction per attest request.

Everything a successful request writes -- the consumed challenge, the stored key or advanced counter,
and its "valid" audit event -- commits together, or not at all. The routes run their verification
before their first write, so that the transaction holds no lock (SQLite's database lock, PostgreSQL's
row locks) while certificates are checked or Google answers a Play Integrity request. The conditional
writes a verdict stands on (:class:`~attest.server.db.conditional_write.ConditionalWrite`: the challenge,
the counter) are collected and sent at the end, in order; a route whose every write is one of them may
have them sent, with the audit event, as one statement (``one_statement``: PostgreSQL, see
:mod:`attest.server.db.conditional_write`). When a check fails
(:class:`~attest.errors.AttestationError`), the transaction is rolled back, and a second one records
the "invalid" audit event and uses up the challenge the request presented (a no-op for a value that is
not a usable challenge of this client): a failed attempt still spends its single-use challenge
(draft-ietf-oauth-attestation-based-client-auth section 8), and nothing else of it is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from attest.errors import AttestationError
from attest.server.audit import RequestAudit
from attest.server.challenges import Purpose, challenge_consumption, decode_challenge, use_up_challenge
from attest.server.db.conditional_write import ConditionalWrite, write_as_one_statement, write_in_order
from attest.server.db.models import AuditEvent, table_of
from attest.server.errors import ChallengeUnknown

#: Where the request's statements run: a Core connection, or an ORM session where ORM helpers are used.
Database = TypeVar("Database", Connection, Session)

#: Work for the failure transaction: ``(database, error)`` after the request's own transaction rolled back.
FailureAction = Callable[[Database, AttestationError], None]


@dataclass(frozen=True, slots=True)
class _PresentedChallenge:
    value: str
    client_id: str
    purpose: Purpose


@dataclass(slots=True)
class VerdictTransaction(Generic[Database]):
    """The request's transaction (``database``: a Core connection for the attest routes, an ORM session
    for the passkey routes), the audit subject (an account id, once known), and what the failure
    transaction must do should a later check fail: spend the challenges presented, run the actions."""

    database: Database
    now: datetime
    subject: str | None = None
    presented: list[_PresentedChallenge] = field(default_factory=list)
    failure_actions: list[FailureAction[Database]] = field(default_factory=list)
    writes: list[ConditionalWrite] = field(default_factory=list)

    def present_challenge(self, value: str, *, client_id: str, purpose: Purpose) -> bytes:
        """The raw bytes of the challenge the request presents, for checks that run before it is consumed
        (``challenge.unknown`` when the value cannot be a challenge of ours). Should the request fail from
        here on, the challenge is used up all the same; :meth:`consume_challenge` decides its single use."""
        raw = decode_challenge(value)
        if raw is None:
            raise ChallengeUnknown("the challenge is not one this service issues")
        self._remember(_PresentedChallenge(value, client_id, purpose))
        return raw

    def consume_challenge(self, value: str, *, client_id: str, purpose: Purpose) -> bytes:
        """Consume the challenge with the verdict's writes (:func:`attest.server.challenges.challenge_consumption`:
        ``challenge.unknown`` at once for a value that cannot be one; ``challenge.used`` or ``challenge.expired``
        when the writes are sent); a failure after this point still uses the challenge up."""
        raw = self.present_challenge(value, client_id=client_id, purpose=purpose)
        self.write(challenge_consumption(value, client_id=client_id, purpose=purpose, now=self.now))
        return raw

    def write(self, write: ConditionalWrite) -> None:
        """Send ``write`` with the verdict's writes, after the request's checks, in the order given."""
        self.writes.append(write)

    def on_failure(self, action: FailureAction[Database]) -> None:
        """Run ``action`` in the failure transaction, should the request fail after this point."""
        self.failure_actions.append(action)

    def _remember(self, challenge: _PresentedChallenge) -> None:
        if challenge not in self.presented:
            self.presented.append(challenge)

    def spend_after_failure(self, database: Database, error: AttestationError) -> None:
        """The failure transaction's work: use up every presented challenge, then the registered actions."""
        for challenge in self.presented:
            use_up_challenge(
                database, challenge.value, client_id=challenge.client_id, purpose=challenge.purpose, now=self.now
            )
        for action in self.failure_actions:
            action(database, error)


@contextmanager
def verdict_transaction(
    begin: Callable[[], AbstractContextManager[Database]],
    audit: RequestAudit,
    *,
    now: datetime,
    one_statement: Callable[[], AbstractContextManager[Connection]] | None = None,
) -> Iterator[VerdictTransaction[Database]]:
    """Run the request's checks and writes in one transaction (``begin()``: ``engine.begin`` or
    ``sessions.begin``) that also records the "valid" audit event; on an :class:`AttestationError`,
    roll back, then use up the presented challenges, run the registered failure actions and record
    "invalid" with the error's code in a transaction of their own, and raise the error again.

    ``one_statement`` (PostgreSQL, for a request that writes nothing but its conditional writes): the
    checks run on a connection from it, in autocommit, and the writes and the "valid" audit event are
    sent as one statement; ``begin`` opens the failure transaction."""
    transaction: VerdictTransaction[Database] | None = None
    try:
        attempt: AbstractContextManager[Any] = one_statement() if one_statement is not None else begin()
        with attempt as database:
            transaction = VerdictTransaction(database, now)
            yield transaction
            if one_statement is None:
                write_in_order(database, transaction.writes)
                audit.record_in(database, "valid", subject=transaction.subject)
            else:
                assert isinstance(database, Connection)
                row = audit.row("valid", subject=transaction.subject)
                write_as_one_statement(database, transaction.writes, _AUDIT_EVENTS, row)
    except AttestationError as error:
        assert transaction is not None  # only the request's own work raises these, not begin()
        with begin() as database:
            transaction.spend_after_failure(database, error)
            audit.record_in(database, "invalid", error.code, subject=transaction.subject)
        audit.publish("invalid", error.code, subject=transaction.subject)
        raise
    audit.publish("valid", subject=transaction.subject)


_AUDIT_EVENTS = table_of(AuditEvent)
