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
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from attest.android import chain as chain_validation
from attest.android.key_description import (
    KEY_DESCRIPTION_OID,
    KeyDescription,
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
from attest.jwk import b64url, public_key_to_jwk

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
    """Everything downstream needs from a verified attestation."""

    #: The attested Keystore key: it becomes ``cnf.jwk`` of the Client Attestation JWT.
    public_key_jwk: Mapping[str, str]
    #: SubjectPublicKeyInfo DER of the attested key.
    public_key_der: bytes
    package_names: tuple[str, ...]
    package_versions: tuple[int, ...]
    signer_digests: tuple[bytes, ...]
    app_checked: bool
    attestation_version: int
    keymint_version: int
    attestation_security_level: SecurityLevel
    keymint_security_level: SecurityLevel
    verified_boot_state: VerifiedBootState | None
    device_locked: bool | None
    verified_boot_key: bytes | None
    verified_boot_hash: bytes | None
    os_version: int | None
    os_patch_level: int | None
    vendor_patch_level: int | None
    boot_patch_level: int | None
    #: Which anchor the chain ended at (name and SHA-256 of its SubjectPublicKeyInfo).
    root_name: str
    root_key_fingerprint: str
    remotely_provisioned: bool
    revocation: RevocationOutcome
    #: The verified chain, leaf first (the anchor's certificate last when it was sent).
    certificates: tuple[x509.Certificate, ...]
    key_description: KeyDescription

    def chain_summary(self) -> tuple[chain_validation.CertificateSummary, ...]:
        """Subject, issuer, serial, validity and key of each certificate, for display and audit."""
        return chain_validation.summarize(self.certificates)


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

#: JWK names (RFC 7518 section 6.2.1.1) of the curves an attested EC key may be on.
_JWK_CURVES: Mapping[str, str] = MappingProxyType({"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"})

#: The DER of an EC SubjectPublicKeyInfo on each curve up to its point (RFC 5480 sections 2.1.1 and 2.2:
#: id-ecPublicKey with the namedCurve OID, then the BIT STRING header and 0x04, "uncompressed").
_EC_SPKI_PREFIXES: Mapping[str, bytes] = MappingProxyType(
    {
        "secp256r1": bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03010703420004"),
        "secp384r1": bytes.fromhex("3076301006072a8648ce3d020106052b8104002203620004"),
        "secp521r1": bytes.fromhex("30819b301006072a8648ce3d020106052b810400230381860004"),
    }
)


def _attested_key(key: CertificatePublicKeyTypes, as_sent: bytes | None) -> tuple[Mapping[str, str], bytes]:
    """The attested key as a JWK and as SubjectPublicKeyInfo DER. An EC key's SubjectPublicKeyInfo ends
    with its point, uncompressed (RFC 5480 section 2.2): the JWK's coordinates are read from there
    rather than exported a second time (what :func:`attest.jwk.public_key_to_jwk` would do). When the
    certificate encodes it exactly so (``as_sent``, the bytes the key was loaded from, is the named-curve
    prefix and an uncompressed point of the curve's size), those bytes are used as they are: exporting
    the key would give the same bytes, at the cost of encoding the point again."""
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _JWK_CURVES:
        size = (key.curve.key_size + 7) // 8
        prefix = _EC_SPKI_PREFIXES[key.curve.name]
        if as_sent is not None and len(as_sent) == len(prefix) + 2 * size and as_sent.startswith(prefix):
            spki = as_sent
        else:
            spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        point = spki[-(2 * size + 1) :]
        if point[0] == 0x04:
            jwk = {
                "kty": "EC",
                "crv": _JWK_CURVES[key.curve.name],
                "x": b64url(point[1 : size + 1]),
                "y": b64url(point[size + 1 :]),
            }
            return MappingProxyType(jwk), spki
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public_key_to_jwk(key), spki


def _result(
    verified: chain_validation.VerifiedChain,
    description: KeyDescription,
    revocation: RevocationOutcome,
    *,
    app_checked: bool,
) -> AndroidAttestationResult:
    enforced = enforced_list(description)
    root = enforced.root_of_trust
    app_id = (
        description.software_enforced.attestation_application_id
        or description.hardware_enforced.attestation_application_id
    )
    jwk, spki = _attested_key(verified.attested_public_key, verified.attested_spki)
    return AndroidAttestationResult(
        public_key_jwk=jwk,
        public_key_der=spki,
        package_names=app_id.package_names if app_id else (),
        package_versions=app_id.package_versions if app_id else (),
        signer_digests=app_id.signature_digests if app_id else (),
        app_checked=app_checked,
        attestation_version=description.attestation_version,
        keymint_version=description.keymint_version,
        attestation_security_level=description.attestation_security_level,
        keymint_security_level=description.keymint_security_level,
        verified_boot_state=root.verified_boot_state if root else None,
        device_locked=root.device_locked if root else None,
        verified_boot_key=root.verified_boot_key if root else None,
        verified_boot_hash=root.verified_boot_hash if root else None,
        os_version=enforced.os_version,
        os_patch_level=enforced.os_patch_level,
        vendor_patch_level=enforced.vendor_patch_level,
        boot_patch_level=enforced.boot_patch_level,
        root_name=verified.anchor.name,
        root_key_fingerprint=verified.anchor.fingerprint,
        remotely_provisioned=verified.remotely_provisioned,
        revocation=revocation,
        certificates=verified.certificates,
        key_description=description,
    )
