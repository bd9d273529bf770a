"""Verify an Android Key Attestation: the chain, its revocation status, the KeyDescription, the policy.

Steps follow Google's "Verify hardware-backed key pairs with key attestation"
(https://developer.android.com/privacy-and-security/security-key-attestation#verifying):

1. the chain validates to a Google hardware attestation root key (:mod:`attest.android.chain`);
2. no certificate of the chain is on the status list (:mod:`attest.android.revocation`);
3. the attested certificate's KeyDescription decodes (:mod:`attest.android.key_description`);
4. its values satisfy the policy (:mod:`attest.android.policy`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from attest.android import chain as chain_validation
from attest.android.attested_key import attested_key
from attest.android.key_description import (
    KEY_DESCRIPTION_OID,
    AttestationApplicationId,
    KeyDescription,
    RootOfTrust,
    SecurityLevel,
    VerifiedBootState,
    parse_key_description,
)
from attest.android.policy import (
    AndroidPolicy,
    check_app,
    check_challenge,
    check_key_algorithm,
    check_key_origin,
    check_os_version,
    check_patch_levels,
    check_root_of_trust,
    check_security_level,
    enforced_list,
)
from attest.android.revocation import RevocationOutcome, StatusList, check_revocation
from attest.errors import ConfigurationError

#: The steps in the order they run; ``on_step`` is called with each label once it has passed.
STEPS = (
    "chain",
    "revocation",
    "key description",
    "challenge",
    "security level",
    "verified boot",
    "OS version",
    "patch levels",
    "key origin",
    "key algorithm",
    "app identity",
)

_POLICY_CHECKS: tuple[tuple[str, Callable[[KeyDescription, AndroidPolicy], None]], ...] = (
    ("challenge", check_challenge),
    ("security level", check_security_level),
    ("verified boot", check_root_of_trust),
    ("OS version", check_os_version),
    ("patch levels", check_patch_levels),
    ("key origin", check_key_origin),
)


@dataclass(frozen=True, slots=True)
class AndroidAttestationResult:
    """Everything downstream needs from a verified attestation. The key's properties are read from
    ``key_description`` (its enforced list: :func:`~attest.android.policy.enforced_list`)."""

    #: The attested Keystore key: it becomes ``cnf.jwk`` of the Client Attestation JWT.
    public_key_jwk: Mapping[str, str]
    #: SubjectPublicKeyInfo DER of the attested key.
    public_key_der: bytes
    #: Whether the policy named the app (package and signing certificates) and it matched.
    app_checked: bool
    #: Which anchor the chain ended at (name and SHA-256 of its SubjectPublicKeyInfo).
    root_name: str
    root_key_fingerprint: str
    remotely_provisioned: bool
    revocation: RevocationOutcome
    #: The verified chain, leaf first (the anchor's certificate last when it was sent).
    certificates: tuple[x509.Certificate, ...]
    key_description: KeyDescription

    @property
    def package_names(self) -> tuple[str, ...]:
        app_id = self._application_id
        return app_id.package_names if app_id is not None else ()

    @property
    def package_versions(self) -> tuple[int, ...]:
        app_id = self._application_id
        return app_id.package_versions if app_id is not None else ()

    @property
    def signer_digests(self) -> tuple[bytes, ...]:
        app_id = self._application_id
        return app_id.signature_digests if app_id is not None else ()

    @property
    def attestation_version(self) -> int:
        return self.key_description.attestation_version

    @property
    def keymint_version(self) -> int:
        return self.key_description.keymint_version

    @property
    def attestation_security_level(self) -> SecurityLevel:
        return self.key_description.attestation_security_level

    @property
    def keymint_security_level(self) -> SecurityLevel:
        return self.key_description.keymint_security_level

    @property
    def verified_boot_state(self) -> VerifiedBootState | None:
        root = self._root_of_trust
        return root.verified_boot_state if root is not None else None

    @property
    def device_locked(self) -> bool | None:
        root = self._root_of_trust
        return root.device_locked if root is not None else None

    @property
    def verified_boot_key(self) -> bytes | None:
        root = self._root_of_trust
        return root.verified_boot_key if root is not None else None

    @property
    def verified_boot_hash(self) -> bytes | None:
        root = self._root_of_trust
        return root.verified_boot_hash if root is not None else None

    @property
    def os_version(self) -> int | None:
        return enforced_list(self.key_description).os_version

    @property
    def os_patch_level(self) -> int | None:
        return enforced_list(self.key_description).os_patch_level

    @property
    def vendor_patch_level(self) -> int | None:
        return enforced_list(self.key_description).vendor_patch_level

    @property
    def boot_patch_level(self) -> int | None:
        return enforced_list(self.key_description).boot_patch_level

    def chain_summary(self) -> tuple[chain_validation.CertificateSummary, ...]:
        """Subject, issuer, serial, validity and key of each certificate, for display and audit."""
        return chain_validation.summarize(self.certificates)

    @property
    def _application_id(self) -> AttestationApplicationId | None:
        """The app that owns the key: softwareEnforced holds it, or hardwareEnforced on some devices."""
        description = self.key_description
        return (
            description.software_enforced.attestation_application_id
            or description.hardware_enforced.attestation_application_id
        )

    @property
    def _root_of_trust(self) -> RootOfTrust | None:
        return enforced_list(self.key_description).root_of_trust


def verify_android_attestation(
    certificates: Sequence[bytes],
    policy: AndroidPolicy,
    *,
    at: datetime | None = None,
    status_list: StatusList | None = None,
    intermediate_cache: chain_validation.IntermediateCache | None = None,
    on_step: Callable[[str], None] | None = None,
) -> AndroidAttestationResult:
    """Verify a chain (DER, leaf first, as ``KeyStore.getCertificateChain()`` returns it).

    ``at`` is the time to check certificate validity at (default: now). ``status_list`` is the
    current revocation list, or ``None`` when none is available (``policy.revocation`` decides).
    Raises a subclass of :class:`~attest.errors.AttestationError` naming the failed check.
    ``on_step`` (optional) hears the label of each step of :data:`STEPS` as it passes."""
    passed = on_step or _ignore
    at = _aware(at) if at is not None else datetime.now(UTC)
    verified = chain_validation.verify_encoded_chain(
        certificates,
        policy.trust_anchors,
        at=at,
        not_before_leeway=policy.not_before_leeway,
        cache=intermediate_cache,
    )
    passed("chain")
    revocation = check_revocation(verified.certificates, status_list, policy.revocation, serials=verified.serials_hex)
    passed("revocation")
    description = parse_key_description(_extension_value(verified.attested))
    passed("key description")
    for label, check in _POLICY_CHECKS:
        check(description, policy)
        passed(label)
    check_key_algorithm(description, policy, verified.attested_public_key)
    passed("key algorithm")
    check_app(description, policy)
    passed("app identity")
    return _result(verified, description, revocation, app_checked=policy.app is not None)


def _ignore(_label: str) -> None:
    return None


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ConfigurationError("the verification time must be timezone-aware")
    return at


def _extension_value(certificate: x509.Certificate) -> bytes:
    extension = chain_validation.extensions_of(certificate, 0).get_extension_for_oid(_KEY_DESCRIPTION)
    value = extension.value
    assert isinstance(value, x509.UnrecognizedExtension)  # placement was checked with the chain
    return value.value


_KEY_DESCRIPTION = x509.ObjectIdentifier(KEY_DESCRIPTION_OID)


def _result(
    verified: chain_validation.VerifiedChain,
    description: KeyDescription,
    revocation: RevocationOutcome,
    *,
    app_checked: bool,
) -> AndroidAttestationResult:
    jwk, spki = attested_key(verified.attested_public_key, verified.attested_spki)
    return AndroidAttestationResult(
        public_key_jwk=jwk,
        public_key_der=spki,
        app_checked=app_checked,
        root_name=verified.anchor.name,
        root_key_fingerprint=verified.anchor.fingerprint,
        remotely_provisioned=verified.remotely_provisioned,
        revocation=revocation,
        certificates=verified.certificates,
        key_description=description,
    )
