"""Fuzz target: the revocation status list parser, :func:`attest.android.revocation.parse_status_list`.

Input: the JSON document as fetched from Google (or a mirror). Seeds: fixtures/android/status-list-sample.json
and variants.
"""

from __future__ import annotations

import contextlib

from attest.android.revocation import StatusList, normalize_serial, parse_status_list
from attest.errors import AttestationError

EXPECTED_ERRORS: tuple[type[Exception], ...] = (AttestationError,)

#: Longest input libFuzzer makes (fuzz/run.py): far above the seeds, so nesting and size limits are reachable.
MAX_LEN = 16 * 1024


def check(data: bytes) -> StatusList:
    status_list = parse_status_list(data)
    for serial in status_list.entries:
        # Keys are stored normalized, so that the lookup by a certificate's serial finds them.
        if normalize_serial(serial) != serial:
            raise AssertionError(f"entry key {serial!r} is not normalized")
    return status_list


def TestOneInput(data: bytes) -> None:
    with contextlib.suppress(*EXPECTED_ERRORS):
        check(data)


if __name__ == "__main__":
    from fuzz.engine import fuzz

    fuzz(TestOneInput)
