"""Attested App Attest keys: stored once, then used for assertions with a counter advanced atomically."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from attest.apple.attestation import VerifiedAppleAttestation
from attest.apple.errors import AssertionCounterNotIncreasing
from attest.server.db.engine import Executor, affected_rows
from attest.server.db.models import AppAttestKey, table_of
from attest.server.errors import AppAttestKeyExists, AppAttestKeyRevoked, AppAttestKeyUnknown


@dataclass(frozen=True, slots=True)
class StoredAppAttestKey:
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


def load_key(session: Executor, key_id: bytes, *, client_id: str) -> StoredAppAttestKey:
    row = session.execute(_LOAD, {"key_id": key_id_text(key_id), "client_id": client_id}).one_or_none()
    if row is None:
        raise AppAttestKeyUnknown("no attested App Attest key has this key id for this client")
    if row.revoked_at is not None:
        raise AppAttestKeyRevoked(f"App Attest key {row.key_id} was revoked at {row.revoked_at.isoformat()}")
    public_key = serialization.load_der_public_key(row.public_key_der)
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    return StoredAppAttestKey(row.key_id, row.app_id, row.environment, public_key, row.counter)


def advance_counter(session: Executor, key_id: str, *, new_counter: int, now: datetime) -> None:
    """Store ``new_counter`` only if it is still greater than the stored one: one conditional UPDATE,
    so that of concurrent assertions with the same counter exactly one is accepted."""
    result = session.execute(_ADVANCE, {"key": key_id, "new_counter": new_counter, "now": now})
    if affected_rows(result) != 1:
        raise AssertionCounterNotIncreasing(
            f"the assertion counter {new_counter} is not greater than the stored one (replayed or concurrent assertion)"
        )


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
        _TABLE.c.counter < bindparam("new_counter"),
        _TABLE.c.revoked_at.is_(None),
    )
    .values(counter=bindparam("new_counter"), last_used_at=bindparam("now"))
)
