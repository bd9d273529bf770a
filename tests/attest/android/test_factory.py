"""Self-test of the synthetic chain factory: what it builds is what the tests built on it assume."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import cbor2
import pytest
from asn1crypto import core, parser
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from tests.attest.android.factory import (
    DEFAULT_CREATION_DATE_TIME,
    DEFAULT_EXTENSION,
    DEFAULT_HARDWARE_ENFORCED,
    DEFAULT_SIGNER_DIGEST,
    FACTORY_NOW,
    INTERMEDIATE_NOT_AFTER,
    INTERMEDIATE_NOT_BEFORE,
    KEY_DESCRIPTION_OID,
    LEAF_NOT_AFTER,
    LEAF_NOT_BEFORE,
    PROVISIONING_INFO_OID,
    ROOT_NOT_AFTER,
    ROOT_NOT_BEFORE,
    AndroidTestChain,
    AttestationApplicationIdSpec,
    KeyDescriptionSpec,
    KeyType,
    Provisioning,
    Role,
    RootOfTrustSpec,
    TagClass,
    TestPki,
    authorization_list,
    der_boolean,
    der_enumerated,
    der_integer,
    der_integer_set,
    der_null,
    der_object_identifier,
    der_octet_string,
    der_sequence,
    der_set,
    der_tlv,
    extra_intermediate_role,
    json_chain,
    pem_chain,
    tagged,
)

OID = x509.ObjectIdentifier(KEY_DESCRIPTION_OID)


def _verify_links(chain: AndroidTestChain) -> None:
    """Every certificate is signed by the next one; the root signs itself."""
    certs = chain.x509_certificates
    for subject, issuer in itertools.pairwise(certs):
        subject.verify_directly_issued_by(issuer)
    chain.root_certificate.verify_directly_issued_by(chain.root_certificate)


def _children(der: bytes) -> list[tuple[int, bytes]]:
    """(tag number, content octets) of each element inside one constructed DER element."""
    contents = parser.parse(der, strict=True)[4]
    out: list[tuple[int, bytes]] = []
    while contents:
        _, _, tag, header, inner, trailer = parser.parse(contents)
        out.append((tag, inner))
        contents = contents[len(header) + len(inner) + len(trailer) :]
    return out


def _authorization_tags(authorization_list_der: bytes) -> list[int]:
    return [tag for tag, _ in _children(authorization_list_der)]


class _SecurityLevel(core.Enumerated):
    _map: ClassVar[dict[int, str]] = {0: "software", 1: "trusted_environment", 2: "strong_box"}


class _VerifiedBootState(core.Enumerated):
    _map: ClassVar[dict[int, str]] = {0: "verified", 1: "self_signed", 2: "unverified", 3: "failed"}


class _KeyDescription(core.Sequence):
    """The schema's KeyDescription, authorization lists left as raw elements."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("attestation_version", core.Integer),
        ("attestation_security_level", _SecurityLevel),
        ("keymint_version", core.Integer),
        ("keymint_security_level", _SecurityLevel),
        ("attestation_challenge", core.OctetString),
        ("unique_id", core.OctetString),
        ("software_enforced", core.Any),
        ("hardware_enforced", core.Any),
    ]


class _RootOfTrust(core.Sequence):
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("verified_boot_key", core.OctetString),
        ("device_locked", core.Boolean),
        ("verified_boot_state", _VerifiedBootState),
        ("verified_boot_hash", core.OctetString, {"optional": True}),
    ]


class _PackageInfo(core.Sequence):
    _fields: ClassVar[list[tuple[Any, ...]]] = [("package_name", core.OctetString), ("version", core.Integer)]


class _PackageInfos(core.SetOf):
    _child_spec = _PackageInfo


class _SignatureDigests(core.SetOf):
    _child_spec = core.OctetString


class _AttestationApplicationId(core.Sequence):
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("package_infos", _PackageInfos),
        ("signature_digests", _SignatureDigests),
    ]


def _key_description(der: bytes) -> _KeyDescription:
    description: _KeyDescription = _KeyDescription.load(der, strict=True)
    return description


# ---- DER encoders ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 256, 65535, 2**64, -1, -128, -129, -(2**63)])
def test_integer_matches_asn1crypto(value: int) -> None:
    assert der_integer(value) == core.Integer(value).dump()
    assert der_enumerated(value) == b"\x0a" + der_integer(value)[1:]


def test_primitive_encoders() -> None:
    assert der_null() == b"\x05\x00"
    assert der_boolean(True) == b"\x01\x01\xff"
    assert der_boolean(False) == b"\x01\x01\x00"
    assert der_octet_string(b"ab") == b"\x04\x02ab"
    assert der_object_identifier(KEY_DESCRIPTION_OID) == core.ObjectIdentifier(KEY_DESCRIPTION_OID).dump()


def test_lengths_use_minimal_long_form() -> None:
    assert der_octet_string(bytes(127))[:2] == b"\x04\x7f"
    assert der_octet_string(bytes(128))[:3] == b"\x04\x81\x80"
    assert der_octet_string(bytes(300))[:4] == b"\x04\x82\x01\x2c"


def test_tlv_can_emit_non_minimal_length() -> None:
    assert der_tlv(TagClass.UNIVERSAL, False, 2, b"\x05", length_octets=b"\x81\x01") == b"\x02\x81\x01\x05"


def test_high_tag_numbers() -> None:
    assert tagged(704, der_null()) == b"\xbf\x85\x40\x02\x05\x00"
    assert tagged(30, der_null())[:1] == b"\xbe"
    assert tagged(31, der_null())[:2] == b"\xbf\x1f"
    assert tagged(9999, der_null())[:3] == b"\xbf\xce\x0f"
    assert tagged(1, der_null()) == b"\xa1\x02\x05\x00"


def test_set_is_der_sorted_unless_asked_not_to() -> None:
    assert der_integer_set([5, 2, 4]) == der_set(der_integer(2), der_integer(4), der_integer(5))
    unsorted = der_set(der_integer(5), der_integer(2), sort=False)
    assert unsorted == b"\x31\x06" + der_integer(5) + der_integer(2)


def test_authorization_list_keeps_order_and_duplicates() -> None:
    raw = authorization_list([(702, der_integer(0)), (1, der_integer_set([2])), (1, der_integer_set([3]))])
    assert _authorization_tags(raw) == [702, 1, 1]
    assert der_sequence(der_null()) == b"\x30\x02\x05\x00"


# ---- KeyDescriptionSpec ---------------------------------------------------------------------------


def test_default_key_description_shape() -> None:
    spec = KeyDescriptionSpec()
    assert spec.to_der() == DEFAULT_EXTENSION
    generic = core.Sequence.load(spec.to_der(), strict=True)
    assert len(generic) == 8
    description = _key_description(spec.to_der())
    assert description["attestation_version"].native == 300
    assert description["attestation_security_level"].native == "trusted_environment"
    assert description["keymint_version"].native == 300
    assert description["keymint_security_level"].native == "trusted_environment"
    assert description["attestation_challenge"].native == b"challenge"
    assert description["unique_id"].native == b""
    assert _authorization_tags(description["software_enforced"].dump()) == [701, 709]
    hardware_tags = _authorization_tags(description["hardware_enforced"].dump())
    assert hardware_tags == [1, 2, 3, 5, 10, 503, 702, 704, 705, 706, 718, 719]


def test_default_hardware_values() -> None:
    hardware = _key_description(DEFAULT_EXTENSION)["hardware_enforced"].dump()
    values = dict(_children(hardware))
    assert values[1] == der_integer_set([2])
    assert values[2] == der_integer(3)
    assert values[3] == der_integer(256)
    assert values[5] == der_integer_set([4])
    assert values[10] == der_integer(1)
    assert values[503] == der_null()
    assert values[702] == der_integer(0)
    assert values[705] == der_integer(150000)
    assert values[706] == der_integer(202510)
    assert values[718] == der_integer(20251005)
    assert values[719] == der_integer(20251005)
    root_of_trust = _RootOfTrust.load(values[704], strict=True)
    assert len(root_of_trust["verified_boot_key"].native) == 32
    assert root_of_trust["device_locked"].contents == b"\xff"
    assert root_of_trust["device_locked"].native is True
    assert root_of_trust["verified_boot_state"].native == "verified"
    assert len(root_of_trust["verified_boot_hash"].native) == 32


def test_attestation_application_id() -> None:
    software = dict(_children(_key_description(DEFAULT_EXTENSION)["software_enforced"].dump()))
    assert software[701] == der_integer(DEFAULT_CREATION_DATE_TIME)
    app_id_der = core.OctetString.load(software[709], strict=True).native
    assert app_id_der == AttestationApplicationIdSpec().to_der()
    app_id = _AttestationApplicationId.load(app_id_der, strict=True)
    assert app_id.native == {
        "package_infos": [{"package_name": b"com.example.app", "version": 7}],
        "signature_digests": [DEFAULT_SIGNER_DIGEST],
    }


def test_none_omits_and_replace_overrides() -> None:
    spec = KeyDescriptionSpec().with_hardware(root_of_trust=None, os_patch_level=None, no_auth_required=False)
    spec = spec.with_software(attestation_application_id=None)
    description = _key_description(spec.to_der())
    assert _authorization_tags(description["software_enforced"].dump()) == [701]
    assert 704 not in _authorization_tags(description["hardware_enforced"].dump())
    assert 706 not in _authorization_tags(description["hardware_enforced"].dump())
    assert 503 not in _authorization_tags(description["hardware_enforced"].dump())

    changed = dataclasses.replace(KeyDescriptionSpec(), attestation_challenge=b"nonce", attestation_version=400)
    assert _key_description(changed.to_der())["attestation_version"].native == 400
    assert _key_description(changed.to_der())["attestation_challenge"].native == b"nonce"

    missing_challenge = dataclasses.replace(KeyDescriptionSpec(), attestation_challenge=None)
    assert len(core.Sequence.load(missing_challenge.to_der(), strict=True)) == 7


def test_root_of_trust_knobs() -> None:
    unlocked = KeyDescriptionSpec().with_root_of_trust(device_locked=False, verified_boot_state=2)
    assert RootOfTrustSpec(device_locked=False, verified_boot_state=2).to_der() in unlocked.to_der()

    ber_boolean = KeyDescriptionSpec(device_locked_raw=b"\x01").to_der()
    hardware = dict(_children(_key_description(ber_boolean)["hardware_enforced"].dump()))
    assert _RootOfTrust.load(hardware[704])["device_locked"].contents == b"\x01"

    v2_shape = RootOfTrustSpec(verified_boot_hash=None).to_der()
    assert len(core.Sequence.load(v2_shape, strict=True)) == 3


def test_extra_entries_and_raw_lists() -> None:
    spec = KeyDescriptionSpec(
        extra_hardware_entries=((9999, der_null()), (2, der_integer(1))),
        extra_software_entries=((600, der_null()),),
    )
    description = _key_description(spec.to_der())
    hardware_tags = _authorization_tags(description["hardware_enforced"].dump())
    assert hardware_tags[:3] == [1, 2, 2]  # a duplicate sits next to the original
    assert hardware_tags[-1] == 9999
    assert _authorization_tags(description["software_enforced"].dump()) == [600, 701, 709]

    out_of_order = authorization_list(reversed(DEFAULT_HARDWARE_ENFORCED.entries()))
    raw = dataclasses.replace(KeyDescriptionSpec(), hardware_enforced=out_of_order)
    assert _key_description(raw.to_der())["hardware_enforced"].dump() == out_of_order
    with pytest.raises(ValueError, match="raw authorization list"):
        dataclasses.replace(raw, extra_hardware_entries=((9999, der_null()),)).to_der()


@pytest.mark.parametrize(
    ("key_type", "algorithm", "key_size"),
    [
        (KeyType.EC_P256, 3, 256),
        (KeyType.RSA_2048, 1, 2048),
        (KeyType.ED25519, 3, 256),
        (KeyType.ML_DSA_65, 4, None),
    ],
)
def test_with_key_type(key_type: KeyType, algorithm: int, key_size: int | None) -> None:
    hardware = KeyDescriptionSpec().with_key_type(key_type).hardware_enforced
    assert not isinstance(hardware, bytes)
    assert hardware is not None
    assert hardware.algorithm == algorithm
    assert hardware.key_size == key_size


# ---- chains ---------------------------------------------------------------------------------------


def test_default_chain_shape() -> None:
    chain = TestPki().chain()
    assert chain.roles == ("leaf", "attestation-ca", "droid-ca3", "droid-ca2", "root")
    certs = [x509.load_der_x509_certificate(der) for der in chain.certificates]
    assert [c.subject for c in certs] == [c.subject for c in chain.x509_certificates]
    _verify_links(chain)

    leaf = certs[0]
    assert leaf.subject.rfc4514_string() == "CN=Android Keystore Key"
    assert leaf.serial_number == 1
    assert (leaf.not_valid_before_utc, leaf.not_valid_after_utc) == (LEAF_NOT_BEFORE, LEAF_NOT_AFTER)
    extension = leaf.extensions.get_extension_for_oid(OID)
    assert extension.critical is False
    assert isinstance(extension.value, x509.UnrecognizedExtension)
    assert extension.value.value == KeyDescriptionSpec().to_der()
    key_usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical
    assert key_usage.value.digital_signature
    assert not key_usage.value.key_cert_sign
    assert chain.leaf_certificate == leaf
    assert isinstance(chain.leaf_private_key, ec.EllipticCurvePrivateKey)
    assert leaf.public_key() == chain.leaf_private_key.public_key()


def test_default_intermediates_and_root() -> None:
    chain = TestPki().chain()
    for role in (Role.ATTESTATION_CA, Role.DROID_CA3, Role.DROID_CA2, Role.ROOT):
        cert = chain.certificate(role)
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert constraints.critical
        assert constraints.value.ca
        assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
        if role != Role.ROOT:
            assert cert.not_valid_before_utc == INTERMEDIATE_NOT_BEFORE
            assert cert.not_valid_after_utc == INTERMEDIATE_NOT_AFTER
            assert cert.not_valid_before_utc < FACTORY_NOW < cert.not_valid_after_utc
    assert chain.certificate(Role.DROID_CA3).subject.rfc4514_string() == "CN=Droid CA3,O=Google LLC"
    assert chain.certificate(Role.DROID_CA2).subject.rfc4514_string() == "CN=Droid CA2,O=Google LLC"
    info = chain.certificate(Role.ATTESTATION_CA).extensions.get_extension_for_oid(
        x509.ObjectIdentifier(PROVISIONING_INFO_OID)
    )
    assert isinstance(info.value, x509.UnrecognizedExtension)
    assert cbor2.loads(info.value.value)[1] == 32

    root = chain.root_certificate
    assert root.subject == root.issuer
    assert (root.not_valid_before_utc, root.not_valid_after_utc) == (ROOT_NOT_BEFORE, ROOT_NOT_AFTER)
    assert isinstance(chain.root_public_key, ec.EllipticCurvePublicKey)
    assert chain.root_public_key.curve.name == "secp384r1"
    assert chain.root_public_key == root.public_key()
    assert chain.certificates[-1] == chain.root_der


def test_root_is_stable_per_pki_and_distinct_across_names() -> None:
    assert TestPki().chain().root_der == TestPki().chain(extend_below=True).root_der
    assert TestPki(name="other").chain().root_public_key != TestPki().chain().root_public_key


@pytest.mark.parametrize(
    ("provisioning", "roles"),
    [
        (Provisioning.FACTORY, ("leaf", "attestation-ca", "factory-ca", "root")),
        (Provisioning.DIRECT, ("leaf", "attestation-ca", "root")),
    ],
)
def test_other_layouts_with_rsa_root(provisioning: Provisioning, roles: tuple[str, ...]) -> None:
    chain = TestPki(root_key_type=KeyType.RSA_2048, provisioning=provisioning).chain()
    assert chain.roles == roles
    assert isinstance(chain.root_public_key, rsa.RSAPublicKey)
    _verify_links(chain)
    attestation_ca = chain.certificate(Role.ATTESTATION_CA)
    assert attestation_ca.subject.rfc4514_string().startswith("2.5.4.12=TEE,2.5.4.5=")
    with pytest.raises(x509.ExtensionNotFound):
        attestation_ca.extensions.get_extension_for_oid(x509.ObjectIdentifier(PROVISIONING_INFO_OID))


@pytest.mark.parametrize(
    ("key_type", "key_class"),
    [
        (KeyType.EC_P256, ec.EllipticCurvePublicKey),
        (KeyType.RSA_2048, rsa.RSAPublicKey),
        (KeyType.ED25519, ed25519.Ed25519PublicKey),
        (KeyType.ML_DSA_65, mldsa.MLDSA65PublicKey),
    ],
)
def test_leaf_key_types(key_type: KeyType, key_class: type) -> None:
    chain = TestPki().chain(leaf_key_type=key_type, extend_below=True)
    assert isinstance(chain.leaf_certificate.public_key(), key_class)
    _verify_links(chain)


def test_leaf_without_extension() -> None:
    chain = TestPki().chain(None)
    with pytest.raises(x509.ExtensionNotFound):
        chain.leaf_certificate.extensions.get_extension_for_oid(OID)


def test_custom_payload_is_carried_verbatim() -> None:
    payload = KeyDescriptionSpec(attestation_challenge=b"other").to_der()
    extension = TestPki().chain(payload).leaf_certificate.extensions.get_extension_for_oid(OID)
    assert isinstance(extension.value, x509.UnrecognizedExtension)
    assert extension.value.value == payload


# ---- negative knobs -------------------------------------------------------------------------------


def test_extend_below() -> None:
    forged = KeyDescriptionSpec(attestation_security_level=2).to_der()
    chain = TestPki().chain(extend_below=True, forged_extension=forged)
    assert chain.roles[:2] == ("extended", "leaf")
    extended, leaf = chain.x509_certificates[:2]
    assert extended.issuer == leaf.subject
    assert leaf == chain.leaf_certificate
    extended.verify_directly_issued_by(leaf)
    forged_extension = extended.extensions.get_extension_for_oid(OID).value
    assert isinstance(forged_extension, x509.UnrecognizedExtension)
    assert forged_extension.value == forged
    _verify_links(chain)


def test_corrupt_leaf_signature() -> None:
    chain = TestPki().chain(corrupt_leaf_signature=True)
    leaf, attestation_ca = chain.x509_certificates[:2]
    with pytest.raises(InvalidSignature):
        leaf.verify_directly_issued_by(attestation_ca)
    attestation_ca.verify_directly_issued_by(chain.x509_certificates[2])
    carried = leaf.extensions.get_extension_for_oid(OID).value
    assert isinstance(carried, x509.UnrecognizedExtension)
    assert carried.value == DEFAULT_EXTENSION


def test_duplicate_extension() -> None:
    chain = TestPki().chain(duplicate_extension=True)
    leaf_der = chain.certificates[0]
    oid_der = der_object_identifier(KEY_DESCRIPTION_OID)
    assert leaf_der.count(oid_der) == 2
    parsed = asn1_x509.Certificate.load(leaf_der)
    oids = [ext["extn_id"].dotted for ext in parsed["tbs_certificate"]["extensions"]]
    assert oids.count(KEY_DESCRIPTION_OID) == 2
    chain.x509_certificates[0].verify_directly_issued_by(chain.x509_certificates[1])
    with pytest.raises(x509.DuplicateExtension):
        _ = chain.x509_certificates[0].extensions


def test_extension_on_intermediate() -> None:
    chain = TestPki().chain(extension_on_intermediate=True)
    on_ca = chain.certificate(Role.ATTESTATION_CA).extensions.get_extension_for_oid(OID).value
    assert isinstance(on_ca, x509.UnrecognizedExtension)
    assert on_ca.value == DEFAULT_EXTENSION
    _verify_links(chain)


def test_intermediate_not_ca() -> None:
    chain = TestPki().chain(intermediate_is_ca=False)
    attestation_ca = chain.certificate(Role.ATTESTATION_CA)
    with pytest.raises(x509.ExtensionNotFound):
        attestation_ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert not attestation_ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    chain.x509_certificates[0].verify_directly_issued_by(attestation_ca)


def test_without_root() -> None:
    chain = TestPki().chain(include_root=False)
    assert chain.roles[-1] == "droid-ca2"
    assert chain.root_der not in chain.certificates
    chain.x509_certificates[-1].verify_directly_issued_by(chain.root_certificate)


def test_extra_intermediates() -> None:
    chain = TestPki().chain(extra_intermediates=3)
    assert chain.roles == (
        "leaf",
        "attestation-ca",
        "extra-3",
        "extra-2",
        "extra-1",
        "droid-ca3",
        "droid-ca2",
        "root",
    )
    assert extra_intermediate_role(2) == "extra-2"
    _verify_links(chain)


def test_validity_and_serial_overrides() -> None:
    expired = datetime(2025, 1, 1, tzinfo=UTC)
    chain = TestPki().chain(
        not_before={Role.LEAF: datetime(2025, 6, 1, tzinfo=UTC), Role.DROID_CA3: datetime(2024, 1, 1, tzinfo=UTC)},
        not_after={Role.DROID_CA3: expired, Role.ROOT: datetime(2030, 1, 1, tzinfo=UTC)},
        serial_numbers={Role.ATTESTATION_CA: 0x1234, "droid-ca2": 99},
    )
    assert chain.leaf_certificate.not_valid_before_utc == datetime(2025, 6, 1, tzinfo=UTC)
    assert chain.leaf_certificate.not_valid_after_utc == LEAF_NOT_AFTER
    assert chain.certificate(Role.DROID_CA3).not_valid_after_utc == expired
    assert chain.root_certificate.not_valid_after_utc == datetime(2030, 1, 1, tzinfo=UTC)
    assert chain.certificate(Role.ATTESTATION_CA).serial_number == 0x1234
    assert chain.certificate(Role.DROID_CA2).serial_number == 99
    _verify_links(chain)
    with pytest.raises(ValueError, match="factory-ca"):
        TestPki().chain(serial_numbers={Role.FACTORY_CA: 1})


def test_default_serials_are_stable() -> None:
    first, second = TestPki().chain(), TestPki().chain()
    assert [c.serial_number for c in first.x509_certificates] == [c.serial_number for c in second.x509_certificates]
    assert len({c.serial_number for c in first.x509_certificates}) == len(first.certificates)


# ---- serialisation --------------------------------------------------------------------------------


def test_pem_and_json_round_trip() -> None:
    chain = TestPki().chain()
    from_pem = x509.load_pem_x509_certificates(pem_chain(chain.certificates))
    assert [c.public_bytes(Encoding.DER) for c in from_pem] == list(chain.certificates)
    assert pem_chain(chain.x509_certificates) == chain.pem()
    decoded = [base64.b64decode(item, validate=True) for item in json.loads(json_chain(chain.certificates))]
    assert decoded == list(chain.certificates)
    assert chain.json() == json_chain(chain.x509_certificates)
