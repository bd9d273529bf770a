"""Fuzz target: App Attest receipts, :func:`attest.apple.verify_apple_receipt`.

Input (see :mod:`fuzz.framing`): 8 bytes verification time (ms since the epoch), 1 byte flags, then
with 2-byte length prefixes the App ID and the stored public key (an X9.62 P-256 point; empty or
unreadable: step 6 is skipped), and last the receipt (PKCS #7, BER). Seeds: the real receipts of
fixtures/apple/samples.json with their own time, App ID and key.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from attest.apple import (
    AppAttestApp,
    AppleReceipt,
    Environment,
    ReceiptPolicy,
    apple_root_ca_g3,
    verify_apple_receipt,
)
from attest.errors import AttestationError
from fuzz.framing import Fields

EXPECTED_ERRORS: tuple[type[Exception], ...] = (AttestationError,)

#: Flags (second field of the input); neither environment set means production.
PRODUCTION = 0x01
DEVELOPMENT = 0x02
FRESH = 0x04  # the policy requires a receipt created in the last five minutes (Apple's advice)
_ENVIRONMENT_FLAGS = ((PRODUCTION, Environment.PRODUCTION), (DEVELOPMENT, Environment.DEVELOPMENT))

ANCHORS = apple_root_ca_g3()


def check(data: bytes) -> AppleReceipt:
    fields = Fields(data)
    at = fields.instant()
    flags = fields.uint(1)
    app_id = fields.chunk().decode("utf-8", "replace")
    point = fields.chunk()
    receipt = fields.rest()
    environments = [env for bit, env in _ENVIRONMENT_FLAGS if flags & bit] or [Environment.PRODUCTION]
    public_key: ec.EllipticCurvePublicKey | None = None
    with contextlib.suppress(ValueError):
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    # An App ID that is not TEAMID.bundle.id is a ConfigurationError (an AttestationError).
    policy = ReceiptPolicy(
        apps=tuple(AppAttestApp(app_id, env) for env in environments),
        anchors=ANCHORS,
        max_age=timedelta(minutes=5) if flags & FRESH else None,
    )
    result = verify_apple_receipt(receipt, policy, at=at, public_key=public_key)
    if result.environment not in policy.environments_for(result.app_id):
        raise AssertionError(f"accepted a receipt for {result.app_id!r} in {result.environment}")
    return result


def TestOneInput(data: bytes) -> None:
    with contextlib.suppress(*EXPECTED_ERRORS):
        check(data)


if __name__ == "__main__":
    from fuzz.engine import fuzz

    fuzz(TestOneInput)
