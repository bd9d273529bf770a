"""Signing keys at rest: AES-256-GCM with the kid as associated data, so rows cannot be swapped,
tampered with, or read under another key-encryption key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from attest.server.db.models import SigningKeyRecord
from attest.server.signing_keys import KeyEncryption, KeyStoreError, load_key_ring
from tests.attest.server.service import start_service

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


def test_swapped_encrypted_rows_are_refused(database_url: str, tmp_path: Path) -> None:
    service = start_service(database_url, tmp_path, fixed_time=NOW)
    encryption = KeyEncryption.from_settings(service.settings)
    with service.runtime.sessions.begin() as session:
        first, second = session.scalars(select(SigningKeyRecord).order_by(SigningKeyRecord.kid)).all()
        first.encrypted_private_key, second.encrypted_private_key = (
            second.encrypted_private_key,
            first.encrypted_private_key,
        )
    with service.runtime.sessions() as session, pytest.raises(KeyStoreError, match="cannot be decrypted"):
        load_key_ring(session, encryption)


def test_tampered_row_and_wrong_key_encryption_key_are_refused(database_url: str, tmp_path: Path) -> None:
    service = start_service(database_url, tmp_path, fixed_time=NOW)
    with service.runtime.sessions() as session:
        load_key_ring(session, KeyEncryption.from_settings(service.settings))  # the right key works
        with pytest.raises(KeyStoreError):
            load_key_ring(session, KeyEncryption(b"w" * 32, development=True))
    with service.runtime.sessions.begin() as session:
        row = session.scalars(select(SigningKeyRecord)).first()
        assert row is not None
        row.encrypted_private_key = row.encrypted_private_key[:-1] + bytes([row.encrypted_private_key[-1] ^ 1])
    with service.runtime.sessions() as session, pytest.raises(KeyStoreError) as caught:
        load_key_ring(session, KeyEncryption.from_settings(service.settings))
    assert caught.value.code == "keys.unavailable"
