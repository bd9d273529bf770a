"""Every failure code of the Android verifier, on chains made by the test factory under a test root."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from attest.android import (
    Algorithm,
    AndroidPolicy,
    AppIdentityPolicy,
    Origin,
    RevocationMode,
    SecurityLevel,
    TrustAnchors,
    parse_key_description,
    parse_status_list,
    verify_android_attestation,
)
from attest.android.chain import MAX_CHAIN_LENGTH, google_hardware_attestation_roots
from attest.android.key_description_json import authorization_list_as_json
from attest.errors import AttestationError, ConfigurationError
from tests.attest.android import factory as f
from tests.attest.android.fixture_files import ANDROID_FIXTURES

PKI = f.TestPki()
RSA_PKI = f.TestPki(root_key_type=f.KeyType.RSA_2048, provisioning=f.Provisioning.FACTORY, name="rsa")
NOW = f.FACTORY_NOW
APP = AppIdentityPolicy(
    package_names=frozenset({f.DEFAULT_PACKAGE_NAME}), signer_digests=frozenset({f.DEFAULT_SIGNER_DIGEST})
)


def anchors(pki: f.TestPki = PKI) -> TrustAnchors:
    return TrustAnchors.from_pem_certificates(pki.root_certificate().public_bytes(serialization.Encoding.PEM))


def policy(pki: f.TestPki = PKI, **changes: Any) -> AndroidPolicy:
    base = AndroidPolicy(
        challenge=f.DEFAULT_CHALLENGE, app=APP, trust_anchors=anchors(pki), revocation=RevocationMode.OFF
    )
    return replace(base, **changes)


def spec() -> f.KeyDescriptionSpec:
    return f.KeyDescriptionSpec()


def rejected(
    certificates: tuple[bytes, ...] | list[bytes], chosen: AndroidPolicy | None = None, **kw: Any
) -> AttestationError:
    with pytest.raises(AttestationError) as caught:
        verify_android_attestation(certificates, chosen or policy(), at=kw.pop("at", NOW), **kw)
    return caught.value


# --- the good cases -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pki",
    [PKI, RSA_PKI, f.TestPki(provisioning=f.Provisioning.DIRECT, name="direct")],
    ids=["rkp", "factory-rsa", "direct"],
)
def test_genuine_shaped_chain_verifies(pki: f.TestPki) -> None:
    chain = pki.chain()
    result = verify_android_attestation(chain.certificates, policy(pki), at=NOW)
    assert result.package_names == (f.DEFAULT_PACKAGE_NAME,)
    assert result.signer_digests == (f.DEFAULT_SIGNER_DIGEST,)
    assert result.app_checked is True
    assert result.public_key_jwk["kty"] == "EC"
    assert result.remotely_provisioned is (pki.provisioning is f.Provisioning.RKP)


def test_chain_without_the_root_certificate_verifies() -> None:
    result = verify_android_attestation(PKI.chain(include_root=False).certificates, policy(), at=NOW)
    assert result.root_key_fingerprint == anchors().anchors[0].fingerprint


@pytest.mark.parametrize(
    ("key_type", "kty"), [(f.KeyType.RSA_2048, "RSA"), (f.KeyType.EC_P384, "EC"), (f.KeyType.ML_DSA_65, "AKP")]
)
def test_attested_key_types(key_type: f.KeyType, kty: str) -> None:
    chain = PKI.chain(spec().with_key_type(key_type).to_der(), leaf_key_type=key_type)
    assert verify_android_attestation(chain.certificates, policy(), at=NOW).public_key_jwk["kty"] == kty


def test_unknown_tags_are_kept() -> None:
    extension = replace(spec(), extra_hardware_entries=((9999, f.der_integer(5)),)).to_der()
    result = verify_android_attestation(PKI.chain(extension).certificates, policy(), at=NOW)
    assert result.key_description.hardware_enforced.unknown_tags == ((9999, f.der_integer(5)),)


def test_ber_true_device_locked_is_accepted() -> None:
    extension = replace(spec(), device_locked_raw=b"\x01").to_der()
    assert verify_android_attestation(PKI.chain(extension).certificates, policy(), at=NOW).device_locked is True


def test_not_before_leeway_covers_small_clock_skew() -> None:
    chain = PKI.chain(not_before={f.Role.LEAF: NOW + timedelta(minutes=2)})
    verify_android_attestation(chain.certificates, policy(), at=NOW)
    error = rejected(PKI.chain(not_before={f.Role.LEAF: NOW + timedelta(hours=1)}).certificates)
    assert error.code == "chain.expired"


# --- chain ---------------------------------------------------------------------------------------


def test_empty_chain() -> None:
    assert rejected([]).code == "chain.empty"


def test_too_long_chain() -> None:
    assert rejected([b"\x30\x00"] * (MAX_CHAIN_LENGTH + 1)).code == "chain.too_long"


def test_oversized_certificate() -> None:
    assert rejected([b"\x30" * 20_000]).code == "chain.too_long"


def test_malformed_certificate() -> None:
    chain = list(PKI.chain().certificates)
    chain[1] = chain[1][:-10]
    error = rejected(chain)
    assert error.code == "chain.malformed"
    assert "certificate 1" in error.message


def test_broken_leaf_signature() -> None:
    error = rejected(PKI.chain(corrupt_leaf_signature=True).certificates)
    assert error.code == "chain.signature"
    assert "certificate 0" in error.message


def test_intermediates_out_of_order() -> None:
    chain = list(PKI.chain().certificates)
    chain[1], chain[2] = chain[2], chain[1]
    assert rejected(chain).code in {"chain.name_chaining", "chain.signature"}


def test_issuer_name_that_does_not_chain() -> None:
    """A leaf signed by the right key but naming another issuer breaks RFC 5280 name chaining."""
    genuine = PKI.chain()
    attestation_ca = genuine.certificate(f.Role.ATTESTATION_CA)
    ca_key = f.cached_private_key(f.KeyType.EC_P256, "issuer-name-test")
    leaf = genuine.leaf_certificate
    # Re-issue the attestation CA with our own key, so that we can sign a leaf with a wrong issuer name.
    reissued_ca = (
        x509.CertificateBuilder()
        .subject_name(attestation_ca.subject)
        .issuer_name(attestation_ca.issuer)
        .public_key(ca_key.public_key())
        .serial_number(attestation_ca.serial_number)
        .not_valid_before(attestation_ca.not_valid_before_utc)
        .not_valid_after(attestation_ca.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(f.cached_private_key(f.KeyType.EC_P256, f"{PKI.name}/{f.Role.DROID_CA3}"), hashes.SHA256())
    )
    wrong_issuer = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Somebody Else")])
    forged_leaf = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(wrong_issuer)
        .public_key(leaf.public_key())
        .serial_number(1)
        .not_valid_before(leaf.not_valid_before_utc)
        .not_valid_after(leaf.not_valid_after_utc)
        .add_extension(
            leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier(f.KEY_DESCRIPTION_OID)).value, critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    chain = list(genuine.certificates)
    chain[0] = forged_leaf.public_bytes(serialization.Encoding.DER)
    chain[1] = reissued_ca.public_bytes(serialization.Encoding.DER)
    assert rejected(chain).code in {"chain.name_chaining"}


def test_non_ca_issuer() -> None:
    error = rejected(PKI.chain(intermediate_is_ca=False).certificates)
    assert error.code == "chain.issuer_not_ca"
    assert "certificate 1" in error.message


def test_factory_chain_is_untrusted_under_google_roots() -> None:
    """A chain under any other root (a self-made one, or a software attestation root) is untrusted."""
    error = rejected(PKI.chain().certificates, policy(trust_anchors=google_hardware_attestation_roots()))
    assert error.code == "chain.untrusted_root"


def test_root_of_another_pki_is_untrusted() -> None:
    assert rejected(RSA_PKI.chain().certificates).code == "chain.untrusted_root"


@pytest.mark.parametrize("role", [f.Role.ROOT, f.Role.DROID_CA2, f.Role.DROID_CA3, f.Role.ATTESTATION_CA, f.Role.LEAF])
def test_expired_certificate(role: f.Role) -> None:
    chain = PKI.chain(not_after={role: NOW - timedelta(days=1)}, not_before={role: NOW - timedelta(days=2)})
    if role is f.Role.ROOT:
        # The anchor is a key: an expired root certificate does not matter.
        verify_android_attestation(chain.certificates, policy(), at=NOW)
        return
    error = rejected(chain.certificates)
    assert error.code == "chain.expired"
    assert f"certificate {chain.roles.index(role)}" in error.message


def test_not_yet_valid_intermediate() -> None:
    chain = PKI.chain(not_before={f.Role.DROID_CA3: NOW + timedelta(days=1)})
    assert rejected(chain.certificates).code == "chain.expired"


def test_revoked_certificate() -> None:
    chain = PKI.chain(serial_numbers={f.Role.ATTESTATION_CA: 0xABCDEF0123})
    status = parse_status_list(b'{"entries": {"abcdef0123": {"status": "REVOKED", "reason": "KEY_COMPROMISE"}}}')
    error = rejected(chain.certificates, policy(revocation=RevocationMode.REQUIRED), status_list=status)
    assert error.code == "chain.revoked"
    assert "certificate 1" in error.message


def test_suspended_certificate() -> None:
    chain = PKI.chain(serial_numbers={f.Role.DROID_CA3: 0xCC66E9A93713B6E643B26C15879786F7})
    status = parse_status_list((ANDROID_FIXTURES / "status-list-sample.json").read_bytes())
    error = rejected(chain.certificates, policy(revocation=RevocationMode.REQUIRED), status_list=status)
    assert error.code == "chain.revoked"
    assert "SUSPENDED" in error.message


def test_revocation_required_without_list() -> None:
    assert (
        rejected(PKI.chain().certificates, policy(revocation=RevocationMode.REQUIRED)).code == "revocation.unavailable"
    )


def test_chain_extended_below_the_attested_key() -> None:
    forged = spec().with_root_of_trust(device_locked=True).to_der()
    error = rejected(
        PKI.chain(
            spec().with_root_of_trust(device_locked=False).to_der(), extend_below=True, forged_extension=forged
        ).certificates
    )
    assert error.code == "chain.extended"


def test_extended_chain_without_forged_extension_is_still_extended() -> None:
    chain = PKI.chain(extend_below=True, forged_extension=None)
    assert rejected(chain.certificates).code == "chain.extended"


def test_path_length_constraint() -> None:
    root_key = f.cached_private_key(f.KeyType.EC_P256, "pathlen/root")
    ca_key = f.cached_private_key(f.KeyType.EC_P256, "pathlen/ca")
    sub_key = f.cached_private_key(f.KeyType.EC_P256, "pathlen/sub")
    leaf_key = f.cached_private_key(f.KeyType.EC_P256, "pathlen/leaf")

    def issue(
        subject: str,
        issuer: str,
        key: Any,
        signer: Any,
        *,
        ca: bool,
        path_length: int | None = None,
        ext: bytes | None = None,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=1))
        )
        if ca:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        if ext is not None:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(x509.ObjectIdentifier(f.KEY_DESCRIPTION_OID), ext), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    root = issue("root", "root", root_key, root_key, ca=True)
    ca = issue("ca", "root", ca_key, root_key, ca=True, path_length=0)
    sub = issue("sub", "ca", sub_key, ca_key, ca=True)
    leaf = issue("leaf", "sub", leaf_key, sub_key, ca=False, ext=f.DEFAULT_EXTENSION)
    der = [c.public_bytes(serialization.Encoding.DER) for c in (leaf, sub, ca, root)]
    chosen = policy(trust_anchors=TrustAnchors.from_pem_certificates(root.public_bytes(serialization.Encoding.PEM)))
    error = rejected(der, chosen)
    assert error.code == "chain.issuer_not_ca"
    assert "allows 0" in error.message


# --- the extension -------------------------------------------------------------------------------


def test_missing_extension() -> None:
    assert rejected(PKI.chain(None).certificates).code == "extension.missing"


def test_duplicate_extension_on_the_leaf() -> None:
    assert rejected(PKI.chain(duplicate_extension=True).certificates).code == "extension.duplicate"


def test_extension_on_an_intermediate() -> None:
    error = rejected(PKI.chain(extension_on_intermediate=True).certificates)
    assert (
        error.code == "chain.extended"
    )  # the attestation-key CA is certificate 1: the leaf looks issued by an attested key


def test_extension_on_a_higher_intermediate() -> None:
    chain = list(PKI.chain().certificates)
    stray = PKI.chain(extension_on_intermediate=True).certificates
    # Put the intermediate carrying an extension two places up, behind a genuine attestation CA.
    extended = [chain[0], chain[1], stray[1], *chain[2:]]
    assert rejected(extended).code in {"extension.duplicate"}


@pytest.mark.parametrize(
    "payload",
    [
        b"garbage",
        b"\x30\x00",
        replace(spec(), extra_hardware_entries=((705, f.der_integer(1)),)).to_der(),  # osVersion twice
        replace(spec(), attestation_security_level=7).to_der(),
        replace(spec(), attestation_challenge=None).to_der(),
        spec().with_hardware(origin=None).to_der() + b"\x00",
        replace(spec(), extra_hardware_entries=((705, b"\x02\x02\x00\x01"),)).to_der(),  # non-minimal INTEGER
        spec().with_root_of_trust(verified_boot_state=9).to_der(),
        replace(spec(), extra_software_entries=((710, f.der_octet_string(b"\xff\xfe")),)).to_der(),  # not UTF-8
        replace(spec(), extra_hardware_entries=((503, f.der_integer(1)),)).to_der(),  # NULL field as INTEGER
    ],
    ids=[
        "garbage",
        "empty-sequence",
        "duplicate-tag",
        "unknown-security-level",
        "seven-fields",
        "trailing-byte",
        "non-minimal-integer",
        "unknown-boot-state",
        "non-utf8-id",
        "wrong-type",
    ],
)
def test_malformed_extension(payload: bytes) -> None:
    assert rejected(PKI.chain(payload).certificates).code == "extension.malformed"


def test_non_der_boolean_elsewhere_is_not_tolerated() -> None:
    """Only deviceLocked gets the BER leniency real devices need; the parser is strict elsewhere."""
    bad_root = f.der_sequence(
        f.der_octet_string(f.DEFAULT_VERIFIED_BOOT_KEY), f.der_boolean_raw(b"\x01"), f.der_enumerated(0), f.der_null()
    )
    assert (
        rejected(PKI.chain(spec().with_hardware(root_of_trust=bad_root).to_der()).certificates).code
        == "extension.malformed"
    )


# --- policy --------------------------------------------------------------------------------------


def verify_spec(description: f.KeyDescriptionSpec, chosen: AndroidPolicy | None = None) -> AttestationError:
    return rejected(PKI.chain(description.to_der()).certificates, chosen)


def test_challenge_mismatch() -> None:
    assert verify_spec(replace(spec(), attestation_challenge=b"old challenge")).code == "challenge.mismatch"


def test_software_security_level() -> None:
    software = replace(spec(), attestation_security_level=0, keymint_security_level=0)
    assert verify_spec(software).code == "device.security_level"


def test_software_level_only_when_explicitly_allowed() -> None:
    software = replace(
        spec(),
        attestation_security_level=0,
        keymint_security_level=0,
        software_enforced=f.DEFAULT_HARDWARE_ENFORCED,
        hardware_enforced=f.AuthorizationListSpec(),
        extra_software_entries=(),
    ).with_software(attestation_application_id=f.DEFAULT_SOFTWARE_ENFORCED.attestation_application_id)
    chain = PKI.chain(software.to_der())
    result = verify_android_attestation(chain.certificates, policy(min_security_level=SecurityLevel.SOFTWARE), at=NOW)
    assert result.attestation_security_level is SecurityLevel.SOFTWARE


def test_keymint_level_below_strongbox() -> None:
    strongbox_attestation = replace(spec(), attestation_security_level=2)
    error = verify_spec(strongbox_attestation, policy(min_security_level=SecurityLevel.STRONG_BOX))
    assert error.code == "device.security_level"
    assert "keyMintSecurityLevel" in error.message


@pytest.mark.parametrize("state", [1, 2, 3])
def test_boot_state_not_verified(state: int) -> None:
    assert verify_spec(spec().with_root_of_trust(verified_boot_state=state)).code == "device.boot_state"


def test_missing_root_of_trust() -> None:
    assert verify_spec(spec().with_hardware(root_of_trust=None)).code == "device.boot_state"


def test_unlocked_bootloader() -> None:
    error = verify_spec(spec().with_root_of_trust(device_locked=False))
    assert error.code == "device.unlocked"
    relaxed = policy(require_locked_bootloader=False)
    verify_android_attestation(
        PKI.chain(spec().with_root_of_trust(device_locked=False).to_der()).certificates, relaxed, at=NOW
    )


def test_os_version_and_patch_levels() -> None:
    assert verify_spec(spec(), policy(min_os_version=160000)).code == "device.os_version"
    assert verify_spec(spec(), policy(min_os_patch_level=202511)).code == "device.patch_level"
    assert verify_spec(spec(), policy(min_vendor_patch_level=20251006)).code == "device.patch_level"
    assert verify_spec(spec(), policy(min_boot_patch_level=202511)).code == "device.patch_level"
    assert (
        verify_spec(spec().with_hardware(os_patch_level=None), policy(min_os_patch_level=202001)).code
        == "device.patch_level"
    )


@pytest.mark.parametrize("origin", [Origin.IMPORTED, Origin.DERIVED, Origin.SECURELY_IMPORTED, None])
def test_key_origin(origin: Origin | None) -> None:
    assert verify_spec(spec().with_hardware(origin=origin)).code == "key.origin"


def test_imported_key_allowed_explicitly() -> None:
    chain = PKI.chain(spec().with_hardware(origin=Origin.SECURELY_IMPORTED).to_der())
    allowed = policy(allowed_origins=frozenset({Origin.GENERATED, Origin.SECURELY_IMPORTED}))
    verify_android_attestation(chain.certificates, allowed, at=NOW)


def test_algorithm_not_matching_the_certified_key() -> None:
    chain = PKI.chain(leaf_key_type=f.KeyType.RSA_2048)  # the KeyDescription says EC
    error = rejected(chain.certificates)
    assert error.code == "key.algorithm"
    assert "RSA" in error.message


def test_algorithm_not_allowed() -> None:
    error = verify_spec(spec(), policy(allowed_key_algorithms=frozenset({Algorithm.RSA})))
    assert error.code == "key.algorithm"


def test_symmetric_algorithm_is_rejected() -> None:
    assert verify_spec(spec().with_hardware(algorithm=Algorithm.AES)).code == "key.algorithm"


def test_missing_application_id() -> None:
    assert verify_spec(spec().with_software(attestation_application_id=None)).code == "app.missing"


def test_app_not_checked_when_policy_says_so() -> None:
    chain = PKI.chain(spec().with_software(attestation_application_id=None).to_der())
    result = verify_android_attestation(chain.certificates, policy(app=None), at=NOW)
    assert result.app_checked is False


def test_other_package() -> None:
    other = f.AttestationApplicationIdSpec(
        packages=(("com.evil.app", 1),), signature_digests=(f.DEFAULT_SIGNER_DIGEST,)
    )
    assert verify_spec(spec().with_software(attestation_application_id=other)).code == "app.package_not_allowed"


def test_other_signer() -> None:
    other = f.AttestationApplicationIdSpec(packages=((f.DEFAULT_PACKAGE_NAME, 7),), signature_digests=(bytes(32),))
    error = verify_spec(spec().with_software(attestation_application_id=other))
    assert error.code == "app.signer_not_allowed"
    assert f.DEFAULT_SIGNER_DIGEST.hex() in error.message


def test_no_signer_at_all() -> None:
    unsigned = f.AttestationApplicationIdSpec(packages=((f.DEFAULT_PACKAGE_NAME, 7),), signature_digests=())
    assert verify_spec(spec().with_software(attestation_application_id=unsigned)).code == "app.signer_not_allowed"


# --- policy construction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: AndroidPolicy(challenge=b"", app=None),
        lambda: AndroidPolicy(challenge="text", app=None),  # type: ignore[arg-type]
        lambda: AndroidPolicy(challenge=b"c", app=None, trust_anchors=TrustAnchors(())),
        lambda: AndroidPolicy(challenge=b"c", app=None, allowed_key_algorithms=frozenset()),
        lambda: AndroidPolicy(challenge=b"c", app=None, not_before_leeway=timedelta(days=3)),
        lambda: AppIdentityPolicy(),
        lambda: AppIdentityPolicy(signer_digests=frozenset({b"short"})),
    ],
)
def test_inconsistent_policies_are_refused(build: Any) -> None:
    with pytest.raises(ConfigurationError):
        build()


# --- the decoder's field checklist ---------------------------------------------------------------

_SPEC_FIELDS = {
    "purposes": "purpose",
    "algorithms": "algorithm",
    "blockModes": "block_mode",
    "digests": "digest",
    "paddings": "padding",
    "rsaOaepMgfDigests": "rsa_oaep_mgf_digest",
}


def _spec_from_json(document: dict[str, Any]) -> f.AuthorizationListSpec:
    import base64
    import re

    values: dict[str, Any] = {}
    for name, value in document.items():
        attribute = _SPEC_FIELDS.get(name) or re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        if name == "rootOfTrust":
            value = f.RootOfTrustSpec(
                verified_boot_key=base64.b64decode(value["verifiedBootKey"]),
                device_locked=value["deviceLocked"],
                verified_boot_state=f.VerifiedBootState[value["verifiedBootState"]],
                verified_boot_hash=base64.b64decode(value["verifiedBootHash"]),
            )
        elif name == "attestationApplicationId":
            value = f.AttestationApplicationIdSpec(
                packages=tuple((p["name"], int(p["version"])) for p in value["packages"]),
                signature_digests=tuple(base64.b64decode(s) for s in value["signatures"]),
            )
        elif name == "origin":
            value = f.Origin[value]
        elif isinstance(value, bool):
            pass
        elif isinstance(value, list):
            value = tuple(int(v) for v in value)
        elif name.startswith("attestationId"):
            value = value.encode()
        elif name == "moduleHash":
            value = base64.b64decode(value)
        else:
            value = int(value)
        values[attribute] = value
    return f.AuthorizationListSpec(**values)


def test_complete_authorization_list_round_trips() -> None:
    """complete_authlist.json: every AuthorizationList field, encoded by the factory and decoded back."""
    document = json.loads((ANDROID_FIXTURES / "complete_authlist.json").read_text())
    description = parse_key_description(
        replace(
            spec(),
            software_enforced=_spec_from_json(document["softwareEnforced"]),
            hardware_enforced=_spec_from_json(document["hardwareEnforced"]),
        ).to_der()
    )
    assert authorization_list_as_json(description.software_enforced) == document["softwareEnforced"]
    assert authorization_list_as_json(description.hardware_enforced) == document["hardwareEnforced"]
