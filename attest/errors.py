"""The one exception hierarchy of the `attest` package.

Every failed check raises a subclass of :class:`AttestationError`. A subclass only sets
``code``: a short, stable, machine-readable string (``family.reason``) that the HTTP layer
returns as the RFC 9457 ``code`` member and the CLI prints. ``message`` is for humans and
names the certificate or field that failed; it never contains secrets.

Each class docstring says what the check stops (after Google's ``KeyAttestationReason``).
"""

from __future__ import annotations

from typing import ClassVar


class AttestationError(Exception):
    """Base of every error raised by the `attest` package."""

    code: ClassVar[str] = "attestation.error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ConfigurationError(AttestationError):
    """A policy or setting is inconsistent; raised when it is built, never at verification time."""

    code = "config.invalid"


# --- input ------------------------------------------------------------------------------------


class InputError(AttestationError):
    """The input cannot be read at all (not base64, not PEM, not CBOR, too large)."""

    code = "input.malformed"


class InputTooLarge(InputError):
    """An input exceeds its size bound: stops memory and CPU exhaustion with giant payloads."""

    code = "input.too_large"


# --- certificate chains -----------------------------------------------------------------------


class ChainError(AttestationError):
    """A certificate chain fails path validation (RFC 5280 section 6)."""

    code = "chain.invalid"


class ChainMalformed(ChainError):
    """A certificate is not valid DER X.509: stops parser confusion with crafted encodings."""

    code = "chain.malformed"


class ChainEmpty(ChainError):
    """No certificate was sent."""

    code = "chain.empty"


class ChainTooLong(ChainError):
    """More certificates than any genuine chain has: stops path-building and CPU exhaustion."""

    code = "chain.too_long"


class ChainSignature(ChainError):
    """A certificate's signature does not verify with its issuer's key: stops forged certificates."""

    code = "chain.signature"


class ChainNameChaining(ChainError):
    """A certificate's issuer name is not its issuer's subject name (RFC 5280 section 6.1.3 (a)(4))."""

    code = "chain.name_chaining"


class ChainIssuerNotCA(ChainError):
    """An issuing certificate is not a CA (basicConstraints / keyUsage): stops an end-entity key
    being used to mint certificates below it."""

    code = "chain.issuer_not_ca"


class ChainUntrustedRoot(ChainError):
    """The chain does not end at a trusted anchor key: stops self-made and software-attestation roots."""

    code = "chain.untrusted_root"


class ChainExpired(ChainError):
    """A certificate is outside its validity window at the verification time (expired, or not yet
    valid): stops replay of chains whose intermediates were retired, and back-dated forgeries."""

    code = "chain.expired"


class ChainRevoked(ChainError):
    """A certificate is on the issuer's revocation status list: stops leaked attestation keys."""

    code = "chain.revoked"


class ChainExtended(ChainError):
    """A certificate was issued *by* the attested key: an attacker who holds an attested key signs
    an extra certificate with a forged attestation extension, hoping a naive verifier reads the
    extension from the first certificate."""

    code = "chain.extended"


# --- revocation status list -------------------------------------------------------------------


class RevocationError(AttestationError):
    """The revocation status list cannot be used."""

    code = "revocation.error"


class RevocationListMalformed(RevocationError):
    """The status list is not the documented JSON shape."""

    code = "revocation.malformed"


class RevocationListUnavailable(RevocationError):
    """No fresh status list is available and the policy requires one (fail closed)."""

    code = "revocation.unavailable"


# --- the attestation extension ----------------------------------------------------------------


class ExtensionError(AttestationError):
    """The attestation extension is missing, repeated or unreadable."""

    code = "extension.invalid"


class ExtensionMissing(ExtensionError):
    """The attested certificate carries no attestation extension: nothing was attested."""

    code = "extension.missing"


class ExtensionDuplicate(ExtensionError):
    """An attestation extension appears twice, or on a certificate other than the attested one:
    stops an attacker from planting a second, forged description for a lax parser to pick."""

    code = "extension.duplicate"


class ExtensionMalformed(ExtensionError):
    """The extension's ASN.1 is not the documented schema: stops parser-differential attacks."""

    code = "extension.malformed"


# --- policy -----------------------------------------------------------------------------------


class PolicyViolation(AttestationError):
    """A verified attestation does not satisfy the relying party's policy."""

    code = "policy.violation"


class ChallengeMismatch(PolicyViolation):
    """The attested challenge is not the one the server issued: stops replay of old attestations."""

    code = "challenge.mismatch"


class AppIdentityMissing(PolicyViolation):
    """The attestation names no application, so it cannot be bound to our app."""

    code = "app.missing"


class AppPackageNotAllowed(PolicyViolation):
    """The attested application is not one of ours: stops other apps on a genuine device."""

    code = "app.package_not_allowed"


class AppSignerNotAllowed(PolicyViolation):
    """The attested application is not signed with our key: stops repackaged or modified apps."""

    code = "app.signer_not_allowed"


class DeviceSecurityLevel(PolicyViolation):
    """The key lives below the required security level: stops software keystores and emulators."""

    code = "device.security_level"


class DeviceBootState(PolicyViolation):
    """Verified boot did not verify the OS: stops modified (rooted, custom) system images."""

    code = "device.boot_state"


class DeviceUnlocked(PolicyViolation):
    """The bootloader is unlocked: the OS can be replaced, so its claims cannot be trusted."""

    code = "device.unlocked"


class DeviceOsVersion(PolicyViolation):
    """The OS version is older than the policy allows: stops devices without current defences."""

    code = "device.os_version"


class DevicePatchLevel(PolicyViolation):
    """A patch level is older than the policy allows: stops devices with known vulnerabilities."""

    code = "device.patch_level"


class KeyOrigin(PolicyViolation):
    """The key was imported, not generated inside secure hardware: its private half may be known."""

    code = "key.origin"


class KeyAlgorithm(PolicyViolation):
    """The attested key's algorithm is not allowed, or does not match the certified public key."""

    code = "key.algorithm"
