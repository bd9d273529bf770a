"""Single-use server challenges (draft-ietf-oauth-attestation-based-client-auth section 8, "Challenge
Retrieval"): 32 random bytes, bound to a client and a purpose, short-lived, consumed atomically.

The value handed out is base64url (no padding) of the random bytes. Android apps pass the decoded
bytes to ``KeyGenParameterSpec.setAttestationChallenge``; iOS apps put the string, as given, into
their client data. Only SHA-256 of the value is stored.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NoReturn

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from attest.server.db.conditional_write import ConditionalWrite, write_in_order
from attest.server.db.engine import Executor, affected_rows
from attest.server.db.models import Challenge, table_of
from attest.server.errors import ChallengeExpired, ChallengeUnknown, ChallengeUsed

CHALLENGE_BYTES = 32


class Purpose(StrEnum):
    """What a challenge may be used for; a challenge for one purpose is unknown to the others."""

    ATTEST = "attest"
    ASSERTION = "assertion"


def encode_challenge(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_challenge(value: str) -> bytes | None:
    """The raw bytes of a challenge string, or None when it cannot be a challenge (canonical unpadded
    base64url of 1 to 128 bytes; Android accepts attestation challenges up to 128 bytes)."""
    if not isinstance(value, str) or not 2 <= len(value) <= 172:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return None
    return raw if raw and encode_challenge(raw) == value else None


def issue_challenge(session: Executor, *, client_id: str, purpose: Purpose, now: datetime, ttl: timedelta) -> str:
    """A fresh challenge of 32 random bytes, stored for ``client_id`` and ``purpose``."""
    value = encode_challenge(secrets.token_bytes(CHALLENGE_BYTES))
    store_challenge(session, value, client_id=client_id, purpose=purpose, now=now, ttl=ttl)
    return value


def store_challenge(
    session: Executor, value: str, *, client_id: str, purpose: Purpose, now: datetime, ttl: timedelta
) -> None:
    """Store a challenge value (its hash). :func:`issue_challenge` is the way to make one."""
    session.execute(
        _INSERT,
        {
            "challenge_hash": _hash(value),
            "client_id": client_id,
            "purpose": purpose.value,
            "created_at": now,
            "expires_at": now + ttl,
            "consumed_at": None,
        },
    )


def consume_challenge(session: Executor, value: str, *, client_id: str, purpose: Purpose, now: datetime) -> bytes:
    """Mark the challenge used and return its raw bytes, or raise why it cannot be used.

    A single conditional UPDATE decides (``consumed_at IS NULL AND expires_at > now``), so of any
    number of concurrent requests, on any number of processes, exactly one succeeds."""
    raw = decode_challenge(value)
    if raw is None:
        raise ChallengeUnknown("the challenge is not one this service issues")
    write_in_order(session, [challenge_consumption(value, client_id=client_id, purpose=purpose, now=now)])
    return raw


def challenge_consumption(value: str, *, client_id: str, purpose: Purpose, now: datetime) -> ConditionalWrite:
    """The conditional UPDATE that consumes the challenge (``consumed_at IS NULL AND expires_at > now``), for
    :func:`consume_challenge` or a verdict's writes; refused, it raises ``challenge.unknown`` (not this
    client's, not for this purpose, or no such challenge), ``challenge.used`` or ``challenge.expired``."""
    digest = _hash(value)

    def refused(session: Executor) -> NoReturn:
        row = session.execute(_READ, {"digest": digest}).one_or_none()
        if row is None or row.client_id != client_id or row.purpose != purpose.value:
            raise ChallengeUnknown("the challenge was not issued to this client for this purpose")
        if row.consumed_at is not None:
            raise ChallengeUsed("the challenge was already used")
        raise ChallengeExpired(f"the challenge expired at {row.expires_at.isoformat()}")

    parameters = {"digest": digest, "client": client_id, "for_purpose": purpose.value, "now": now}
    return ConditionalWrite(_CONSUME, parameters, refused)


def use_up_challenge(session: Executor, value: str, *, client_id: str, purpose: Purpose, now: datetime) -> None:
    """Mark the challenge used if it is not yet: after a failed attempt, which may have failed before
    consuming it or had its consumption rolled back (see :mod:`attest.server.verdict_transaction`)."""
    session.execute(_USE_UP, {"digest": _hash(value), "client": client_id, "for_purpose": purpose.value, "now": now})


def purge_expired(session: Session, *, now: datetime, keep: timedelta = timedelta(hours=1)) -> int:
    """Delete challenges expired for longer than ``keep`` (housekeeping)."""
    result = session.execute(delete(Challenge).where(Challenge.expires_at < now - keep))
    return affected_rows(result)


# The statements of the request path, built once (Core, on the table: no ORM bookkeeping per request).
_TABLE = table_of(Challenge)
_INSERT = insert(_TABLE)
#: This client's unconsumed challenge for this purpose, by its hash.
_UNCONSUMED = (
    _TABLE.c.challenge_hash == bindparam("digest"),
    _TABLE.c.client_id == bindparam("client"),
    _TABLE.c.purpose == bindparam("for_purpose"),
    _TABLE.c.consumed_at.is_(None),
)
_MARK_USED = update(_TABLE).values(consumed_at=bindparam("now"))
_CONSUME = _MARK_USED.where(*_UNCONSUMED, _TABLE.c.expires_at > bindparam("now"))
_USE_UP = _MARK_USED.where(*_UNCONSUMED)
_READ = select(_TABLE.c.client_id, _TABLE.c.purpose, _TABLE.c.expires_at, _TABLE.c.consumed_at).where(
    _TABLE.c.challenge_hash == bindparam("digest")
)


def _hash(value: str) -> bytes:
    return hashlib.sha256(value.encode("ascii")).digest()
