"""One-time secrets mailed to an address, for account recovery and for email verification: a long token
for the link and a short code for typing on a phone, issued together and redeemed once by either.

The rules, from NIST SP 800-63B (revision 3 and 4 agree on these):

* Entropy (section 5.1.3.1, out-of-band secrets; section 5.2.2): the link's token is 32 bytes from the
  operating system's CSPRNG (256 bits, beyond the 128 the link needs against offline and online guessing);
  the code is 8 decimal digits (26.6 bits), above the 20 bits allowed only together with a limit on
  attempts, which follows.
* Attempts (section 5.2.2, rate limiting): at most :data:`MAX_CODE_ATTEMPTS` code comparisons per secret,
  counted *before* each comparison by one conditional UPDATE, so that concurrent guesses on any number of
  workers cannot get more; after them the code is locked. The token, unguessable, is not locked by them:
  someone guessing codes cannot take the link away from its owner.
* Storage (section 5.1.1.2): only keyed hashes, HMAC-SHA256 under a key derived from the service's
  key-encryption key, which the database does not hold: a copy of the database reveals neither the
  tokens nor, by trying all 10^8 codes, the codes. Codes are bound to their row and purpose.
* Comparison: :func:`hmac.compare_digest`, constant time. A token is found by the index on its keyed hash;
  that lookup's timing reveals nothing about any secret's value.
* Single use and expiry (section 5.1.3.2): a secret is consumed by one conditional UPDATE (``consumed_at IS
  NULL AND expires_at > now``); issuing a new one for the same account and purpose supersedes the others.

Redemption returns an :class:`Outcome` instead of raising, so that the caller commits the attempt it
counted before refusing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from fido import base64url
from fido.credentials import lock_account
from fido.models import EmailSecret

TOKEN_BYTES = 32
CODE_DIGITS = 8
MAX_CODE_ATTEMPTS = 5
#: The HKDF info of the hashing key (attest.server.signing_keys.KeyEncryption.derive).
KEY_PURPOSE = "attest email secret hashes v1"
#: Rows expired longer than this are deleted when the account is issued a new secret.
KEEP_EXPIRED = timedelta(days=1)

_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_CODE_SEPARATORS = re.compile(r"[\s-]")


class Purpose(StrEnum):
    RECOVERY = "recovery"
    VERIFICATION = "verification"


class Outcome(StrEnum):
    """Why a secret was not redeemed."""

    UNKNOWN = "unknown"  # no such token; or no secret issued to the account
    MISMATCH = "mismatch"  # the code is wrong (one attempt used)
    LOCKED = "locked"  # MAX_CODE_ATTEMPTS wrong codes were tried
    EXPIRED = "expired"
    USED = "used"
    SUPERSEDED = "superseded"  # a newer secret replaced it


@dataclass(frozen=True)
class NewSecret:
    """A secret before it is stored: what is mailed (``token``, ``code``) and what is kept (the hashes)."""

    id: str
    purpose: Purpose
    token: str
    code: str
    token_hash: bytes
    code_hash: bytes
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Redeemed:
    """A consumed secret: whose, and which address it proved."""

    id: str
    purpose: Purpose
    user_id: str
    email: str


class SecretHasher:
    """HMAC-SHA256 of tokens and codes under a key that is not in the database."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the secret-hashing key must have 32 bytes or more")
        self._key = key

    def token_hash(self, token: str) -> bytes:
        return hmac.new(self._key, b"token\x00" + token.encode("ascii"), hashlib.sha256).digest()

    def code_hash(self, secret_id: str, purpose: Purpose, code: str) -> bytes:
        message = b"\x00".join((b"code", secret_id.encode("ascii"), purpose.value.encode("ascii"), code.encode()))
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def code_matches(self, stored: bytes, secret_id: str, purpose: Purpose, code: str) -> bool:
        return hmac.compare_digest(stored, self.code_hash(secret_id, purpose, code))


def new_secret(hasher: SecretHasher, purpose: Purpose, *, now: datetime, ttl: timedelta) -> NewSecret:
    """A fresh token and code (CSPRNG), and their hashes. Pure: nothing is stored."""
    secret_id = base64url.encode(secrets.token_bytes(16))
    token = base64url.encode(secrets.token_bytes(TOKEN_BYTES))
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    return NewSecret(
        id=secret_id,
        purpose=purpose,
        token=token,
        code=code,
        token_hash=hasher.token_hash(token),
        code_hash=hasher.code_hash(secret_id, purpose, code),
        created_at=now,
        expires_at=now + ttl,
    )


def normalize_code(value: str) -> str | None:
    """The code as typed, without spaces and hyphens; None unless it is exactly :data:`CODE_DIGITS` digits
    (such a value cannot match, and is refused without using an attempt)."""
    if len(value) > 4 * CODE_DIGITS:
        return None
    digits = _CODE_SEPARATORS.sub("", value)
    return digits if len(digits) == CODE_DIGITS and digits.isascii() and digits.isdigit() else None


def store_secret(session: Session, secret: NewSecret, *, user_id: str, email: str) -> None:
    """Store ``secret`` for the account, superseding its other secrets of the same purpose (used ones too:
    the newest is then the only one not superseded, which is the one a typed code is compared with)."""
    now = secret.created_at
    lock_account(session, user_id)  # concurrent issuances for one account run one after the other
    session.execute(
        update(EmailSecret)
        .where(
            EmailSecret.user_id == user_id,
            EmailSecret.purpose == secret.purpose.value,
            EmailSecret.superseded_at.is_(None),
        )
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(EmailSecret).where(EmailSecret.user_id == user_id, EmailSecret.expires_at < now - KEEP_EXPIRED)
    )
    session.add(
        EmailSecret(
            id=secret.id,
            purpose=secret.purpose.value,
            user_id=user_id,
            email=email,
            token_hash=secret.token_hash,
            code_hash=secret.code_hash,
            code_attempts=0,
            created_at=now,
            expires_at=secret.expires_at,
            consumed_at=None,
            superseded_at=None,
        )
    )


def supersede_secrets(session: Session, *, user_id: str, purpose: Purpose, now: datetime) -> None:
    """Invalidate the account's live secrets of ``purpose`` (e.g. recovery mails sent to a replaced address)."""
    session.execute(
        update(EmailSecret)
        .where(
            EmailSecret.user_id == user_id,
            EmailSecret.purpose == purpose.value,
            EmailSecret.consumed_at.is_(None),
            EmailSecret.superseded_at.is_(None),
        )
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )


def redeem_token(
    session: Session, hasher: SecretHasher, *, purpose: Purpose, token: str, now: datetime
) -> Redeemed | Outcome:
    """Consume the secret whose link carries ``token``, or say why not."""
    if not _TOKEN.fullmatch(token):
        return Outcome.UNKNOWN
    token_hash = hasher.token_hash(token)
    row = session.execute(
        update(EmailSecret)
        .where(
            EmailSecret.token_hash == token_hash,
            EmailSecret.purpose == purpose.value,
            EmailSecret.consumed_at.is_(None),
            EmailSecret.superseded_at.is_(None),
            EmailSecret.expires_at > now,
        )
        .values(consumed_at=now)
        .returning(EmailSecret.id, EmailSecret.user_id, EmailSecret.email)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is not None:
        return Redeemed(id=row.id, purpose=purpose, user_id=row.user_id, email=row.email)
    stored = session.scalars(
        select(EmailSecret).where(EmailSecret.token_hash == token_hash, EmailSecret.purpose == purpose.value)
    ).one_or_none()
    if stored is None:
        return Outcome.UNKNOWN
    return _why_not(stored, now)


def redeem_code(
    session: Session, hasher: SecretHasher, *, purpose: Purpose, user_id: str | None, code: str, now: datetime
) -> Redeemed | Outcome:
    """Consume the account's live secret of ``purpose`` if ``code`` is its code, using one attempt. With
    no account (``user_id`` None) or no secret, one HMAC is still computed, like a real comparison."""
    normalized = normalize_code(code)
    stored = (
        session.scalars(
            select(EmailSecret)
            .where(
                EmailSecret.user_id == user_id,
                EmailSecret.purpose == purpose.value,
                EmailSecret.superseded_at.is_(None),
            )
            .order_by(EmailSecret.created_at.desc(), EmailSecret.id)
            .limit(1)
        ).one_or_none()
        if user_id is not None
        else None
    )
    if stored is None:
        hasher.code_matches(bytes(32), "-", purpose, normalized or "")
        return Outcome.UNKNOWN
    if normalized is None:
        return Outcome.MISMATCH
    # Count the attempt first (NIST SP 800-63B section 5.2.2): only a counted attempt is compared.
    counted = session.execute(
        update(EmailSecret)
        .where(
            EmailSecret.id == stored.id,
            EmailSecret.consumed_at.is_(None),
            EmailSecret.superseded_at.is_(None),
            EmailSecret.expires_at > now,
            EmailSecret.code_attempts < MAX_CODE_ATTEMPTS,
        )
        .values(code_attempts=EmailSecret.code_attempts + 1)
        .returning(EmailSecret.code_hash)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if counted is None:
        session.refresh(stored)
        return _why_not(stored, now)
    if not hasher.code_matches(counted.code_hash, stored.id, purpose, normalized):
        return Outcome.MISMATCH
    consumed = session.execute(
        update(EmailSecret)
        .where(EmailSecret.id == stored.id, EmailSecret.consumed_at.is_(None))
        .values(consumed_at=now)
        .returning(EmailSecret.id)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if consumed is None:
        return Outcome.USED
    return Redeemed(id=stored.id, purpose=purpose, user_id=stored.user_id, email=stored.email)


def _why_not(stored: EmailSecret, now: datetime) -> Outcome:
    if stored.consumed_at is not None:
        return Outcome.USED
    if stored.superseded_at is not None:
        return Outcome.SUPERSEDED
    if stored.expires_at <= now:
        return Outcome.EXPIRED
    return Outcome.LOCKED
