"""Mail delivery (fido.mail.smtp, fido.mail.message, fido.mail.console) against a real SMTP server
(aiosmtpd on 127.0.0.1): STARTTLS, implicit TLS and plain, AUTH, certificate checks, and how failures are
classified (RFC 5321 section 4.2.1)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attest.errors import ConfigurationError
from fido.errors import MailDeliveryFailed, MailDeliveryRefused
from fido.mail.console import ConsoleTransport
from fido.mail.message import MailMessage, render, to_mime
from fido.mail.smtp import SmtpConfig, SmtpTransport, is_loopback_host
from tests.attest.server.processes import free_port
from tests.fido.smtp_server import HOST, MailServer, SmtpCA, code_in, html_of, link_in, text_of

# aiosmtpd warns when AUTH is allowed without STARTTLS; the implicit-TLS server is encrypted throughout.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
PASSWORD = "s3cret-smtp-password"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> SmtpCA:
    return SmtpCA(tmp_path_factory.mktemp("smtp-ca"))


@pytest.fixture
def server(request: pytest.FixtureRequest, ca: SmtpCA) -> Iterator[MailServer]:
    tls, credentials = request.param
    running = MailServer(tls=tls, ca=ca, credentials=credentials).start()
    yield running
    running.stop()


def recovery_mail(to: str = "alice@example.com") -> MailMessage:
    return render(
        "recovery",
        to=to,
        rp_name="Example <Bank>",
        username="alice",
        code="01234567",
        link="https://example.com/passkeys/recover#token=abc_DEF-123",
        minutes=15,
    )


def mime(message: MailMessage | None = None) -> object:
    return to_mime(message or recovery_mail(), mail_from="Example <no-reply@example.com>", message_id="m1", date=NOW)


def transport(server: MailServer, ca: SmtpCA, **changes: object) -> SmtpTransport:
    values: dict[str, object] = {
        "host": HOST,
        "port": server.port,
        "tls": server.tls,
        "ca_file": ca.ca_file,
        "timeout": 5.0,
    }
    if server.credentials is not None:
        values.update(username=server.credentials[0], password=server.credentials[1])
    values.update(changes)
    return SmtpTransport(SmtpConfig(**values))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "server",
    [("starttls", ("mailer", PASSWORD)), ("implicit", ("mailer", PASSWORD)), ("none", None)],
    indirect=True,
    ids=["starttls+auth", "implicit-tls+auth", "plain-loopback"],
)
def test_delivers_text_and_html(server: MailServer, ca: SmtpCA) -> None:
    transport(server, ca).send(mime())  # type: ignore[arg-type]
    (received,) = server.wait_for(1)
    assert received["To"] == "alice@example.com"
    assert received["From"] == "Example <no-reply@example.com>"
    assert received["Subject"] == "Your account recovery code"
    assert received["Message-ID"] == "<m1@example.com>"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_content_type() == "multipart/alternative"
    assert code_in(received) == "01234567"
    assert link_in(received) == "https://example.com/passkeys/recover#token=abc_DEF-123"
    assert "Example &lt;Bank&gt;" in html_of(received)  # HTML is autoescaped; text is not
    assert "Example <Bank>" in text_of(received)
    assert server.inbox.logins == ([] if server.credentials is None else ["mailer"])


@pytest.mark.parametrize("server", [("starttls", ("mailer", PASSWORD))], indirect=True)
def test_wrong_password_is_a_transient_failure_without_the_password(server: MailServer, ca: SmtpCA) -> None:
    with pytest.raises(MailDeliveryFailed) as failed:
        transport(server, ca, password="wrong-password").send(mime())  # type: ignore[arg-type]
    assert not isinstance(failed.value, MailDeliveryRefused)  # a configuration problem: keep the mail
    assert "535" in failed.value.message
    assert "wrong-password" not in str(failed.value)
    assert failed.value.__cause__ is None
    assert failed.value.__suppress_context__
    assert server.messages == []


@pytest.mark.parametrize("server", [("starttls", None)], indirect=True)
def test_an_untrusted_certificate_is_refused(server: MailServer, tmp_path: Path) -> None:
    other = SmtpCA(tmp_path / "other")
    with pytest.raises(MailDeliveryFailed, match="SSLCertVerificationError"):
        transport(server, other).send(mime())  # type: ignore[arg-type]
    assert server.messages == []


@pytest.mark.parametrize("server", [("none", None)], indirect=True)
def test_starttls_is_never_skipped(server: MailServer, ca: SmtpCA) -> None:
    """A server that does not offer STARTTLS (or a man in the middle who strips it) gets nothing."""
    with pytest.raises(MailDeliveryFailed, match="does not offer STARTTLS"):
        transport(server, ca, tls="starttls").send(mime())  # type: ignore[arg-type]
    assert server.messages == []


@pytest.mark.parametrize("server", [("none", None)], indirect=True)
def test_a_refused_recipient_is_permanent(server: MailServer, ca: SmtpCA) -> None:
    server.inbox.refuse.add("gone@example.com")
    with pytest.raises(MailDeliveryRefused, match="550"):
        transport(server, ca).send(mime(recovery_mail("gone@example.com")))  # type: ignore[arg-type]


def test_nobody_listening_is_transient() -> None:
    config = SmtpConfig(host=HOST, port=free_port(), tls="none", timeout=2.0)
    with pytest.raises(MailDeliveryFailed, match="ConnectionRefusedError") as failed:
        SmtpTransport(config).send(mime())  # type: ignore[arg-type]
    assert not isinstance(failed.value, MailDeliveryRefused)


def test_credentials_never_travel_in_clear_to_another_host() -> None:
    with pytest.raises(ConfigurationError, match="clear text"):
        SmtpTransport(SmtpConfig(host="smtp.example.com", port=25, tls="none", username="u", password="p"))
    SmtpTransport(SmtpConfig(host="localhost", port=25, tls="none", username="u", password="p"))
    assert PASSWORD not in repr(SmtpConfig(host=HOST, port=1, tls="implicit", username="u", password=PASSWORD))
    assert [is_loopback_host(h) for h in ("localhost", "127.0.0.2", "[::1]", "::1", "10.0.0.1", "smtp.local")] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_headers_refuse_injection() -> None:
    hostile = MailMessage(kind="recovery", to="a@example.com\r\nBcc: x@evil.example", subject="s", text="t", html="h")
    with pytest.raises(ValueError, match=r"linefeed|carriage"):
        mime(hostile)


def test_console_prints_the_text_part(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    with caplog.at_level(logging.DEBUG):
        ConsoleTransport(stream).send(mime())  # type: ignore[arg-type]
    printed = stream.getvalue()
    assert "To: alice@example.com" in printed
    assert "01234567" in printed
    assert "<html" not in printed
    assert "01234567" not in caplog.text  # printed for the developer, never logged


def test_every_kind_renders_both_parts() -> None:
    contexts: dict[str, dict[str, object]] = {
        "recovery": {"username": "u", "code": "1", "link": "l", "minutes": 15},
        "verification": {"username": "u", "email": "e", "code": "1", "link": "l", "minutes": 60},
        "passkey_added": {"username": "u", "when": "w", "recovered": True, "recover_link": "l"},
        "email_changed": {"username": "u", "new_email": "n", "when": "w"},
    }
    for kind, context in contexts.items():
        message = render(kind, to="a@example.com", rp_name="R", **context)
        assert message.text.strip()
        assert "<html" in message.html
    with pytest.raises(Exception, match="undefined"):
        render("recovery", to="a@example.com", rp_name="R")  # a missing value is an error, not ""
