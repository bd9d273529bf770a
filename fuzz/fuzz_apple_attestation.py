"""Fuzz target: App Attest attestation objects, :func:`attest.apple.verify_apple_attestation`.

Input (see :mod:`fuzz.framing`): 8 bytes verification time (ms since the epoch), 1 byte flags (which
environments the App ID is configured for), then with 2-byte length prefixes the key id the app
reported, the client data and the App ID, and last the CBOR attestation object. Seeds: the real
attestations of fixtures/apple/samples.json with their own time, key id, client data and App ID.

Oracle beyond "no other exception": the verdict (or error code) with the shared
:class:`IntermediateCache` is the verdict without it.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from attest.apple import (
    AppAttestApp,
    AppAttestPolicy,
    Environment,
    IntermediateCache,
    VerifiedAppleAttestation,
    apple_app_attestation_root,
    verify_apple_attestation,
)
from attest.errors import AttestationError
from fuzz.framing import Fields

EXPECTED_ERRORS: tuple[type[Exception], ...] = (AttestationError,)

#: Environment flags (second field of the input); neither set means production.
PRODUCTION = 0x01
DEVELOPMENT = 0x02

ANCHORS = apple_app_attestation_root()
#: Shared across inputs, as the service shares one across requests.
CACHE = IntermediateCache(max_entries=64)


def environments(flags: int) -> tuple[Environment, ...]:
    chosen = tuple(
        environment
        for bit, environment in ((PRODUCTION, Environment.PRODUCTION), (DEVELOPMENT, Environment.DEVELOPMENT))
        if flags & bit
    )
    return chosen or (Environment.PRODUCTION,)


def check(data: bytes) -> VerifiedAppleAttestation:
    fields = Fields(data)
    at = fields.instant()
    flags = fields.uint(1)
    key_id = fields.chunk()
    client_data = fields.chunk()
    app_id = fields.chunk().decode("utf-8", "replace")
    attestation = fields.rest()
    # An App ID that is not TEAMID.bundle.id is a ConfigurationError (an AttestationError).
    policy = AppAttestPolicy(
        apps=tuple(AppAttestApp(app_id, environment) for environment in environments(flags)), anchors=ANCHORS
    )
    cold = _verdict(attestation, policy, key_id, client_data, at, None)
    warm = _verdict(attestation, policy, key_id, client_data, at, CACHE)
    if cold[0] != warm[0]:
        raise AssertionError(f"the intermediate cache changes the verdict: without {cold[0]}, with {warm[0]}")
    result = cold[1]
    if isinstance(result, AttestationError):
        raise result
    return result


def _verdict(
    attestation: bytes,
    policy: AppAttestPolicy,
    key_id: bytes,
    client_data: bytes,
    at: datetime,
    cache: IntermediateCache | None,
) -> tuple[tuple[object, ...], VerifiedAppleAttestation | AttestationError]:
    try:
        result = verify_apple_attestation(
            attestation, policy, key_id=key_id, client_data=client_data, at=at, cache=cache
        )
    except AttestationError as error:
        return ("rejected", error.code), error
    return ("valid", result.key_id, result.public_key_der, result.app_id, result.environment), result


def TestOneInput(data: bytes) -> None:
    with contextlib.suppress(*EXPECTED_ERRORS):
        check(data)


if __name__ == "__main__":
    from fuzz.engine import fuzz

    fuzz(TestOneInput)
