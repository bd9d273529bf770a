"""Delivery over SMTP with :mod:`smtplib` of the standard library.

Why smtplib: it is maintained with CPython itself, implements everything needed here (EHLO, STARTTLS,
implicit TLS, AUTH PLAIN/LOGIN, ``send_message``), and is synchronous, which fits the sender loop's
thread (fido.mail.outbox): an asynchronous client (aiosmtplib) would add a dependency and an event loop
to that thread for no gain.

TLS (RFC 8314): ``implicit`` connects with TLS from the first byte (section 3.3, port 465, preferred);
``starttls`` upgrades a plain connection with STARTTLS (RFC 3207, port 587) and refuses to go on when
the server does not offer it (no silent downgrade to plain text, section 4.1); ``none`` is for a relay on
this host. The server certificate is checked against the system's trust store (or
``ATTEST_SMTP_CA_FILE``) and its name against the configured host (RFC 6125), with TLS 1.2 at least
(RFC 8996). Credentials are sent only over TLS or to a relay on this host.

Failures are classified by RFC 5321 section 4.2.1: a 5yz reply refuses the mail for good
(:class:`~fido.errors.MailDeliveryRefused`); anything else, including 4yz replies, network and TLS
errors and refused credentials (an operator's problem, not the mail's), may work later
(:class:`~fido.errors.MailDeliveryFailed`). Error messages carry the reply code or the exception class,
never the password or the message.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

from attest.errors import ConfigurationError
from fido.errors import MailDeliveryFailed, MailDeliveryRefused

TlsMode = Literal["starttls", "implicit", "none"]


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: TlsMode
    username: str | None = None
    #: Kept out of repr() so that no log or traceback prints it.
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    timeout: float = 30.0


class SmtpTransport:
    """One SMTP connection per mail (mails are few; a broken connection never outlives one attempt)."""

    def __init__(self, config: SmtpConfig) -> None:
        if (config.username is None) != (config.password is None):
            raise ConfigurationError("SMTP credentials need both a username and a password")
        if config.username is not None and config.tls == "none" and not is_loopback_host(config.host):
            raise ConfigurationError("refusing to send SMTP credentials in clear text to another host")
        self.config = config
        self._context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2

    def send(self, message: EmailMessage) -> None:
        where = f"{self.config.host}:{self.config.port}"
        try:
            with self._connect() as smtp:
                if self.config.tls == "starttls":
                    smtp.ehlo()
                    if not smtp.has_extn("starttls"):
                        raise MailDeliveryFailed(f"{where} does not offer STARTTLS; not sending in clear text")
                    smtp.starttls(context=self._context)
                    smtp.ehlo()
                if self.config.username is not None and self.config.password is not None:
                    smtp.login(self.config.username, self.config.password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = sorted({code for code, _ in error.recipients.values()})
            raise _by_code(codes[0] if codes else 0, f"{where} refused the recipient") from None
        except smtplib.SMTPAuthenticationError as error:
            raise MailDeliveryFailed(f"{where} refused the credentials (SMTP {error.smtp_code})") from None
        except smtplib.SMTPResponseException as error:  # sender refused, data refused, other replies
            raise _by_code(error.smtp_code, f"{where} refused the mail") from None
        except smtplib.SMTPNotSupportedError:  # e.g. no AUTH offered: a configuration problem, keep the mail
            raise MailDeliveryFailed(f"{where} does not support a required extension (AUTH?)") from None
        except (smtplib.SMTPException, OSError) as error:  # includes ssl.SSLError, timeouts, refused connections
            raise MailDeliveryFailed(f"{where}: {type(error).__name__}") from None

    def _connect(self) -> smtplib.SMTP:
        if self.config.tls == "implicit":
            return smtplib.SMTP_SSL(
                self.config.host, self.config.port, timeout=self.config.timeout, context=self._context
            )
        return smtplib.SMTP(self.config.host, self.config.port, timeout=self.config.timeout)


def _by_code(code: int, what: str) -> MailDeliveryFailed:
    """RFC 5321 section 4.2.1: 5yz is a permanent negative completion reply, 4yz a transient one."""
    if 500 <= code < 600:
        return MailDeliveryRefused(f"{what} (SMTP {code})")
    return MailDeliveryFailed(f"{what} (SMTP {code})")


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address: a relay on this host, whose traffic never crosses a network."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
