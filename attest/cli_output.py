"""Conventions shared by every `attest verify ...` command: exit codes and output shape.

Exit 0 when the input verifies, 1 when it is rejected, 2 when it cannot be read or the
command line is wrong. With ``--json`` the command prints one JSON object with ``verdict``
(``valid`` | ``invalid``), ``error`` (``{"code", "message"}`` or null) and the decoded data.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from attest.errors import AttestationError

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2


class UsageError(Exception):
    """A command-line value cannot be used (bad base64, unreadable file, bad timestamp)."""


def error_object(error: AttestationError | None) -> dict[str, str] | None:
    return None if error is None else {"code": error.code, "message": error.message}


def print_json(document: Mapping[str, Any]) -> None:
    json.dump(document, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def fail_unreadable(message: str) -> int:
    sys.stderr.write(f"attest: error: {message}\n")
    return EXIT_UNREADABLE
