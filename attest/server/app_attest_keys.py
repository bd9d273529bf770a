"""Attested App Attest keys: stored once, then used for assertions with a counter advanced atomically."""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, fields
from datetime import datetime
from typing import NoReturn

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from attest.apple.attestation import VerifiedAppleAttestation
from attest.apple.errors import AssertionCounterNotIncreasing
from attest.server.db.conditional_write import ConditionalWrite
from attest.server.db.engine import Executor, affected_rows
from attest.server.db.models import AppAttestKey, table_of
from attest.server.errors import AppAttestKeyExists, AppAttestKeyRevoked, AppAttestKeyUnknown


@dataclass(frozen=True, slots=True)
class StoredAppAttestKey:
    """An attested key as read for an assertion; ``counter`` is the stored counter when it was read."""

    key_id: str
    app_id: str
    environment: str
    public_key: ec.EllipticCurvePublicKey
    counter: int


def key_id_text(key_id: bytes) -> str:
    return base64.b64encode(key_id).decode("ascii")


def store_attested_key(
    session: Executor, attested: VerifiedAppleAttestation, *, client_id: str, risk_metric: int | None, now: datetime
) -> None:
    """Insert the key; a key id seen before is ``appattest.key_exists`` (an attestation counts once)."""
    key_id = key_id_text(attested.key_id)
    if session.execute(_EXISTS, {"key_id": key_id}).first() is not None:
        raise AppAttestKeyExists(f"App Attest key {key_id} was attested before")
    row = {
        "key_id": key_id,
        "client_id": client_id,
        "app_id": attested.app_id,
        "environment": attested.environment.value,
        "public_key_der": attested.public_key_der,
        "counter": attested.sign_count,
        "receipt": attested.receipt,
        "risk_metric": risk_metric,
        "created_at": now,
        "last_used_at": None,
        "revoked_at": None,
    }
    try:
        session.execute(_INSERT, row)
    except IntegrityError as exc:  # a concurrent request stored the same key first
        raise AppAttestKeyExists(f"App Attest key {key_id} was attested before") from exc


@dataclass(frozen=True, slots=True)
class AppAttestKeyRecord:
    """What ``attest app-attest-keys list`` shows of a stored key (no key material, no receipt)."""

    key_id: str
    client_id: str
    app_id: str
    environment: str
    counter: int
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def list_app_attest_keys(session: Executor, *, client_id: str | None = None) -> list[AppAttestKeyRecord]:
    """The stored keys (of ``client_id`` when given), oldest first."""
    query = _RECORDS.order_by(_TABLE.c.created_at, _TABLE.c.key_id)
    if client_id is not None:
        query = query.where(_TABLE.c.client_id == client_id)
    return [AppAttestKeyRecord(*row) for row in session.execute(query)]


@dataclass(frozen=True, slots=True)
class KeyRevocation:
    """A key as stored after :func:`revoke_app_attest_key`, and whether this call revoked it."""

    record: AppAttestKeyRecord
    newly_revoked: bool


def revoke_app_attest_key(session: Executor, key_id: bytes, *, now: datetime) -> KeyRevocation | None:
    """Mark the key revoked at ``now`` (a key revoked before keeps its time); None when no key has this
    id. Every worker refuses the key's next assertion: the counter UPDATE of
    :meth:`AppAttestKeyDirectory.advance_counter` names no revoked key. A revoked key cannot be attested
    again (its id is taken), so the device has to generate a new key."""
    text = key_id_text(key_id)
    changed = affected_rows(session.execute(_REVOKE, {"key": text, "now": now}))
    row = session.execute(_RECORDS.where(_TABLE.c.key_id == text)).first()
    if row is None:
        return None
    return KeyRevocation(AppAttestKeyRecord(*row), newly_revoked=changed == 1)


class AppAttestKeyDirectory:
    """The attested App Attest keys one worker process has used: a key's public key, app and environment
    never change (its id is the SHA-256 of its public key, Apple App Attest "Verify the attestation"
    step 5), so after its first assertion here a key's row is not read again on the request path.

    The facts that do change stay the database's: every assertion's conditional UPDATE
    (:meth:`advance_counter`) names the key, its client, a greater counter and no revocation, and it
    alone accepts the assertion. The counter remembered here is the one read with the row, a lower bound
    of the stored one (counters only grow), so the verifier's own counter check can only refuse early
    what the UPDATE would refuse. When the UPDATE refuses, the row is read again to say why, and the key
    is forgotten. At most ``max_entries`` keys are kept, the earliest read dropped first."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], StoredAppAttestKey] = {}

    def load(self, database: Executor, key_id: bytes, *, client_id: str) -> StoredAppAttestKey:
        """The key ``key_id`` attested for ``client_id`` (``appattest.key_unknown``, ``appattest.key_revoked``)."""
        text = key_id_text(key_id)
        with self._lock:
            remembered = self._entries.get((text, client_id))
        if remembered is not None:
            return remembered
        stored = _read_key(database, text, client_id=client_id)
        self._remember(stored, client_id)
        return stored

    def counter_advance(
        self, key: StoredAppAttestKey, *, client_id: str, new_counter: int, now: datetime
    ) -> ConditionalWrite:
        """Store ``new_counter`` only if the key is still this client's, unrevoked, and its stored counter
        is smaller: one conditional UPDATE, so that of concurrent assertions with the same counter exactly
        one is accepted (App Attest "Verify the assertion" step 5). A refusal says which of these failed
        (``appattest.key_unknown``, ``appattest.key_revoked``, ``assertion.counter_not_increasing``)."""

        def refused(database: Executor) -> NoReturn:
            self._forget(key.key_id, client_id)
            _read_key(database, key.key_id, client_id=client_id)  # raises when the key is gone or revoked
            raise AssertionCounterNotIncreasing(
                f"the assertion counter {new_counter} is not greater than the stored one "
                "(replayed or concurrent assertion)"
            )

        parameters = {"key": key.key_id, "client": client_id, "new_counter": new_counter, "now": now}
        return ConditionalWrite(_ADVANCE, parameters, refused)

    def _remember(self, key: StoredAppAttestKey, client_id: str) -> None:
        with self._lock:
            self._entries.pop((key.key_id, client_id), None)
            if len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))  # the earliest read
            self._entries[(key.key_id, client_id)] = key

    def _forget(self, key_id: str, client_id: str) -> None:
        with self._lock:
            self._entries.pop((key_id, client_id), None)


def _read_key(database: Executor, key_id: str, *, client_id: str) -> StoredAppAttestKey:
    row = database.execute(_LOAD, {"key_id": key_id, "client_id": client_id}).one_or_none()
    if row is None:
        raise AppAttestKeyUnknown("no attested App Attest key has this key id for this client")
    if row.revoked_at is not None:
        raise AppAttestKeyRevoked(f"App Attest key {row.key_id} was revoked at {row.revoked_at.isoformat()}")
    public_key = serialization.load_der_public_key(row.public_key_der)
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    return StoredAppAttestKey(row.key_id, row.app_id, row.environment, public_key, row.counter)


# The statements of the assertion path, built once (Core, on the table: no ORM bookkeeping per request).
_TABLE = table_of(AppAttestKey)
_EXISTS = select(_TABLE.c.key_id).where(_TABLE.c.key_id == bindparam("key_id"))
_INSERT = insert(_TABLE)
_LOAD = select(
    _TABLE.c.key_id,
    _TABLE.c.app_id,
    _TABLE.c.environment,
    _TABLE.c.public_key_der,
    _TABLE.c.counter,
    _TABLE.c.revoked_at,
).where(_TABLE.c.key_id == bindparam("key_id"), _TABLE.c.client_id == bindparam("client_id"))
_ADVANCE = (
    update(_TABLE)
    .where(
        _TABLE.c.key_id == bindparam("key"),
        _TABLE.c.client_id == bindparam("client"),
        _TABLE.c.counter < bindparam("new_counter"),
        _TABLE.c.revoked_at.is_(None),
    )
    .values(counter=bindparam("new_counter"), last_used_at=bindparam("now"))
)
#: The columns of an :class:`AppAttestKeyRecord`, in its field order.
_RECORDS = select(*(_TABLE.c[field.name] for field in fields(AppAttestKeyRecord)))
_REVOKE = (
    update(_TABLE)
    .where(_TABLE.c.key_id == bindparam("key"), _TABLE.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"))
)
