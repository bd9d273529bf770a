"""Session-wide test roots (key generation and certificate signing are not free)."""

from __future__ import annotations

import pytest

from tests.attest.apple.factory import AppAttestFactory, ReceiptFactory


@pytest.fixture(scope="session")
def factory() -> AppAttestFactory:
    return AppAttestFactory()


@pytest.fixture(scope="session")
def receipts() -> ReceiptFactory:
    return ReceiptFactory()
