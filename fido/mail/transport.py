"""Where mail goes: the one method a transport has, and the transport the settings choose."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

from attest.server.settings import Settings


class MailTransport(Protocol):
    """Hands one message to the next hop. Raises :class:`fido.errors.MailDeliveryFailed` when it may work
    later, :class:`fido.errors.MailDeliveryRefused` when it never will; returns only once the next hop
    took responsibility for the message (RFC 5321 section 6.1)."""

    def send(self, message: EmailMessage) -> None: ...


def transport_from_settings(settings: Settings) -> MailTransport:
    """``ATTEST_EMAIL_BACKEND``: ``smtp`` (fido.mail.smtp) or ``console`` (fido.mail.console)."""
    if settings.email_backend == "smtp":
        from fido.mail.smtp import SmtpConfig, SmtpTransport

        return SmtpTransport(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                tls=settings.smtp_tls,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value() if settings.smtp_password is not None else None,
                ca_file=settings.smtp_ca_file,
                timeout=settings.smtp_timeout.total_seconds(),
            )
        )
    from fido.mail.console import ConsoleTransport

    return ConsoleTransport()
