"""A mail: rendered from the Jinja2 templates beside this module, and turned into the RFC 5322 message
that is handed to the SMTP server.

Each kind of mail has a plain-text and an HTML template (``templates/<kind>.txt`` and ``.html``),
sent together as ``multipart/alternative`` (RFC 2046 section 5.1.4). HTML is autoescaped; a missing
variable is an error, never an empty string. Headers are built by :mod:`email` with the SMTP policy,
which refuses CR and LF in header values (no header injection); only the recipient comes from a user,
and it was checked by :func:`fido.email_verification.normalize_email`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: The subject of each kind of mail; the kind names its templates.
SUBJECTS = {
    "recovery": "Your account recovery code",
    "verification": "Confirm your email address",
    "passkey_added": "A new passkey was added to your account",
    "email_changed": "Your recovery email address was changed",
}

_ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), disabled_extensions=("txt",), default=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    auto_reload=False,
)


@dataclass(frozen=True)
class MailMessage:
    """One mail to one recipient, as rendered; the outbox stores it sealed."""

    kind: str
    to: str
    subject: str
    text: str
    html: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "to": self.to, "subject": self.subject, "text": self.text, "html": self.html}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MailMessage:
        return cls(
            kind=str(data["kind"]),
            to=str(data["to"]),
            subject=str(data["subject"]),
            text=str(data["text"]),
            html=str(data["html"]),
        )


def render(kind: str, *, to: str, **context: Any) -> MailMessage:
    """The mail of ``kind`` to ``to``, with ``context`` in both templates."""
    if kind not in SUBJECTS:
        raise ValueError(f"no mail of kind {kind!r}")
    values = {"subject": SUBJECTS[kind], **context}
    return MailMessage(
        kind=kind,
        to=to,
        subject=SUBJECTS[kind],
        text=_ENVIRONMENT.get_template(f"{kind}.txt").render(values),
        html=_ENVIRONMENT.get_template(f"{kind}.html").render(values),
    )


def to_mime(message: MailMessage, *, mail_from: str, message_id: str, date: datetime) -> EmailMessage:
    """The RFC 5322 message: From, To, Subject, Date, a Message-ID that stays the same across retries (a
    mail sent twice after a crash can be recognized as one), ``Auto-Submitted: auto-generated`` (RFC 3834
    section 5: no auto-replies to it), and the text and HTML alternatives."""
    mime = EmailMessage(policy=SMTP)
    mime["From"] = mail_from
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(date)
    mime["Message-ID"] = f"<{message_id}@{_domain(mail_from)}>"
    mime["Auto-Submitted"] = "auto-generated"
    mime.set_content(message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    mime.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return mime


def _domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
