"""Fuzz target: Android Key Attestation, :func:`attest.android.verify_android_attestation`.

Input (see :mod:`fuzz.framing`): 8 bytes verification time (ms since the epoch), 1 byte policy
flags, the expected challenge (2-byte length prefix), then the certificates as concatenated DER,
leaf first. The certificates are cut at their outer DER lengths; what cannot be cut is the last
piece, so a mutated length splits or merges certificates the way a confused client would. Seeds:
the real chains of fixtures/android with a time inside their window and their own challenge.

Oracle beyond "no other exception": the verdict (or error code) with the shared
:class:`IntermediateCache` is the verdict without it. A warm cache must never accept what a cold
validation rejects, or reject what it accepts; nor report another key: the warm path reads the attested
key's SubjectPublicKeyInfo and JWK from the certificate's encoding, the cold one exports the key.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from attest.android import (
    AndroidAttestationResult,
    AndroidPolicy,
    AppIdentityPolicy,
    IntermediateCache,
    RevocationMode,
    SecurityLevel,
    StatusList,
    parse_status_list,
    verify_android_attestation,
)
from attest.errors import AttestationError
from fuzz.framing import Fields

EXPECTED_ERRORS: tuple[type[Exception], ...] = (AttestationError,)

#: Policy flags (second field of the input).
RELAXED_BOOT = 0x01  # accept unlocked / unverified boot: the test devices of the fixtures are unlocked
CHECK_APP = 0x02  # require Google's attestation test app (package and signer) of the fixtures
NO_STATUS_LIST = 0x04  # no status list: revocation "required" must fail closed
STRONGBOX = 0x08  # require StrongBox

#: One more than the chain length bound, so that the bound itself is exercised.
MAX_PIECES = 9

GOOGLE_TEST_APP = AppIdentityPolicy(
    package_names=frozenset(
        {"com.google.android.attestation", "com.google.wireless.android.security.attestationverifier.collector"}
    ),
    signer_digests=frozenset({bytes.fromhex("103938ee4537e59e8ee792f654504fb8346fc6b346d0bbc4415fc339fcfc8ec1")}),
)
STATUS_LIST = parse_status_list(
    (Path(__file__).resolve().parents[1] / "fixtures" / "android" / "status-list-sample.json").read_bytes(),
    source="fixtures/android/status-list-sample.json",
)
#: Shared across inputs, as the service shares one across requests.
CACHE = IntermediateCache(max_entries=256)


def check(data: bytes) -> AndroidAttestationResult:
    fields = Fields(data)
    at = fields.instant()
    flags = fields.uint(1)
    challenge = fields.chunk()
    chain = split_der(fields.rest())
    policy = AndroidPolicy(
        challenge=challenge,  # empty: ConfigurationError, an AttestationError
        app=GOOGLE_TEST_APP if flags & CHECK_APP else None,
        min_security_level=SecurityLevel.STRONG_BOX if flags & STRONGBOX else SecurityLevel.TRUSTED_ENVIRONMENT,
        require_verified_boot=not flags & RELAXED_BOOT,
        require_locked_bootloader=not flags & RELAXED_BOOT,
        revocation=RevocationMode.REQUIRED,
    )
    status_list = None if flags & NO_STATUS_LIST else STATUS_LIST
    cold = _verdict(chain, policy, at, status_list, None)
    warm = _verdict(chain, policy, at, status_list, CACHE)
    if cold[0] != warm[0]:
        raise AssertionError(f"the intermediate cache changes the verdict: without {cold[0]}, with {warm[0]}")
    result = cold[1]
    if isinstance(result, AttestationError):
        raise result
    return result


def _verdict(
    chain: Sequence[bytes],
    policy: AndroidPolicy,
    at: datetime,
    status_list: StatusList | None,
    cache: IntermediateCache | None,
) -> tuple[tuple[object, ...], AndroidAttestationResult | AttestationError]:
    try:
        result = verify_android_attestation(chain, policy, at=at, status_list=status_list, intermediate_cache=cache)
    except AttestationError as error:
        return ("rejected", error.code), error
    jwk = tuple(result.public_key_jwk.items())
    return ("valid", result.public_key_der, jwk, result.root_key_fingerprint, result.remotely_provisioned), result


def split_der(data: bytes) -> list[bytes]:
    """Concatenated DER elements, cut at their outer lengths (identifier octet, then a short or
    long-form length); the remainder that does not parse is the last piece."""
    pieces: list[bytes] = []
    offset = 0
    while offset < len(data):
        end = _element_end(data, offset)
        if end is None or len(pieces) == MAX_PIECES - 1:
            pieces.append(data[offset:])
            break
        pieces.append(data[offset:end])
        offset = end
    return pieces


def _element_end(data: bytes, offset: int) -> int | None:
    if offset + 2 > len(data):
        return None
    length, start = data[offset + 1], offset + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or start + count > len(data):
            return None
        length, start = int.from_bytes(data[start : start + count], "big"), start + count
    end = start + length
    return end if end <= len(data) else None


def TestOneInput(data: bytes) -> None:
    with contextlib.suppress(*EXPECTED_ERRORS):
        check(data)


if __name__ == "__main__":
    from fuzz.engine import fuzz

    fuzz(TestOneInput)
