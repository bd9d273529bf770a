"""WebAuthn ceremonies in the database: the challenge of each registration, sign-in or removal, bound to
what it is for and to the browser that asked for it, short-lived and single use (WebAuthn Level 3
section 13.4.3, "Cryptographic Challenges").

A ceremony is consumed by one conditional UPDATE (``consumed_at IS NULL AND expires_at > now`` and the
same kind and browser binding), so of any number of concurrent attempts, on any number of worker
processes, exactly one gets the challenge. A failed verification does not give it back: every
response gets one try.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from attest.server.db.engine import affected_rows
from attest.server.db.models import table_of
from fido import base64url
from fido.errors import ChallengeBinding, ChallengeExpired, ChallengeUnknown, ChallengeUsed
from fido.models import WebAuthnCeremony

CHALLENGE_BYTES = 32
CEREMONY_ID_BYTES = 32


class CeremonyKind(StrEnum):
    """What a ceremony's response may be used for; a ceremony of one kind is unknown to the others."""

    REGISTRATION = "registration"
    AUTHENTICATION = "authentication"
    REMOVAL = "removal"
    #: The registration of the one passkey a recovery session adds (fido.recovery): only that session
    #: completes it, and a signed-in registration cannot consume it.
    RECOVERY = "recovery"


@dataclass(frozen=True)
class Ceremony:
    """A consumed ceremony: its challenge and what it was started for."""

    ceremony_id: str
    kind: CeremonyKind
    challenge: bytes
    require_user_verification: bool
    #: The account it concerns, if one was known when it started.
    user_id: str | None
    #: A new account's username, display name and user handle (registration without a session).
    username: str | None
    display_name: str | None
    user_handle: bytes | None
    #: The passkey whose removal it confirms (removal).
    credential_id: bytes | None


def start_ceremony(
    session: Session,
    *,
    kind: CeremonyKind,
    binding: str,
    now: datetime,
    ttl: timedelta,
    require_user_verification: bool,
    user_id: str | None = None,
    username: str | None = None,
    display_name: str | None = None,
    user_handle: bytes | None = None,
    credential_id: bytes | None = None,
) -> Ceremony:
    """A new ceremony with 32 random bytes of challenge, bound to the browser whose binding cookie value
    is ``binding``."""
    ceremony = Ceremony(
        ceremony_id=base64url.encode(secrets.token_bytes(CEREMONY_ID_BYTES)),
        kind=kind,
        challenge=secrets.token_bytes(CHALLENGE_BYTES),
        require_user_verification=require_user_verification,
        user_id=user_id,
        username=username,
        display_name=display_name,
        user_handle=user_handle,
        credential_id=credential_id,
    )
    session.add(
        WebAuthnCeremony(
            ceremony_id=ceremony.ceremony_id,
            kind=kind.value,
            challenge=ceremony.challenge,
            binding_hash=binding_hash(binding),
            require_user_verification=require_user_verification,
            user_id=user_id,
            username=username,
            display_name=display_name,
            user_handle=user_handle,
            credential_id=credential_id,
            created_at=now,
            expires_at=now + ttl,
            consumed_at=None,
        )
    )
    return ceremony


def consume_ceremony(
    session: Session, ceremony_id: str, *, kind: CeremonyKind, binding: str | None, now: datetime
) -> Ceremony:
    """Mark the ceremony used and return it, or raise why it cannot be used. A request from another
    browser (wrong or no binding) does not consume it, so it cannot be burnt by whoever saw its id."""
    if binding is None:
        raise ChallengeBinding("this browser did not start the ceremony (no ceremony cookie was sent)")
    row = session.execute(
        _CONSUME, {"ceremony": ceremony_id, "of_kind": kind.value, "binding": binding_hash(binding), "now": now}
    ).one_or_none()
    if row is not None:
        return Ceremony(
            ceremony_id=ceremony_id,
            kind=kind,
            challenge=row.challenge,
            require_user_verification=row.require_user_verification,
            user_id=row.user_id,
            username=row.username,
            display_name=row.display_name,
            user_handle=row.user_handle,
            credential_id=row.credential_id,
        )
    stored = session.execute(
        select(
            WebAuthnCeremony.kind,
            WebAuthnCeremony.binding_hash,
            WebAuthnCeremony.expires_at,
            WebAuthnCeremony.consumed_at,
        ).where(WebAuthnCeremony.ceremony_id == ceremony_id)
    ).one_or_none()
    if stored is None or stored.kind != kind.value:
        raise ChallengeUnknown(f"no {kind.value} ceremony has this id")
    if stored.binding_hash != binding_hash(binding):
        raise ChallengeBinding("the ceremony was started in another browser session")
    if stored.consumed_at is not None:
        raise ChallengeUsed("the ceremony was already completed or failed; start a new one")
    raise ChallengeExpired(f"the ceremony expired at {stored.expires_at.isoformat()}; start a new one")


def use_up_ceremony(session: Session, ceremony_id: str, *, now: datetime) -> None:
    """Mark a ceremony that was consumed in a transaction that then rolled back (its verification failed)
    as used, so that a failed attempt still spends it."""
    session.execute(_USE_UP, {"ceremony": ceremony_id, "now": now})


def purge_expired(session: Session, *, now: datetime, keep: timedelta = timedelta(hours=1)) -> int:
    """Delete ceremonies expired for longer than ``keep`` (housekeeping)."""
    return affected_rows(session.execute(delete(WebAuthnCeremony).where(WebAuthnCeremony.expires_at < now - keep)))


# The statements of the verify requests, built once (Core, on the table: no ORM bookkeeping per request).
_CEREMONIES = table_of(WebAuthnCeremony)
_CONSUME = (
    update(_CEREMONIES)
    .where(
        _CEREMONIES.c.ceremony_id == bindparam("ceremony"),
        _CEREMONIES.c.kind == bindparam("of_kind"),
        _CEREMONIES.c.binding_hash == bindparam("binding"),
        _CEREMONIES.c.consumed_at.is_(None),
        _CEREMONIES.c.expires_at > bindparam("now"),
    )
    .values(consumed_at=bindparam("now"))
    .returning(
        _CEREMONIES.c.challenge,
        _CEREMONIES.c.require_user_verification,
        _CEREMONIES.c.user_id,
        _CEREMONIES.c.username,
        _CEREMONIES.c.display_name,
        _CEREMONIES.c.user_handle,
        _CEREMONIES.c.credential_id,
    )
)
_USE_UP = (
    update(_CEREMONIES)
    .where(_CEREMONIES.c.ceremony_id == bindparam("ceremony"), _CEREMONIES.c.consumed_at.is_(None))
    .values(consumed_at=bindparam("now"))
)


def binding_hash(binding: str) -> bytes:
    return hashlib.sha256(binding.encode("utf-8")).digest()
