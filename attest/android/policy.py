"""The relying party's policy for Android Key Attestation, and one check per constraint.

Defaults are the safe ones: a hardware keystore (TEE or StrongBox), verified boot with a locked
bootloader, a key generated on the device, revocation required. Each check raises the error of its
constraint with the observed and the configured value in the message, like Google's
``ConstraintConfig`` ("Security level violates constraint: ...").
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum

from cryptography.hazmat.primitives.asymmetric import ec, mldsa, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from attest.android.chain import TrustAnchors, google_hardware_attestation_roots
from attest.android.key_description import (
    Algorithm,
    AuthorizationList,
    KeyDescription,
    Origin,
    SecurityLevel,
    VerifiedBootState,
)
from attest.android.revocation import RevocationMode
from attest.errors import (
    AppIdentityMissing,
    AppPackageNotAllowed,
    AppSignerNotAllowed,
    ChallengeMismatch,
    ConfigurationError,
    DeviceBootState,
    DeviceOsVersion,
    DevicePatchLevel,
    DeviceSecurityLevel,
    DeviceUnlocked,
    KeyAlgorithm,
    KeyOrigin,
)


@dataclass(frozen=True, slots=True)
class AppIdentityPolicy:
    """Which apps may attest: package names, and SHA-256 digests of their APK signing certificates.
    An empty set leaves that part unchecked; at least one must be given."""

    package_names: frozenset[str] = frozenset()
    signer_digests: frozenset[bytes] = frozenset()

    def __post_init__(self) -> None:
        if not self.package_names and not self.signer_digests:
            raise ConfigurationError("an app identity policy needs package names or signer digests")
        for digest in self.signer_digests:
            if len(digest) != 32:
                raise ConfigurationError(f"signer digest {digest.hex()} is not a SHA-256 digest (32 bytes)")


@dataclass(frozen=True, slots=True)
class AndroidPolicy:
    """What an attestation must show to be accepted.

    ``challenge`` is required (the server's single-use challenge). ``app`` is required too: ``None``
    says explicitly that the app is not checked, and the result reports ``app_checked=False``."""

    challenge: bytes
    app: AppIdentityPolicy | None
    trust_anchors: TrustAnchors = field(default_factory=google_hardware_attestation_roots)
    min_security_level: SecurityLevel = SecurityLevel.TRUSTED_ENVIRONMENT
    require_verified_boot: bool = True
    require_locked_bootloader: bool = True
    min_os_version: int | None = None
    #: YYYYMM, e.g. 202501.
    min_os_patch_level: int | None = None
    #: YYYYMMDD or YYYYMM.
    min_vendor_patch_level: int | None = None
    min_boot_patch_level: int | None = None
    allowed_origins: frozenset[Origin] = frozenset({Origin.GENERATED})
    allowed_key_algorithms: frozenset[Algorithm] = frozenset({Algorithm.EC, Algorithm.RSA, Algorithm.ML_DSA})
    revocation: RevocationMode = RevocationMode.REQUIRED
    #: Tolerated clock difference on certificates' notBefore (device clocks drift).
    not_before_leeway: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if not isinstance(self.challenge, bytes) or not self.challenge:
            raise ConfigurationError("the policy needs the expected challenge (non-empty bytes)")
        if not self.trust_anchors.anchors:
            raise ConfigurationError("the policy has no trust anchors")
        if not self.allowed_key_algorithms:
            raise ConfigurationError("the policy allows no key algorithm")
        if self.not_before_leeway < timedelta(0) or self.not_before_leeway > timedelta(days=1):
            raise ConfigurationError("not_before_leeway must be between 0 and 1 day")


def enforced_list(description: KeyDescription) -> AuthorizationList:
    """The list that holds the key's properties: hardwareEnforced, or softwareEnforced for a
    software-level attestation (schema: "the TEE or StrongBox enforces the hardwareEnforced list")."""
    if description.attestation_security_level is SecurityLevel.SOFTWARE:
        return description.software_enforced
    return description.hardware_enforced


# --- the checks ---------------------------------------------------------------------------------


def check_challenge(description: KeyDescription, policy: AndroidPolicy) -> None:
    """attestationChallenge equals the server's challenge (constant-time comparison)."""
    if not hmac.compare_digest(description.attestation_challenge, policy.challenge):
        raise ChallengeMismatch(
            f"attestationChallenge ({len(description.attestation_challenge)} bytes) is not the expected challenge"
        )


def check_security_level(description: KeyDescription, policy: AndroidPolicy) -> None:
    """attestationSecurityLevel and keyMintSecurityLevel are at least the policy's minimum."""
    for label, level in (
        ("attestationSecurityLevel", description.attestation_security_level),
        ("keyMintSecurityLevel", description.keymint_security_level),
    ):
        if level < policy.min_security_level:
            raise DeviceSecurityLevel(
                f"{label} is {level.name}; the policy requires at least {policy.min_security_level.name}"
            )


def check_root_of_trust(description: KeyDescription, policy: AndroidPolicy) -> None:
    """rootOfTrust: verifiedBootState VERIFIED, then deviceLocked (schema: RootOfTrust)."""
    if not policy.require_verified_boot and not policy.require_locked_bootloader:
        return
    root = enforced_list(description).root_of_trust
    if root is None:
        raise DeviceBootState("the attestation has no rootOfTrust; verified boot cannot be checked")
    if policy.require_verified_boot and root.verified_boot_state is not VerifiedBootState.VERIFIED:
        raise DeviceBootState(f"verifiedBootState is {root.verified_boot_state.name}; the policy requires VERIFIED")
    if policy.require_locked_bootloader and not root.device_locked:
        raise DeviceUnlocked("deviceLocked is false; the policy requires a locked bootloader")


def check_os_version(description: KeyDescription, policy: AndroidPolicy) -> None:
    """osVersion (e.g. 150000 for Android 15) is at least the minimum."""
    if policy.min_os_version is None:
        return
    observed = enforced_list(description).os_version
    if observed is None or observed < policy.min_os_version:
        raise DeviceOsVersion(f"osVersion is {observed}; the policy requires at least {policy.min_os_version}")


def check_patch_levels(description: KeyDescription, policy: AndroidPolicy) -> None:
    """osPatchLevel, vendorPatchLevel, bootPatchLevel are at least the minimums (YYYYMM[DD])."""
    authorizations = enforced_list(description)
    for label, observed, minimum in (
        ("osPatchLevel", authorizations.os_patch_level, policy.min_os_patch_level),
        ("vendorPatchLevel", authorizations.vendor_patch_level, policy.min_vendor_patch_level),
        ("bootPatchLevel", authorizations.boot_patch_level, policy.min_boot_patch_level),
    ):
        if minimum is None:
            continue
        if observed is None or _as_day(observed) < _as_day(minimum):
            raise DevicePatchLevel(f"{label} is {observed}; the policy requires at least {minimum}")


def check_key_origin(description: KeyDescription, policy: AndroidPolicy) -> None:
    """origin is an allowed one (GENERATED by default: the private key never left the hardware)."""
    origin = enforced_list(description).origin
    if origin is None or origin not in policy.allowed_origins:
        shown = _name(Origin, origin)
        allowed = ", ".join(sorted(o.name for o in policy.allowed_origins))
        raise KeyOrigin(f"origin is {shown}; the policy allows {allowed}")


#: The public key types each attested algorithm certifies (KeyMint Algorithm.aidl).
_KEY_TYPES: dict[int, tuple[type, ...]] = {
    Algorithm.EC: (ec.EllipticCurvePublicKey,),
    Algorithm.RSA: (rsa.RSAPublicKey,),
    Algorithm.ML_DSA: (mldsa.MLDSA44PublicKey, mldsa.MLDSA65PublicKey, mldsa.MLDSA87PublicKey),
}


def check_key_algorithm(description: KeyDescription, policy: AndroidPolicy, key: CertificatePublicKeyTypes) -> None:
    """algorithm is allowed and is the algorithm of the certified public key ``key``."""
    algorithm = enforced_list(description).algorithm
    if algorithm is None or algorithm not in policy.allowed_key_algorithms:
        shown = _name(Algorithm, algorithm)
        allowed = ", ".join(sorted(a.name for a in policy.allowed_key_algorithms))
        raise KeyAlgorithm(f"algorithm is {shown}; the policy allows {allowed}")
    if not isinstance(key, _KEY_TYPES.get(algorithm, ())):
        raise KeyAlgorithm(
            f"the attested algorithm is {Algorithm(algorithm).name} but the certificate holds a {type(key).__name__}"
        )


def check_app(description: KeyDescription, policy: AndroidPolicy) -> None:
    """attestationApplicationId names an allowed package signed with an allowed certificate."""
    if policy.app is None:
        return
    app_id = (
        description.software_enforced.attestation_application_id
        or description.hardware_enforced.attestation_application_id
    )
    if app_id is None:
        raise AppIdentityMissing("the attestation has no attestationApplicationId")
    names = [package.name for package in app_id.packages]
    if policy.app.package_names and not any(name in policy.app.package_names for name in names):
        raise AppPackageNotAllowed(
            f"attested packages {names} are not among the allowed {sorted(policy.app.package_names)}"
        )
    digests = [digest.hex() for digest in app_id.signature_digests]
    if policy.app.signer_digests and not any(d in policy.app.signer_digests for d in app_id.signature_digests):
        allowed = sorted(d.hex() for d in policy.app.signer_digests)
        raise AppSignerNotAllowed(f"attested signing-certificate digests {digests} are not among the allowed {allowed}")


def _name(enum: type[IntEnum], value: int | None) -> str:
    if value is not None and value in enum._value2member_map_:
        return enum(value).name
    return str(value)


def _as_day(level: int) -> int:
    """YYYYMM -> YYYYMM00, YYYYMMDD unchanged, so the two forms compare."""
    return level * 100 if level < 1_000_000 else level
