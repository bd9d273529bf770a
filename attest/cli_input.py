"""Reading what `attest verify ...` commands are given: bounded files, base64 values, times.

Anything unreadable raises :class:`attest.cli_output.UsageError` (exit 2, a message, no traceback)."""

from __future__ import annotations

import base64
import binascii
import sys
from datetime import UTC, datetime
from pathlib import Path

from attest.cli_output import UsageError


def read_bounded(name: str, limit: int) -> bytes:
    """The bytes of file ``name`` (``-``: stdin), refusing anything larger than ``limit``."""
    try:
        if name == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with Path(name).open("rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise UsageError(f"{name} is larger than {limit} bytes")
    return data


def standard_base64(value: str, what: str) -> bytes:
    """Standard base64 (RFC 4648 section 4), padding included."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"{what} is not standard base64") from None


def verification_time(value: str | None) -> datetime:
    """``--at``: an ISO-8601 time (UTC when it names no zone), or now."""
    if value is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--at {value!r} is not an ISO-8601 time") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
