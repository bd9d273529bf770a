"""Our token signing keys in the database, encrypted at rest, and the in-process view of them.

The private keys are PKCS#8 PEM encrypted with AES-256-GCM under the key-encryption key of the settings
(``ATTEST_SIGNING_KEY_ENCRYPTION_KEY``), with the ``kid`` as associated data, so that a row cannot be
swapped for another. Development generates that key into the state directory and marks its signing
keys ``development``; production refuses to start while such a key exists.

Rotation (:func:`rotate_key_ring`) follows :class:`attest.tokens.keys.KeyRing`: the NEXT key is in
the JWKS before it signs; retired keys stay published until their tokens have expired.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from attest.server.db.models import SigningKeyRecord
from attest.server.errors import ServiceError
from attest.server.settings import Settings, decode_key
from attest.tokens.keys import KeyRing, KeyState, SigningKey, private_key_from_pem, private_key_to_pem

DEV_KEY_FILE = "signing-key-encryption-key"


class KeyStoreError(ServiceError):
    """The signing keys cannot be used (no key ring, wrong key-encryption key, tampered row)."""

    code = "keys.unavailable"


class KeyEncryption:
    """AES-256-GCM over the PEM of each signing key; ``development`` marks a generated key."""

    def __init__(self, key: bytes, *, development: bool) -> None:
        if len(key) != 32:
            raise KeyStoreError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(key)
        self._key = key
        self.development = development

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyEncryption:
        if settings.signing_key_encryption_key is not None:
            return cls(decode_key(settings.signing_key_encryption_key), development=False)
        if settings.is_production:
            raise KeyStoreError("production needs ATTEST_SIGNING_KEY_ENCRYPTION_KEY")
        return cls(_development_key(settings.state_dir), development=True)

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for another purpose (HKDF-SHA256, RFC 5869, with ``purpose`` as info): one
        configured secret, independent keys, none of them the key-encryption key itself."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(self._key)

    def seal(self, kid: str, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plaintext, kid.encode())

    def open(self, kid: str, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], kid.encode())
        except (InvalidTag, ValueError) as exc:
            raise KeyStoreError(f"signing key {kid} cannot be decrypted with the configured key") from exc


def _development_key(state_dir: Path) -> bytes:
    path = state_dir / DEV_KEY_FILE
    if path.exists():
        return path.read_bytes()
    state_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


def load_key_ring(session: Session, encryption: KeyEncryption) -> KeyRing | None:
    rows = list(session.scalars(select(SigningKeyRecord)))
    if not rows:
        return None
    keys = []
    for row in rows:
        private_key = private_key_from_pem(encryption.open(row.kid, row.encrypted_private_key))
        keys.append(
            SigningKey(
                kid=row.kid,
                alg=row.alg,
                private_key=private_key,
                state=KeyState(row.state),
                created_at=row.created_at,
                activated_at=row.activated_at,
                retired_at=row.retired_at,
            )
        )
    return KeyRing(tuple(keys))


def save_key_ring(session: Session, ring: KeyRing, encryption: KeyEncryption) -> None:
    """Write ``ring``: new keys inserted, states updated, dropped keys deleted."""
    existing = {row.kid: row for row in session.scalars(select(SigningKeyRecord))}
    for key in ring.keys:
        row = existing.pop(key.kid, None)
        if row is None:
            session.add(
                SigningKeyRecord(
                    kid=key.kid,
                    alg=key.alg,
                    state=key.state.value,
                    encrypted_private_key=encryption.seal(key.kid, private_key_to_pem(key.private_key)),
                    development=encryption.development,
                    created_at=key.created_at,
                    activated_at=key.activated_at,
                    retired_at=key.retired_at,
                )
            )
        else:
            row.state, row.activated_at, row.retired_at = key.state.value, key.activated_at, key.retired_at
    for kid in existing:
        session.execute(delete(SigningKeyRecord).where(SigningKeyRecord.kid == kid))


def ensure_key_ring(session: Session, encryption: KeyEncryption, *, now: datetime, alg: str) -> KeyRing:
    """The stored ring, or a new one (an ACTIVE and a NEXT key) on first start."""
    ring = load_key_ring(session, encryption)
    if ring is None:
        ring = KeyRing.bootstrap(now=now, alg=alg)
        save_key_ring(session, ring, encryption)
    return ring


def rotate_key_ring(
    session: Session, encryption: KeyEncryption, *, now: datetime, max_token_lifetime: timedelta
) -> KeyRing:
    ring = load_key_ring(session, encryption)
    if ring is None:
        raise KeyStoreError("there is no key ring to rotate; run `attest db upgrade` first")
    rotated = ring.rotate(now, max_token_lifetime=max_token_lifetime)
    save_key_ring(session, rotated, encryption)
    return rotated


def has_development_keys(session: Session) -> bool:
    return (
        session.scalar(select(SigningKeyRecord.kid).where(SigningKeyRecord.development.is_(True)).limit(1)) is not None
    )


class KeyRingProvider:
    """The key ring as this process sees it, re-read from the database at most every ``refresh``
    seconds, so that a rotation made by ``attest keys rotate`` reaches every worker."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        encryption: KeyEncryption,
        *,
        refresh: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._encryption = encryption
        self._refresh = refresh
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None
        self._loaded_at = 0.0

    def ring(self) -> KeyRing:
        with self._lock:
            if self._ring is None or self._monotonic() - self._loaded_at > self._refresh:
                with self._sessions() as session:
                    ring = load_key_ring(session, self._encryption)
                if ring is None:
                    raise KeyStoreError("no signing keys; run `attest db upgrade`")
                self._ring, self._loaded_at = ring, self._monotonic()
            return self._ring
