"""A real SMTP server for the tests (aiosmtpd), on 127.0.0.1 and a free port: it receives what the service
sends, over plain SMTP, STARTTLS or implicit TLS, with or without AUTH, and the tests read the codes and
links from the messages it received."""

from __future__ import annotations

import email
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.attest.server.processes import free_port

HOST = "127.0.0.1"
_CODE = re.compile(r"\b(\d{6,8})\b")
_LINK = re.compile(r"https?://[^\s\"'<>]+")


@dataclass
class SmtpCA:
    """A CA and a server certificate for 127.0.0.1 and localhost, written as PEM files under ``directory``."""

    directory: Path

    def __post_init__(self) -> None:
        now = datetime.now(UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test SMTP CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(IPv4Address(HOST))]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.directory / "smtp-ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file = self.directory / "smtp-server.pem"
        self.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        self.key_file = self.directory / "smtp-server.key"
        self.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@dataclass
class Inbox:
    """The aiosmtpd handler: keeps every message; refuses the recipients in ``refuse`` with 550."""

    refuse: set[str] = field(default_factory=set)
    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    received: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(content, policy=default)
        assert isinstance(message, EmailMessage)
        with self.received:
            self.messages.append(message)
            self.received.notify_all()
        return "250 OK: queued"


class MailServer:
    """aiosmtpd on 127.0.0.1:``port``. ``tls``: "none", "starttls" (required before MAIL) or "implicit";
    ``credentials``: AUTH required with this user name and password."""

    def __init__(
        self,
        *,
        port: int | None = None,
        tls: Literal["none", "starttls", "implicit"] = "none",
        ca: SmtpCA | None = None,
        credentials: tuple[str, str] | None = None,
        inbox: Inbox | None = None,
    ) -> None:
        self.port = port or free_port()
        self.tls = tls
        self.ca = ca
        self.credentials = credentials
        self.inbox = inbox or Inbox()
        self._controller: Controller | None = None

    def start(self) -> MailServer:
        # aiosmtpd counts only STARTTLS as TLS for AUTH; an implicit-TLS connection is encrypted throughout.
        kwargs: dict[str, Any] = {"auth_require_tls": self.tls == "starttls"}
        if self.tls == "starttls":
            assert self.ca is not None
            kwargs.update(tls_context=self.ca.server_context(), require_starttls=True)
        if self.tls == "implicit":
            assert self.ca is not None
            kwargs["ssl_context"] = self.ca.server_context()
        if self.credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        self._controller = Controller(self.inbox, hostname=HOST, port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.inbox.received:
            return list(self.inbox.messages)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The first ``count`` messages, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        with self.inbox.received:
            while len(self.inbox.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self.inbox.messages)} messages arrived, {count} expected")
                self.inbox.received.wait(remaining)
            return list(self.inbox.messages[:count])

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.credentials is not None
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            self.inbox.logins.append(login)
            if (login, password) == self.credentials:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def code_in(message: EmailMessage) -> str:
    """The 6 to 8 digit code in the mail's text."""
    found = _CODE.search(text_of(message))
    assert found is not None, text_of(message)
    return found.group(1)


def link_in(message: EmailMessage) -> str:
    """The link with a ``token=`` in the mail's text."""
    for link in _LINK.findall(text_of(message)):
        if "token=" in link:
            return str(link)
    raise AssertionError(f"no link with a token in: {text_of(message)}")


def token_in(message: EmailMessage) -> str:
    return link_in(message).split("token=", 1)[1]
