"""One database transaction per attest request.

Everything a successful request writes -- the consumed challenge, the stored key or advanced counter,
and its "valid" audit event -- commits together, or not at all. When a check fails
(:class:`~attest.errors.AttestationError`), the transaction is rolled back, and a second one records
the "invalid" audit event and uses up the challenge the request presented, if it had been accepted:
a failed attempt still spends its single-use challenge (draft-ietf-oauth-attestation-based-client-auth
section 8), and nothing else of it is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from attest.errors import AttestationError
from attest.server.audit import RequestAudit
from attest.server.challenges import Purpose, consume_challenge, use_up_challenge

#: Work for the failure transaction: ``(session, error)`` after the request's own transaction rolled back.
FailureAction = Callable[[Session, AttestationError], None]


@dataclass(slots=True)
class VerdictTransaction:
    """The request's transaction (``session``), the audit subject (an account id, once known), and
    what the failure transaction must do should a later check fail."""

    session: Session
    now: datetime
    subject: str | None = None
    failure_actions: list[FailureAction] = field(default_factory=list)

    def consume_challenge(self, value: str, *, client_id: str, purpose: Purpose) -> bytes:
        """:func:`attest.server.challenges.consume_challenge`; a failure after it still uses the challenge up."""
        raw = consume_challenge(self.session, value, client_id=client_id, purpose=purpose, now=self.now)
        self.on_failure(
            lambda session, _error: use_up_challenge(session, value, client_id=client_id, purpose=purpose, now=self.now)
        )
        return raw

    def on_failure(self, action: FailureAction) -> None:
        """Run ``action`` in the failure transaction, should the request fail after this point."""
        self.failure_actions.append(action)


@contextmanager
def verdict_transaction(
    sessions: sessionmaker[Session], audit: RequestAudit, *, now: datetime
) -> Iterator[VerdictTransaction]:
    """Run the request's checks and writes in one transaction that also records the "valid" audit event;
    on an :class:`AttestationError`, roll back, then run the registered failure actions (using up the
    accepted challenge) and record "invalid" with the error's code in a transaction of their own, and
    raise the error again."""
    transaction: VerdictTransaction | None = None
    try:
        with sessions.begin() as session:
            transaction = VerdictTransaction(session, now)
            yield transaction
            audit.record_in(session, "valid", subject=transaction.subject)
    except AttestationError as error:
        assert transaction is not None  # only the request's own work raises these, not begin()
        with sessions.begin() as session:
            for action in transaction.failure_actions:
                action(session, error)
            audit.record_in(session, "invalid", error.code, subject=transaction.subject)
        audit.publish("invalid", error.code, subject=transaction.subject)
        raise
    audit.publish("valid", subject=transaction.subject)
