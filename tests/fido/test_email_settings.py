"""The email settings (attest/server/settings.py, the email block): what production refuses, what is
refused anywhere, and that the SMTP password never shows."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from attest.server.runtime import build_runtime
from tests.attest.server.service import make_settings

PASSWORD = "smtp-password-never-shown"


def production(tmp_path: Path, **overrides: Any) -> list[str]:
    values: dict[str, Any] = {
        "env": "production",
        "rp_origins": "https://example.com",
        "email_backend": "smtp",
        "smtp_host": "smtp.example.com",
        "public_url": "https://example.com",
    }
    values.update(overrides)
    problems = make_settings("sqlite://", tmp_path, **values).production_problems()
    return [problem for problem in problems if "EMAIL" in problem or "SMTP" in problem or "PUBLIC_URL" in problem]


def test_production_needs_smtp_with_tls_and_https_links(tmp_path: Path) -> None:
    assert production(tmp_path) == []
    assert production(tmp_path, email_backend="console") == [
        "ATTEST_EMAIL_BACKEND=console prints recovery codes; production needs smtp"
    ]
    assert production(tmp_path, smtp_tls="none") == [
        "ATTEST_SMTP_TLS=none is allowed only for a relay on this host (localhost)"
    ]
    assert production(tmp_path, smtp_tls="none", smtp_host="127.0.0.1") == []
    assert production(tmp_path, smtp_tls="implicit", smtp_port=465) == []
    assert production(tmp_path, public_url="http://example.com") == [
        "ATTEST_PUBLIC_URL must be an https:// URL in production (recovery links carry secrets)"
    ]
    assert production(tmp_path, public_url="https://elsewhere.example") == [
        "ATTEST_PUBLIC_URL must be on one of ATTEST_RP_ORIGINS (its pages register passkeys)"
    ]
    development = make_settings("sqlite://", tmp_path)
    assert (development.email_backend, development.public_url) == ("console", "http://localhost:8000")
    assert development.production_problems() == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"smtp_username": "mailer"},
        {"smtp_password": "secret"},
        {"smtp_tls": "ssl"},
        {"smtp_port": 0},
        {"email_backend": "sendmail"},
        {"mail_from": "no address"},
        {"mail_from": "Example <a@example.com>\r\nBcc: x@evil.example"},
        {"public_url": "ftp://example.com"},
        {"public_url": "https://example.com/?next=evil"},
        {"public_url": "https://user:pw@example.com"},
    ],
)
def test_refused_anywhere(tmp_path: Path, overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make_settings("sqlite://", tmp_path, **overrides)


def test_the_smtp_password_never_shows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'x.db'}",
        tmp_path,
        email_backend="smtp",
        smtp_username="mailer",
        smtp_password=PASSWORD,
        public_url="https://example.com/",
    )
    assert settings.public_url == "https://example.com"
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.model_dump())
    with caplog.at_level(logging.DEBUG):
        runtime = build_runtime(settings)
    assert PASSWORD not in repr(runtime.mail.transport)
    assert PASSWORD not in caplog.text
