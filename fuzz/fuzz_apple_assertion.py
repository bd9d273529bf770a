"""Fuzz target: App Attest assertions, :func:`attest.apple.verify_apple_assertion`.

Input (see :mod:`fuzz.framing`): 4 bytes stored counter, then with 2-byte length prefixes the stored
public key (an X9.62 P-256 point), the client data and the App ID, and last the CBOR assertion.
Seeds: the real assertions of fixtures/apple/samples.json with their stored key, counter, client
data and App ID.

The stored key and counter come from our database, never from the client: an input whose key field
is not a P-256 point is outside the contract and is skipped before the verifier runs.

Oracle beyond "no other exception": an accepted assertion's counter is greater than the stored one.
"""

from __future__ import annotations

import contextlib

from cryptography.hazmat.primitives.asymmetric import ec

from attest.apple import (
    AppAttestApp,
    AppAttestPolicy,
    Environment,
    VerifiedAppleAssertion,
    apple_app_attestation_root,
    verify_apple_assertion,
)
from attest.errors import AttestationError
from fuzz.framing import Fields

EXPECTED_ERRORS: tuple[type[Exception], ...] = (AttestationError,)

ANCHORS = apple_app_attestation_root()


def check(data: bytes) -> VerifiedAppleAssertion | None:
    fields = Fields(data)
    counter = fields.uint(4)
    point = fields.chunk()
    client_data = fields.chunk()
    app_id = fields.chunk().decode("utf-8", "replace")
    assertion = fields.rest()
    try:
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        return None  # not a key the service could have stored
    # An App ID that is not TEAMID.bundle.id is a ConfigurationError (an AttestationError).
    policy = AppAttestPolicy(apps=(AppAttestApp(app_id, Environment.DEVELOPMENT),), anchors=ANCHORS)
    result = verify_apple_assertion(assertion, policy, client_data=client_data, public_key=public_key, counter=counter)
    if result.counter <= counter:
        raise AssertionError(f"accepted counter {result.counter} after stored counter {counter}")
    return result


def TestOneInput(data: bytes) -> None:
    with contextlib.suppress(*EXPECTED_ERRORS):
        check(data)


if __name__ == "__main__":
    from fuzz.engine import fuzz

    fuzz(TestOneInput)
