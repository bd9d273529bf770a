"""The development transport: every mail is printed to standard output, codes and links included, so
that a developer can recover an account without a mail server. Production refuses it
(:meth:`attest.server.settings.Settings.production_problems`)."""

from __future__ import annotations

import sys
import threading
from email.message import EmailMessage
from typing import TextIO


class ConsoleTransport:
    """Prints the headers and the plain-text part of each mail (not to the log: a log is kept and shipped;
    standard output of a development server is not)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        text = message.get_body(preferencelist=("plain",))
        body = text.get_content() if text is not None else ""
        lines = [
            "=" * 24 + " mail (ATTEST_EMAIL_BACKEND=console) " + "=" * 24,
            *(f"{name}: {message[name]}" for name in ("From", "To", "Subject", "Date")),
            "",
            body.rstrip("\n"),
            "=" * 85,
        ]
        stream = self._stream or sys.stdout
        with self._lock:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
