"""The passkey service (tests/fido/service.py) with its mail going to a real SMTP server on 127.0.0.1
(tests/fido/smtp_server.py), and the steps of email verification and recovery as a browser runs them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from fido.mail.outbox import SendReport
from tests.fido.authenticator import SoftAuthenticator
from tests.fido.service import ORIGIN, Passkeys, start_passkeys
from tests.fido.smtp_server import HOST, MailServer, code_in


@dataclass
class MailedService:
    passkeys: Passkeys
    smtp: MailServer

    @property
    def http(self) -> TestClient:
        return self.passkeys.http

    def browser(self) -> TestClient:
        return self.passkeys.browser()

    def deliver(self, at: datetime | None = None) -> SendReport:
        """One pass of the outbox sender, as of ``at`` (default: the service's clock)."""
        runtime = self.passkeys.service.runtime
        return runtime.mail.send_pending(runtime.sessions, now=at or runtime.now())

    def mail(self, number: int) -> EmailMessage:
        """The ``number``-th mail received (1-based), after sending what is due."""
        self.deliver()
        return self.smtp.wait_for(number)[number - 1]

    def verified_account(
        self, authenticator: SoftAuthenticator, email: str, *, http: TestClient | None = None
    ) -> TestClient:
        """Sign up with ``email`` as the username and verify it by code; returns the signed-in browser."""
        client = http or self.http
        created = self.passkeys.sign_up(authenticator, email, http=client)
        assert created.status_code == 201, created.text
        requested = client.post("/v1/email/verification", json={})
        assert requested.status_code == 202, requested.text
        code = code_in(self.mail(len(self.smtp.messages) + 1))
        confirmed = client.post("/v1/email/verification/confirm", json={"code": code})
        assert confirmed.status_code == 200, confirmed.text
        return client

    def start(self, email: str, http: TestClient | None = None) -> httpx.Response:
        response: httpx.Response = (http or self.http).post("/v1/recovery/start", json={"email": email})
        return response

    def verify(self, http: TestClient | None = None, **body: Any) -> httpx.Response:
        response: httpx.Response = (http or self.http).post("/v1/recovery/verify", json=body)
        return response


def start_mailed(
    database_url: str, tmp_path: Path, smtp: MailServer, *, fixed_time: datetime | None, **overrides: Any
) -> MailedService:
    values: dict[str, Any] = {
        "email_backend": "smtp",
        "smtp_host": HOST,
        "smtp_port": smtp.port,
        "smtp_tls": "none",
        "smtp_timeout": "PT5S",
        "mail_from": "Example <no-reply@example.com>",
        "public_url": ORIGIN,
        "recovery_response_floor": "PT0S",
    }
    values.update(overrides)
    return MailedService(start_passkeys(database_url, tmp_path, fixed_time=fixed_time, **values), smtp)
