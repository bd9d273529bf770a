"""Proving that an account's holder reads an email address, at sign-up or later: a mailed code (typed while
signed in) or link (opened anywhere), then the address becomes the account's verified recovery address.

The address being proved stays on the secret (fido.email_secrets) until it is proved: an account's
verified address changes only by a redeemed secret, and the previous verified address is told of the
change (and loses its pending recovery mails). Requesting a verification reveals nothing about other
accounts: whether another account verified the same address is said only after the code or link proved
that the requester reads that mailbox (:class:`fido.errors.EmailTaken`), and the partial unique index
``uq_webauthn_users_verified_email`` keeps it to one account even under concurrent confirmations.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fido.credentials import Account, find_account, lock_account
from fido.email_secrets import NewSecret, Purpose, Redeemed, SecretHasher, new_secret, store_secret, supersede_secrets
from fido.errors import EmailInvalid, EmailTaken
from fido.mail.message import render
from fido.mail.outbox import Mailer
from fido.models import WebAuthnUser

#: How long a verification code and link work.
VERIFICATION_TTL = timedelta(hours=1)
#: RFC 5321 section 4.5.3.1: 64 octets of local part, 254 of address (a 256-octet path less "<>").
MAX_LOCAL_PART, MAX_ADDRESS = 64, 254

# RFC 5322 section 3.2.3 dot-atom (lower case): atext runs separated by single dots. The classes exclude
# "." so the match is linear in the input.
_LOCAL_PART = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
# RFC 1035 section 2.3.1 labels (letters, digits, hyphens; 63 octets at most).
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalize_email(value: str) -> str:
    """``value`` as we store and compare addresses: trimmed and lower-cased (providers treat local parts
    case-insensitively, though RFC 5321 section 2.4 allows otherwise), an ASCII dot-atom local part and a
    domain of at least two LDH labels (no address literals, no quoted strings, no internationalized
    addresses), within the lengths of RFC 5321 section 4.5.3.1. Raises :class:`EmailInvalid`."""
    text = value.strip().lower()
    if not text.isascii() or len(text) > MAX_ADDRESS or text.count("@") != 1:
        raise EmailInvalid("enter an email address such as name@example.com")
    local, domain = text.split("@")
    labels = domain.split(".")
    if (
        not 1 <= len(local) <= MAX_LOCAL_PART
        or not _LOCAL_PART.fullmatch(local)
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise EmailInvalid("enter an email address such as name@example.com")
    return text


def request_verification(
    session: Session,
    hasher: SecretHasher,
    mailer: Mailer,
    *,
    account: Account,
    email: str,
    now: datetime,
    rp_name: str,
) -> NewSecret:
    """Issue a verification secret for ``email`` (normalized) and queue its mail, in ``session``'s
    transaction."""
    secret = new_secret(hasher, Purpose.VERIFICATION, now=now, ttl=VERIFICATION_TTL)
    store_secret(session, secret, user_id=account.id, email=email)
    message = render(
        "verification",
        to=email,
        rp_name=rp_name,
        username=account.username,
        email=email,
        code=secret.code,
        link=mailer.link("/passkeys/verify-email", token=secret.token),
        minutes=int(VERIFICATION_TTL.total_seconds() // 60),
    )
    mailer.enqueue(session, message, now=now, not_after=secret.expires_at)
    return secret


def apply_verified_email(
    session: Session, mailer: Mailer, *, redeemed: Redeemed, now: datetime, rp_name: str
) -> Account:
    """Make the proved address the account's verified address. The previous verified address, if another,
    is told and its pending recovery secrets are superseded (they were mailed to an address that no longer
    recovers the account)."""
    lock_account(session, redeemed.user_id)
    account = find_account(session, user_id=redeemed.user_id)
    if account is None:  # deleted since; its secrets went with it (cascade), so this cannot be reached
        raise EmailTaken("the account no longer exists")
    taken = session.scalar(
        select(WebAuthnUser.id).where(
            WebAuthnUser.email == redeemed.email, WebAuthnUser.email_verified, WebAuthnUser.id != account.id
        )
    )
    if taken is not None:
        raise EmailTaken("another account already uses this address for recovery; sign in to that one")
    previous = account.email if account.email_verified and account.email != redeemed.email else None
    try:
        session.execute(
            update(WebAuthnUser)
            .where(WebAuthnUser.id == account.id)
            .values(email=redeemed.email, email_verified=True)
            .execution_options(synchronize_session=False)
        )
        session.flush()
    except IntegrityError:  # a concurrent confirmation of the same address by another account won
        raise EmailTaken("another account already uses this address for recovery; sign in to that one") from None
    if previous is not None:
        supersede_secrets(session, user_id=account.id, purpose=Purpose.RECOVERY, now=now)
        mailer.enqueue(
            session,
            render(
                "email_changed",
                to=previous,
                rp_name=rp_name,
                username=account.username,
                new_email=redeemed.email,
                when=now.strftime("%Y-%m-%d %H:%M UTC"),
            ),
            now=now,
        )
    return replace(account, email=redeemed.email, email_verified=True)
