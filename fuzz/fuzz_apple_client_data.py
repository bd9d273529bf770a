"""Fuzz target: the service's App Attest client data, :func:`attest.server.apple_client_data.parse_apple_client_data`.

Input: the bytes the app hashed into ``attestKey``/``generateAssertion`` (UTF-8 JSON with exactly
``challenge`` and a public P-256 ``jwk``). Seeds: that JSON around the public keys of the real App
Attest samples in fixtures/apple.
"""

from __future__ import annotations

import contextlib

from attest.errors import AttestationError
from attest.server.apple_client_data import AppleClientData, parse_apple_client_data
from attest.tokens.cnf import PRIVATE_MEMBERS

EXPECTED_ERRORS: tuple[type[Exception], ...] = (AttestationError,)

#: Longest input libFuzzer makes (fuzz/run.py): past the 8 KiB bound, and deep enough for nesting.
MAX_LEN = 9 * 1024


def check(data: bytes) -> AppleClientData:
    parsed = parse_apple_client_data(data)
    # What becomes cnf.jwk must be public: a private member would be copied into our signed token.
    if PRIVATE_MEMBERS.intersection(parsed.jwk):
        raise AssertionError(f"accepted a jwk with private members {sorted(PRIVATE_MEMBERS.intersection(parsed.jwk))}")
    return parsed


def TestOneInput(data: bytes) -> None:
    with contextlib.suppress(*EXPECTED_ERRORS):
        check(data)


if __name__ == "__main__":
    from fuzz.engine import fuzz

    fuzz(TestOneInput)
