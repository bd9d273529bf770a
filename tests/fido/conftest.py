"""Fixtures shared by the passkey tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fido.smtp_server import MailServer


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 for the service's mail."""
    server = MailServer().start()
    yield server
    server.stop()
