"""Fuzz target: the KeyDescription decoder, :func:`attest.android.parse_key_description`.

Input: the DER value of the attestation extension (OID 1.3.6.1.4.1.11129.2.1.17), as it sits in an
attested certificate. Seeds: the extensions of the real device chains in fixtures/android.
"""

from __future__ import annotations

import contextlib

from attest.android import KeyDescription, parse_key_description
from attest.errors import AttestationError

EXPECTED_ERRORS: tuple[type[Exception], ...] = (AttestationError,)


def check(data: bytes) -> KeyDescription:
    return parse_key_description(data)


def TestOneInput(data: bytes) -> None:
    with contextlib.suppress(*EXPECTED_ERRORS):
        check(data)


if __name__ == "__main__":
    from fuzz.engine import fuzz

    fuzz(TestOneInput)
