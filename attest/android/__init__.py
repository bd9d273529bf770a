"""Android Key Attestation: chain validation, revocation, KeyDescription decoding and policy.

Entry point: :func:`verify_android_attestation`."""

from attest.android.chain import (
    IntermediateCache,
    TrustAnchor,
    TrustAnchors,
    google_hardware_attestation_roots,
)
from attest.android.key_description import (
    Algorithm,
    KeyDescription,
    Origin,
    SecurityLevel,
    VerifiedBootState,
    parse_key_description,
)
from attest.android.policy import AndroidPolicy, AppIdentityPolicy
from attest.android.revocation import RevocationMode, StatusList, parse_status_list
from attest.android.verify import AndroidAttestationResult, verify_android_attestation

__all__ = [
    "Algorithm",
    "AndroidAttestationResult",
    "AndroidPolicy",
    "AppIdentityPolicy",
    "IntermediateCache",
    "KeyDescription",
    "Origin",
    "RevocationMode",
    "SecurityLevel",
    "StatusList",
    "TrustAnchor",
    "TrustAnchors",
    "VerifiedBootState",
    "google_hardware_attestation_roots",
    "parse_key_description",
    "parse_status_list",
    "verify_android_attestation",
]
