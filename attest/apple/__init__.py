"""Apple App Attest: attestation, assertion and receipt verification, and the receipt-refresh client.

Pure verifiers (bytes in, frozen dataclass out, or a typed :class:`attest.errors.AttestationError`;
time injected as ``at``):

- :func:`verify_apple_attestation`: Apple's attestation steps 1-9, anchored at the bundled Apple App
  Attestation Root CA (``AppAttestPolicy.anchors``).
- :func:`verify_apple_assertion`: signature over the nonce, App ID, strictly increasing counter.
- :func:`verify_apple_receipt`: the receipt's CMS signature and chain to Apple Root CA - G3, decoded.

:class:`ReceiptRefreshClient` trades a receipt for a fresh one at Apple (injectable ``httpx`` transport).
"""

from attest.apple.assertion import VerifiedAppleAssertion, verify_apple_assertion
from attest.apple.attestation import VerifiedAppleAttestation, verify_apple_attestation
from attest.apple.chain import IntermediateCache, TrustAnchor
from attest.apple.errors import (
    AppAttestAppIdNotAllowed,
    AppAttestCounterNotZero,
    AppAttestCredentialIdMismatch,
    AppAttestEnvironmentNotAllowed,
    AppAttestFormat,
    AppAttestKeyIdMismatch,
    AppAttestMalformed,
    AppAttestNonceMismatch,
    AssertionAppIdNotAllowed,
    AssertionCounterNotIncreasing,
    AssertionMalformed,
    AssertionSignature,
    ReceiptAppIdNotAllowed,
    ReceiptEnvironmentNotAllowed,
    ReceiptExpired,
    ReceiptFromFuture,
    ReceiptMalformed,
    ReceiptPublicKeyMismatch,
    ReceiptRefreshError,
    ReceiptRefreshNoData,
    ReceiptRefreshRateLimited,
    ReceiptRefreshRejected,
    ReceiptSignature,
    ReceiptSignerNotAllowed,
    ReceiptStale,
)
from attest.apple.policy import (
    AppAttestApp,
    AppAttestPolicy,
    Environment,
    ReceiptPolicy,
    apple_app_attestation_root,
    apple_root_ca_g3,
)
from attest.apple.receipt import AppleReceipt, ReceiptType, verify_apple_receipt
from attest.apple.receipt_client import DeveloperKey, ReceiptRefresh, ReceiptRefreshClient

__all__ = [
    "AppAttestApp",
    "AppAttestAppIdNotAllowed",
    "AppAttestCounterNotZero",
    "AppAttestCredentialIdMismatch",
    "AppAttestEnvironmentNotAllowed",
    "AppAttestFormat",
    "AppAttestKeyIdMismatch",
    "AppAttestMalformed",
    "AppAttestNonceMismatch",
    "AppAttestPolicy",
    "AppleReceipt",
    "AssertionAppIdNotAllowed",
    "AssertionCounterNotIncreasing",
    "AssertionMalformed",
    "AssertionSignature",
    "DeveloperKey",
    "Environment",
    "IntermediateCache",
    "ReceiptAppIdNotAllowed",
    "ReceiptEnvironmentNotAllowed",
    "ReceiptExpired",
    "ReceiptFromFuture",
    "ReceiptMalformed",
    "ReceiptPolicy",
    "ReceiptPublicKeyMismatch",
    "ReceiptRefresh",
    "ReceiptRefreshClient",
    "ReceiptRefreshError",
    "ReceiptRefreshNoData",
    "ReceiptRefreshRateLimited",
    "ReceiptRefreshRejected",
    "ReceiptSignature",
    "ReceiptSignerNotAllowed",
    "ReceiptStale",
    "ReceiptType",
    "TrustAnchor",
    "VerifiedAppleAssertion",
    "VerifiedAppleAttestation",
    "apple_app_attestation_root",
    "apple_root_ca_g3",
    "verify_apple_assertion",
    "verify_apple_attestation",
    "verify_apple_receipt",
]
