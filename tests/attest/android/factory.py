"""Synthetic Android Key Attestation chains for tests; never imported by the package.

Builds the KeyDescription extension (OID 1.3.6.1.4.1.11129.2.1.17, schema at
https://source.android.com/docs/security/features/keystore/attestation#schema) with its own DER encoders,
and issues a PKI shaped like Google's with ``cryptography``: a test root, RKP ("Droid CA2/CA3") or factory
intermediates, the attestation-key CA and the leaf "Android Keystore Key". It deliberately shares no code
with :mod:`attest.android`, so a decoder bug cannot hide in a matching encoder bug.

Three layers, each usable alone:

- DER encoders (``der_tlv``, ``der_integer``, ``tagged``, ``authorization_list``...) for any payload,
  malformed ones included;
- ``KeyDescriptionSpec``: a frozen description of a genuine, locked, up-to-date device, changed with
  ``dataclasses.replace`` (``None`` omits a field) and turned into DER by ``to_der()``;
- ``TestPki.chain()``: an ``AndroidTestChain`` carrying a given extension payload, with one keyword per
  attack the verifier must stop.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum, IntEnum, StrEnum
from typing import Any, TypeAlias

import cbor2
from asn1crypto import parser as asn1_parser
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa
from cryptography.x509.oid import NameOID

# --------------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------------

#: The attestation extension (schema: KeyDescription).
KEY_DESCRIPTION_OID = "1.3.6.1.4.1.11129.2.1.17"
#: The RKP provisioning-info extension on RKP attestation-key CA certificates (a CBOR map).
PROVISIONING_INFO_OID = "1.3.6.1.4.1.11129.2.1.30"

#: "Now" for every default validity window; pin the verifier's clock to it.
FACTORY_NOW = datetime(2026, 1, 15, tzinfo=UTC)
#: Default root validity.
ROOT_NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
ROOT_NOT_AFTER = datetime(2040, 1, 1, tzinfo=UTC)
#: Default intermediate validity (Droid CA2/CA3, factory CA, extra intermediates, attestation-key CA).
INTERMEDIATE_NOT_BEFORE = FACTORY_NOW - timedelta(days=30)
INTERMEDIATE_NOT_AFTER = FACTORY_NOW + timedelta(days=365)
#: Leaf validity as KeyMint writes it when the app sets none.
LEAF_NOT_BEFORE = datetime(1970, 1, 1, tzinfo=UTC)
LEAF_NOT_AFTER = datetime(2048, 1, 1, tzinfo=UTC)

LEAF_SUBJECT = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Android Keystore Key")])

#: SHA-256 of the (fictional) APK signing certificate of "com.example.app".
DEFAULT_SIGNER_DIGEST = hashlib.sha256(b"attest test factory: com.example.app signing certificate").digest()
DEFAULT_PACKAGE_NAME = "com.example.app"
DEFAULT_PACKAGE_VERSION = 7
DEFAULT_CHALLENGE = b"challenge"
DEFAULT_VERIFIED_BOOT_KEY = hashlib.sha256(b"attest test factory: verified boot key").digest()
DEFAULT_VERIFIED_BOOT_HASH = hashlib.sha256(b"attest test factory: verified boot hash").digest()
#: creationDateTime (milliseconds since the epoch): one minute before FACTORY_NOW.
DEFAULT_CREATION_DATE_TIME = int(FACTORY_NOW.timestamp()) * 1000 - 60_000
#: The provisioning-info value of the 2026 RKP samples: CBOR {1: 32, 3: "Google"}.
DEFAULT_PROVISIONING_INFO = cbor2.dumps({1: 32, 3: "Google"})


class SecurityLevel(IntEnum):
    """Schema: SecurityLevel."""

    SOFTWARE = 0
    TRUSTED_ENVIRONMENT = 1
    STRONG_BOX = 2


class VerifiedBootState(IntEnum):
    """Schema: VerifiedBootState."""

    VERIFIED = 0
    SELF_SIGNED = 1
    UNVERIFIED = 2
    FAILED = 3


class Origin(IntEnum):
    """KeyMint KeyOrigin.aidl."""

    GENERATED = 0
    DERIVED = 1
    IMPORTED = 2
    RESERVED = 3
    SECURELY_IMPORTED = 4


class Algorithm(IntEnum):
    """KeyMint Algorithm.aidl (ML_DSA from attestation version 500)."""

    RSA = 1
    EC = 3
    ML_DSA = 4


class EcCurve(IntEnum):
    """KeyMint EcCurve.aidl."""

    P_224 = 0
    P_256 = 1
    P_384 = 2
    P_521 = 3
    CURVE_25519 = 4


# --------------------------------------------------------------------------------------------------
# DER encoders (X.690 section 10); nothing here validates, so malformed input is possible on purpose
# --------------------------------------------------------------------------------------------------


class TagClass(IntEnum):
    """The two high bits of an identifier octet (X.690 8.1.2.2)."""

    UNIVERSAL = 0
    APPLICATION = 1
    CONTEXT = 2
    PRIVATE = 3


def der_identifier(tag_class: int, constructed: bool, tag: int) -> bytes:
    """Identifier octets; tags >= 31 use the high-tag-number form (X.690 8.1.2.4)."""
    first = (tag_class << 6) | (0x20 if constructed else 0)
    if tag < 31:
        return bytes([first | tag])
    groups = [tag & 0x7F]
    tag >>= 7
    while tag:
        groups.append(0x80 | (tag & 0x7F))
        tag >>= 7
    return bytes([first | 0x1F, *reversed(groups)])


def der_length(length: int) -> bytes:
    """Definite length octets in minimal form (X.690 10.1)."""
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body), *body])


def der_tlv(
    tag_class: int, constructed: bool, tag: int, contents: bytes, *, length_octets: bytes | None = None
) -> bytes:
    """One element; ``length_octets`` replaces the minimal length (to build non-DER lengths)."""
    length = der_length(len(contents)) if length_octets is None else length_octets
    return der_identifier(tag_class, constructed, tag) + length + contents


def _integer_contents(value: int) -> bytes:
    """Minimal two's-complement octets (X.690 8.3.2)."""
    magnitude = value if value >= 0 else ~value
    return value.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)


def der_integer(value: int) -> bytes:
    """INTEGER."""
    return der_tlv(TagClass.UNIVERSAL, False, 2, _integer_contents(value))


def der_enumerated(value: int) -> bytes:
    """ENUMERATED."""
    return der_tlv(TagClass.UNIVERSAL, False, 10, _integer_contents(value))


def der_octet_string(value: bytes) -> bytes:
    """OCTET STRING."""
    return der_tlv(TagClass.UNIVERSAL, False, 4, value)


def der_null() -> bytes:
    """NULL."""
    return der_tlv(TagClass.UNIVERSAL, False, 5, b"")


def der_boolean(value: bool) -> bytes:
    """BOOLEAN; DER requires 0xFF for true (X.690 11.1), see ``der_boolean_raw`` for other octets."""
    return der_boolean_raw(b"\xff" if value else b"\x00")


def der_boolean_raw(contents: bytes) -> bytes:
    """BOOLEAN with arbitrary content octets, e.g. the BER-only ``b"\\x01"`` some devices emit."""
    return der_tlv(TagClass.UNIVERSAL, False, 1, contents)


def der_object_identifier(dotted: str) -> bytes:
    """OBJECT IDENTIFIER from its dotted form (X.690 8.19)."""
    arcs = [int(arc) for arc in dotted.split(".")]
    subidentifiers = [40 * arcs[0] + arcs[1], *arcs[2:]]
    contents = bytearray()
    for sub in subidentifiers:
        groups = [sub & 0x7F]
        sub >>= 7
        while sub:
            groups.append(0x80 | (sub & 0x7F))
            sub >>= 7
        contents.extend(reversed(groups))
    return der_tlv(TagClass.UNIVERSAL, False, 6, bytes(contents))


def der_sequence(*elements: bytes) -> bytes:
    """SEQUENCE of already-encoded elements, in the given order."""
    return der_tlv(TagClass.UNIVERSAL, True, 16, b"".join(elements))


def der_set(*elements: bytes, sort: bool = True) -> bytes:
    """SET OF; DER sorts the encodings (X.690 11.6), ``sort=False`` keeps the given order."""
    ordered = sorted(elements) if sort else list(elements)
    return der_tlv(TagClass.UNIVERSAL, True, 17, b"".join(ordered))


def der_integer_set(values: Iterable[int]) -> bytes:
    """SET OF INTEGER, DER-sorted."""
    return der_set(*(der_integer(value) for value in values))


def tagged(tag_number: int, inner_der: bytes) -> bytes:
    """``[tag_number] EXPLICIT``: context-specific, constructed, wrapping one encoded element."""
    return der_tlv(TagClass.CONTEXT, True, tag_number, inner_der)


def authorization_list(entries: Iterable[tuple[int, bytes]]) -> bytes:
    """AuthorizationList from (tag, inner DER) pairs exactly as given: no sorting, no deduplication."""
    return der_sequence(*(tagged(tag, inner) for tag, inner in entries))


# --------------------------------------------------------------------------------------------------
# KeyDescription
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RootOfTrustSpec:
    """Schema: RootOfTrust. ``verified_boot_hash=None`` gives the pre-version-3 shape (three fields)."""

    verified_boot_key: bytes = DEFAULT_VERIFIED_BOOT_KEY
    device_locked: bool = True
    verified_boot_state: int = VerifiedBootState.VERIFIED
    verified_boot_hash: bytes | None = DEFAULT_VERIFIED_BOOT_HASH

    def to_der(self, *, device_locked_raw: bytes | None = None) -> bytes:
        """DER; ``device_locked_raw`` replaces the BOOLEAN's content octets (e.g. ``b"\\x01"``)."""
        raw = device_locked_raw
        elements = [
            der_octet_string(self.verified_boot_key),
            der_boolean(self.device_locked) if raw is None else der_boolean_raw(raw),
            der_enumerated(self.verified_boot_state),
        ]
        if self.verified_boot_hash is not None:
            elements.append(der_octet_string(self.verified_boot_hash))
        return der_sequence(*elements)


@dataclass(frozen=True)
class AttestationApplicationIdSpec:
    """Schema: AttestationApplicationId; ``packages`` are (packageName, version) pairs."""

    packages: tuple[tuple[str, int], ...] = ((DEFAULT_PACKAGE_NAME, DEFAULT_PACKAGE_VERSION),)
    signature_digests: tuple[bytes, ...] = (DEFAULT_SIGNER_DIGEST,)

    def to_der(self) -> bytes:
        """DER of the SEQUENCE (the content of tag [709]'s OCTET STRING)."""
        infos = (der_sequence(der_octet_string(name.encode()), der_integer(version)) for name, version in self.packages)
        digests = (der_octet_string(digest) for digest in self.signature_digests)
        return der_sequence(der_set(*infos), der_set(*digests))


class _Kind(Enum):
    """How an AuthorizationList field's value becomes the DER inside its explicit tag."""

    INTEGER = "integer"
    INTEGER_SET = "integer_set"
    NULL = "null"
    OCTETS = "octets"
    ROOT_OF_TRUST = "root_of_trust"
    APPLICATION_ID = "application_id"


def _tag(tag: int, kind: _Kind) -> dict[str, Any]:
    """Field metadata: the explicit tag number and how the value is encoded."""
    return {"tag": tag, "kind": kind}


@dataclass(frozen=True)
class AuthorizationListSpec:
    """Schema: AuthorizationList; every field absent by default, emitted in ascending tag order.

    ``root_of_trust`` may be raw DER bytes (used verbatim); ``attestation_application_id`` may be raw bytes
    (used as the OCTET STRING's contents).
    """

    purpose: tuple[int, ...] | None = field(default=None, metadata=_tag(1, _Kind.INTEGER_SET))
    algorithm: int | None = field(default=None, metadata=_tag(2, _Kind.INTEGER))
    key_size: int | None = field(default=None, metadata=_tag(3, _Kind.INTEGER))
    block_mode: tuple[int, ...] | None = field(default=None, metadata=_tag(4, _Kind.INTEGER_SET))
    digest: tuple[int, ...] | None = field(default=None, metadata=_tag(5, _Kind.INTEGER_SET))
    padding: tuple[int, ...] | None = field(default=None, metadata=_tag(6, _Kind.INTEGER_SET))
    ec_curve: int | None = field(default=None, metadata=_tag(10, _Kind.INTEGER))
    ml_dsa_variant: int | None = field(default=None, metadata=_tag(11, _Kind.INTEGER))
    rsa_public_exponent: int | None = field(default=None, metadata=_tag(200, _Kind.INTEGER))
    rsa_oaep_mgf_digest: tuple[int, ...] | None = field(default=None, metadata=_tag(203, _Kind.INTEGER_SET))
    rollback_resistance: bool = field(default=False, metadata=_tag(303, _Kind.NULL))
    early_boot_only: bool = field(default=False, metadata=_tag(305, _Kind.NULL))
    active_date_time: int | None = field(default=None, metadata=_tag(400, _Kind.INTEGER))
    origination_expire_date_time: int | None = field(default=None, metadata=_tag(401, _Kind.INTEGER))
    usage_expire_date_time: int | None = field(default=None, metadata=_tag(402, _Kind.INTEGER))
    usage_count_limit: int | None = field(default=None, metadata=_tag(405, _Kind.INTEGER))
    no_auth_required: bool = field(default=False, metadata=_tag(503, _Kind.NULL))
    user_auth_type: int | None = field(default=None, metadata=_tag(504, _Kind.INTEGER))
    auth_timeout: int | None = field(default=None, metadata=_tag(505, _Kind.INTEGER))
    allow_while_on_body: bool = field(default=False, metadata=_tag(506, _Kind.NULL))
    trusted_user_presence_required: bool = field(default=False, metadata=_tag(507, _Kind.NULL))
    trusted_confirmation_required: bool = field(default=False, metadata=_tag(508, _Kind.NULL))
    unlocked_device_required: bool = field(default=False, metadata=_tag(509, _Kind.NULL))
    all_applications: bool = field(default=False, metadata=_tag(600, _Kind.NULL))
    application_id: bytes | None = field(default=None, metadata=_tag(601, _Kind.OCTETS))
    creation_date_time: int | None = field(default=None, metadata=_tag(701, _Kind.INTEGER))
    origin: int | None = field(default=None, metadata=_tag(702, _Kind.INTEGER))
    rollback_resistant: bool = field(default=False, metadata=_tag(703, _Kind.NULL))
    root_of_trust: RootOfTrustSpec | bytes | None = field(default=None, metadata=_tag(704, _Kind.ROOT_OF_TRUST))
    os_version: int | None = field(default=None, metadata=_tag(705, _Kind.INTEGER))
    os_patch_level: int | None = field(default=None, metadata=_tag(706, _Kind.INTEGER))
    attestation_application_id: AttestationApplicationIdSpec | bytes | None = field(
        default=None, metadata=_tag(709, _Kind.APPLICATION_ID)
    )
    attestation_id_brand: bytes | None = field(default=None, metadata=_tag(710, _Kind.OCTETS))
    attestation_id_device: bytes | None = field(default=None, metadata=_tag(711, _Kind.OCTETS))
    attestation_id_product: bytes | None = field(default=None, metadata=_tag(712, _Kind.OCTETS))
    attestation_id_serial: bytes | None = field(default=None, metadata=_tag(713, _Kind.OCTETS))
    attestation_id_imei: bytes | None = field(default=None, metadata=_tag(714, _Kind.OCTETS))
    attestation_id_meid: bytes | None = field(default=None, metadata=_tag(715, _Kind.OCTETS))
    attestation_id_manufacturer: bytes | None = field(default=None, metadata=_tag(716, _Kind.OCTETS))
    attestation_id_model: bytes | None = field(default=None, metadata=_tag(717, _Kind.OCTETS))
    vendor_patch_level: int | None = field(default=None, metadata=_tag(718, _Kind.INTEGER))
    boot_patch_level: int | None = field(default=None, metadata=_tag(719, _Kind.INTEGER))
    device_unique_attestation: bool = field(default=False, metadata=_tag(720, _Kind.NULL))
    identity_credential_key: bool = field(default=False, metadata=_tag(721, _Kind.NULL))
    attestation_id_second_imei: bytes | None = field(default=None, metadata=_tag(723, _Kind.OCTETS))
    module_hash: bytes | None = field(default=None, metadata=_tag(724, _Kind.OCTETS))

    def entries(self, *, device_locked_raw: bytes | None = None) -> list[tuple[int, bytes]]:
        """The present fields as (tag, inner DER) pairs in ascending tag order."""
        out: list[tuple[int, bytes]] = []
        for spec_field in sorted(dataclasses.fields(self), key=lambda f: int(f.metadata["tag"])):
            value = getattr(self, spec_field.name)
            if value is None or value is False:
                continue
            inner = _encode_entry(spec_field.metadata["kind"], value, device_locked_raw)
            out.append((int(spec_field.metadata["tag"]), inner))
        return out

    def to_der(
        self, *, extra_entries: Sequence[tuple[int, bytes]] = (), device_locked_raw: bytes | None = None
    ) -> bytes:
        """DER; ``extra_entries`` are merged in by tag (after a known field with the same tag)."""
        merged = sorted([*self.entries(device_locked_raw=device_locked_raw), *extra_entries], key=lambda e: e[0])
        return authorization_list(merged)


def _encode_entry(kind: _Kind, value: Any, device_locked_raw: bytes | None) -> bytes:
    """The DER inside one explicit AuthorizationList tag."""
    if kind is _Kind.INTEGER:
        return der_integer(value)
    if kind is _Kind.INTEGER_SET:
        return der_integer_set(value)
    if kind is _Kind.NULL:
        return der_null()
    if isinstance(value, RootOfTrustSpec):
        return value.to_der(device_locked_raw=device_locked_raw)
    if isinstance(value, AttestationApplicationIdSpec):
        return der_octet_string(value.to_der())
    if kind is _Kind.ROOT_OF_TRUST:
        return bytes(value)  # raw DER, verbatim
    return der_octet_string(value)  # OCTETS, or raw AttestationApplicationId contents


#: hardwareEnforced of a TEE-generated EC P-256 signing key on a locked, verified, patched device.
DEFAULT_HARDWARE_ENFORCED = AuthorizationListSpec(
    purpose=(2,),
    algorithm=Algorithm.EC,
    key_size=256,
    digest=(4,),
    ec_curve=EcCurve.P_256,
    no_auth_required=True,
    origin=Origin.GENERATED,
    root_of_trust=RootOfTrustSpec(),
    os_version=150000,
    os_patch_level=202510,
    vendor_patch_level=20251005,
    boot_patch_level=20251005,
)
#: softwareEnforced: creation time and the calling app (package "com.example.app", one signer).
DEFAULT_SOFTWARE_ENFORCED = AuthorizationListSpec(
    creation_date_time=DEFAULT_CREATION_DATE_TIME,
    attestation_application_id=AttestationApplicationIdSpec(),
)


@dataclass(frozen=True)
class KeyDescriptionSpec:
    """Schema: KeyDescription. Defaults: a genuine, locked, up-to-date TEE device, attestation version 300.

    ``None`` omits a field (a top-level ``None`` makes the SEQUENCE malformed on purpose). An
    authorization list given as ``bytes`` is used verbatim (build it with ``authorization_list``).
    Knobs for negative tests: ``extra_*_entries`` add raw (tag, inner DER) pairs, merged by tag;
    ``device_locked_raw`` replaces the content octets of rootOfTrust.deviceLocked (e.g. ``b"\\x01"``).
    """

    attestation_version: int | None = 300
    attestation_security_level: int | None = SecurityLevel.TRUSTED_ENVIRONMENT
    keymint_version: int | None = 300
    keymint_security_level: int | None = SecurityLevel.TRUSTED_ENVIRONMENT
    attestation_challenge: bytes | None = DEFAULT_CHALLENGE
    unique_id: bytes | None = b""
    software_enforced: AuthorizationListSpec | bytes | None = DEFAULT_SOFTWARE_ENFORCED
    hardware_enforced: AuthorizationListSpec | bytes | None = DEFAULT_HARDWARE_ENFORCED
    extra_software_entries: tuple[tuple[int, bytes], ...] = ()
    extra_hardware_entries: tuple[tuple[int, bytes], ...] = ()
    device_locked_raw: bytes | None = None

    def with_hardware(self, **changes: Any) -> KeyDescriptionSpec:
        """A copy with fields of ``hardware_enforced`` replaced, e.g. ``with_hardware(origin=None)``."""
        if not isinstance(self.hardware_enforced, AuthorizationListSpec):
            raise TypeError("hardware_enforced is not an AuthorizationListSpec")
        return dataclasses.replace(self, hardware_enforced=dataclasses.replace(self.hardware_enforced, **changes))

    def with_software(self, **changes: Any) -> KeyDescriptionSpec:
        """A copy with fields of ``software_enforced`` replaced."""
        if not isinstance(self.software_enforced, AuthorizationListSpec):
            raise TypeError("software_enforced is not an AuthorizationListSpec")
        return dataclasses.replace(self, software_enforced=dataclasses.replace(self.software_enforced, **changes))

    def with_root_of_trust(self, **changes: Any) -> KeyDescriptionSpec:
        """A copy with fields of hardwareEnforced.rootOfTrust replaced, e.g. ``device_locked=False``."""
        hardware = self.hardware_enforced
        if not isinstance(hardware, AuthorizationListSpec) or not isinstance(hardware.root_of_trust, RootOfTrustSpec):
            raise TypeError("hardware_enforced.root_of_trust is not a RootOfTrustSpec")
        return self.with_hardware(root_of_trust=dataclasses.replace(hardware.root_of_trust, **changes))

    def with_key_type(self, key_type: KeyType) -> KeyDescriptionSpec:
        """A copy whose hardwareEnforced algorithm fields describe a leaf key of ``key_type``."""
        return self.with_hardware(**_KEY_PROPERTIES[key_type])

    def to_der(self) -> bytes:
        """DER of the KeyDescription SEQUENCE: the attestation extension's value."""
        elements: list[bytes] = []
        if self.attestation_version is not None:
            elements.append(der_integer(self.attestation_version))
        if self.attestation_security_level is not None:
            elements.append(der_enumerated(self.attestation_security_level))
        if self.keymint_version is not None:
            elements.append(der_integer(self.keymint_version))
        if self.keymint_security_level is not None:
            elements.append(der_enumerated(self.keymint_security_level))
        if self.attestation_challenge is not None:
            elements.append(der_octet_string(self.attestation_challenge))
        if self.unique_id is not None:
            elements.append(der_octet_string(self.unique_id))
        for authorizations, extra in (
            (self.software_enforced, self.extra_software_entries),
            (self.hardware_enforced, self.extra_hardware_entries),
        ):
            if authorizations is None:
                continue
            if isinstance(authorizations, bytes):
                if extra:
                    raise ValueError("extra entries cannot be merged into a raw authorization list")
                elements.append(authorizations)
            else:
                elements.append(authorizations.to_der(extra_entries=extra, device_locked_raw=self.device_locked_raw))
        return der_sequence(*elements)


# --------------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------------


class KeyType(StrEnum):
    """Key algorithms the factory issues certificates for."""

    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_2048 = "rsa-2048"
    ED25519 = "ed25519"
    ML_DSA_65 = "ml-dsa-65"


PrivateKey: TypeAlias = (
    ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | mldsa.MLDSA65PrivateKey
)
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey | mldsa.MLDSA65PublicKey

#: hardwareEnforced algorithm fields for each leaf key type (mlDsaVariant 1 = ML-DSA-65, as on Pixel 9).
_KEY_PROPERTIES: dict[KeyType, dict[str, Any]] = {
    KeyType.EC_P256: {"algorithm": Algorithm.EC, "key_size": 256, "ec_curve": EcCurve.P_256},
    KeyType.EC_P384: {"algorithm": Algorithm.EC, "key_size": 384, "ec_curve": EcCurve.P_384},
    KeyType.RSA_2048: {
        "algorithm": Algorithm.RSA,
        "key_size": 2048,
        "ec_curve": None,
        "rsa_public_exponent": 65537,
    },
    KeyType.ED25519: {"algorithm": Algorithm.EC, "key_size": 256, "ec_curve": EcCurve.CURVE_25519},
    KeyType.ML_DSA_65: {
        "algorithm": Algorithm.ML_DSA,
        "key_size": None,
        "ec_curve": None,
        "ml_dsa_variant": 1,
        "digest": (0,),
    },
}


@functools.cache
def cached_private_key(key_type: KeyType, label: str) -> PrivateKey:
    """A key generated once per (type, label) for the whole test session."""
    if key_type is KeyType.EC_P256:
        return ec.generate_private_key(ec.SECP256R1())
    if key_type is KeyType.EC_P384:
        return ec.generate_private_key(ec.SECP384R1())
    if key_type is KeyType.RSA_2048:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type is KeyType.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    return mldsa.MLDSA65PrivateKey.generate()


def _signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    """The hash Google's chains pair with the issuer key: SHA-384 for P-384, none for EdDSA/ML-DSA."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return hashes.SHA384() if key.curve.key_size >= 384 else hashes.SHA256()
    if isinstance(key, rsa.RSAPrivateKey):
        return hashes.SHA256()
    return None


def _sign_raw(key: PrivateKey, data: bytes) -> bytes:
    """A signature over ``data`` with the algorithm ``_signature_hash`` picks for ``key``."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA384() if key.curve.key_size >= 384 else hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data)


# --------------------------------------------------------------------------------------------------
# Certificate surgery for what cryptography refuses to build
# --------------------------------------------------------------------------------------------------


def _der_children(contents: bytes) -> list[bytes]:
    """The encoded elements concatenated in ``contents``."""
    children: list[bytes] = []
    while contents:
        size = asn1_parser.peek(contents)
        children.append(contents[:size])
        contents = contents[size:]
    return children


def _der_contents(element: bytes) -> bytes:
    """The content octets of one encoded element."""
    return bytes(asn1_parser.parse(element, strict=True)[4])


def _resigned_certificate(tbs_der: bytes, signature_algorithm_der: bytes, issuer_key: PrivateKey) -> bytes:
    """Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280 4.1)."""
    signature = _sign_raw(issuer_key, tbs_der)
    bit_string = der_tlv(TagClass.UNIVERSAL, False, 3, b"\x00" + signature)
    return der_sequence(tbs_der, signature_algorithm_der, bit_string)


def _duplicate_extension(certificate_der: bytes, oid: str, issuer_key: PrivateKey) -> bytes:
    """The certificate with its ``oid`` extension appended a second time, re-signed by ``issuer_key``."""
    tbs, signature_algorithm, _ = _der_children(_der_contents(certificate_der))
    tbs_fields = _der_children(_der_contents(tbs))
    # extensions [3] EXPLICIT is the last field of TBSCertificate (RFC 5280 4.1).
    extensions = _der_children(_der_contents(_der_contents(tbs_fields[-1])))
    oid_der = der_object_identifier(oid)
    duplicate = next(ext for ext in extensions if _der_contents(ext).startswith(oid_der))
    new_extensions = der_tlv(TagClass.CONTEXT, True, 3, der_sequence(*extensions, duplicate))
    new_tbs = der_sequence(*tbs_fields[:-1], new_extensions)
    return _resigned_certificate(new_tbs, signature_algorithm, issuer_key)


def _flip_signature_bit(certificate_der: bytes) -> bytes:
    """The certificate with the last bit of its signature flipped (the signature is its last octets)."""
    return certificate_der[:-1] + bytes([certificate_der[-1] ^ 0x01])


# --------------------------------------------------------------------------------------------------
# PKI
# --------------------------------------------------------------------------------------------------


class Provisioning(StrEnum):
    """How the attestation key was certified, i.e. the intermediates between root and leaf."""

    RKP = "rkp"  # root -> Droid CA2 -> Droid CA3 -> attestation-key CA (with provisioning info) -> leaf
    FACTORY = "factory"  # root -> factory CA -> attestation-key CA -> leaf
    DIRECT = "direct"  # root -> attestation-key CA -> leaf


class Role(StrEnum):
    """The certificates of a chain; keys of ``not_before``, ``not_after`` and ``serial_numbers``."""

    ROOT = "root"
    DROID_CA2 = "droid-ca2"
    DROID_CA3 = "droid-ca3"
    FACTORY_CA = "factory-ca"
    ATTESTATION_CA = "attestation-ca"
    LEAF = "leaf"
    EXTENDED = "extended"  # the certificate signed by the attested key (extend_below=True)


def extra_intermediate_role(index: int) -> str:
    """Role of the ``index``-th (1-based, counted from the root) of ``extra_intermediates``."""
    return f"extra-{index}"


def pem_chain(certs: Iterable[bytes | x509.Certificate]) -> bytes:
    """Concatenated PEM, in the given order (DER bytes or certificate objects)."""
    return b"".join(_as_certificate(cert).public_bytes(serialization.Encoding.PEM) for cert in certs)


def json_chain(certs: Iterable[bytes | x509.Certificate]) -> str:
    """A JSON array of standard base64 DER, in the given order."""
    return json.dumps([base64.b64encode(_as_der(cert)).decode("ascii") for cert in certs])


def _as_der(cert: bytes | x509.Certificate) -> bytes:
    return cert if isinstance(cert, bytes) else cert.public_bytes(serialization.Encoding.DER)


def _as_certificate(cert: bytes | x509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert) if isinstance(cert, bytes) else cert


@dataclass(frozen=True)
class AndroidTestChain:
    """A built chain. ``certificates`` is DER, leaf first (the extended certificate if any), root last."""

    certificates: tuple[bytes, ...]
    x509_certificates: tuple[x509.Certificate, ...]
    roles: tuple[str, ...]
    #: The root, also when it is left out of ``certificates`` (``include_root=False``).
    root_certificate: x509.Certificate
    root_public_key: PublicKey
    #: The attested leaf ("Android Keystore Key" signed by the attestation-key CA) and its key.
    leaf_certificate: x509.Certificate
    leaf_private_key: PrivateKey

    @property
    def root_der(self) -> bytes:
        """The root certificate's DER (a trust anchor for the verifier under test)."""
        return self.root_certificate.public_bytes(serialization.Encoding.DER)

    def certificate(self, role: str) -> x509.Certificate:
        """The certificate playing ``role`` (a ``Role`` or ``extra_intermediate_role(i)``)."""
        return self.x509_certificates[self.roles.index(role)]

    def der(self, role: str) -> bytes:
        """The DER of the certificate playing ``role``."""
        return self.certificates[self.roles.index(role)]

    def pem(self) -> bytes:
        """``certificates`` as concatenated PEM."""
        return pem_chain(self.certificates)

    def json(self) -> str:
        """``certificates`` as a JSON array of base64 DER."""
        return json_chain(self.certificates)


DEFAULT_EXTENSION = KeyDescriptionSpec().to_der()


@dataclass(frozen=True)
class _Issuer:
    name: x509.Name
    key: PrivateKey


def _hex_id(*parts: str, size: int) -> str:
    """A stable lowercase hex identifier of ``size`` bytes (serials and CN/serialNumber names)."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[: 2 * size]


def _name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


@functools.cache
def _root_certificate(pki: TestPki, not_before: datetime, not_after: datetime, serial_number: int) -> x509.Certificate:
    """The self-signed root, built once per window and serial so chains share identical root DER."""
    key = pki.root_private_key
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(pki.root_name)
        .issuer_name(pki.root_name)
        .public_key(public_key)
        .serial_number(serial_number)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(crl_sign=True), critical=True)
        .sign(key, _signature_hash(key))
    )


def _ca_key_usage(*, crl_sign: bool = False) -> x509.KeyUsage:
    return _key_usage(key_cert_sign=True, crl_sign=crl_sign)


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _attestation_extension(payload: bytes) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(KEY_DESCRIPTION_OID), payload)


@dataclass(frozen=True)
class TestPki:
    """A test root and the layout of the intermediates below it; ``chain()`` issues a chain.

    Keys are cached per (``name``, role): two ``TestPki`` with different names have unrelated roots,
    and the same ``TestPki`` always returns the same root certificate DER.
    """

    __test__ = False  # not a pytest test class

    root_key_type: KeyType = KeyType.EC_P384
    provisioning: Provisioning = Provisioning.RKP
    name: str = "default"
    #: "TEE" or "StrongBox": the O= (RKP) or title= (factory) of the attestation-key CA's subject.
    security_level_name: str = "TEE"
    provisioning_info: bytes = DEFAULT_PROVISIONING_INFO

    @property
    def root_private_key(self) -> PrivateKey:
        """The root's private key."""
        return cached_private_key(self.root_key_type, f"{self.name}/{Role.ROOT}")

    @property
    def root_name(self) -> x509.Name:
        """The root's subject (and issuer)."""
        return _name(
            (NameOID.SERIAL_NUMBER, _hex_id(self.name, Role.ROOT, size=8)),
            (NameOID.COMMON_NAME, "Attest Test Key Attestation Root"),
        )

    def root_certificate(
        self,
        *,
        not_before: datetime = ROOT_NOT_BEFORE,
        not_after: datetime = ROOT_NOT_AFTER,
        serial_number: int | None = None,
    ) -> x509.Certificate:
        """The self-signed root (cached: same arguments, same DER)."""
        serial = serial_number if serial_number is not None else self._default_serial(Role.ROOT)
        return _root_certificate(self, not_before, not_after, serial)

    def chain(
        self,
        extension: bytes | None = DEFAULT_EXTENSION,
        *,
        leaf_key_type: KeyType = KeyType.EC_P256,
        leaf_private_key: PrivateKey | None = None,
        duplicate_extension: bool = False,
        extension_on_intermediate: bool = False,
        intermediate_is_ca: bool = True,
        extend_below: bool = False,
        forged_extension: bytes | None = None,
        corrupt_leaf_signature: bool = False,
        include_root: bool = True,
        extra_intermediates: int = 0,
        not_before: Mapping[str, datetime] | None = None,
        not_after: Mapping[str, datetime] | None = None,
        serial_numbers: Mapping[str, int] | None = None,
    ) -> AndroidTestChain:
        """Issue root -> intermediates -> attestation-key CA -> leaf carrying ``extension``.

        ``extension`` is the attestation extension's value (``None``: no extension). Negative-test knobs:
        ``duplicate_extension`` puts it on the leaf twice; ``extension_on_intermediate`` also puts it (or
        the default payload) on the attestation-key CA; ``intermediate_is_ca=False`` issues that CA without
        basicConstraints and keyCertSign; ``extend_below`` prepends a certificate signed by the attested
        key carrying ``forged_extension`` (default: the leaf's payload); ``corrupt_leaf_signature`` flips a
        bit of the leaf's signature; ``include_root=False`` drops the root; ``extra_intermediates`` adds CAs
        just above the attestation-key CA. ``not_before``/``not_after``/``serial_numbers`` override per role.
        """
        roles = self._roles(extra_intermediates, extend_below)
        not_before = dict(not_before or {})
        not_after = dict(not_after or {})
        serials = dict(serial_numbers or {})
        unknown = (set(not_before) | set(not_after) | set(serials)) - set(roles)
        if unknown:
            raise ValueError(f"no such certificate in this chain: {sorted(unknown)}; roles are {roles}")

        def window(role: str, default_before: datetime, default_after: datetime) -> tuple[datetime, datetime]:
            return not_before.get(role, default_before), not_after.get(role, default_after)

        def serial(role: str) -> int:
            return serials.get(role, self._default_serial(role))

        root_before, root_after = window(Role.ROOT, ROOT_NOT_BEFORE, ROOT_NOT_AFTER)
        root = self.root_certificate(not_before=root_before, not_after=root_after, serial_number=serial(Role.ROOT))
        issuer = _Issuer(self.root_name, self.root_private_key)
        issued: list[tuple[str, bytes]] = []  # root-first, excluding the root

        # Intermediates above the attestation-key CA.
        above = [role for role in roles[::-1] if role not in (Role.ROOT, Role.ATTESTATION_CA, Role.LEAF, Role.EXTENDED)]
        for role in above:
            key = cached_private_key(
                KeyType.EC_P384 if role == Role.DROID_CA2 else KeyType.EC_P256, f"{self.name}/{role}"
            )
            before, after = window(role, INTERMEDIATE_NOT_BEFORE, INTERMEDIATE_NOT_AFTER)
            subject = self._intermediate_name(role)
            cert = self._issue(
                issuer=issuer,
                subject=subject,
                key=key,
                serial=serial(role),
                not_before=before,
                not_after=after,
                extensions=self._ca_extensions(key, issuer, crl_sign=role == Role.DROID_CA2),
            )
            issued.append((role, cert.public_bytes(serialization.Encoding.DER)))
            issuer = _Issuer(subject, key)

        # The attestation-key CA: the certificate of the key that signs the attestation.
        attestation_key = cached_private_key(KeyType.EC_P256, f"{self.name}/{Role.ATTESTATION_CA}")
        attestation_extensions: list[tuple[x509.ExtensionType, bool]]
        if intermediate_is_ca:
            attestation_extensions = self._ca_extensions(attestation_key, issuer)
        else:
            attestation_extensions = [(_key_usage(digital_signature=True), True)]
        if self.provisioning is Provisioning.RKP:
            attestation_extensions.append(
                (
                    x509.UnrecognizedExtension(x509.ObjectIdentifier(PROVISIONING_INFO_OID), self.provisioning_info),
                    False,
                )
            )
        if extension_on_intermediate:
            payload = extension if extension is not None else DEFAULT_EXTENSION
            attestation_extensions.append((_attestation_extension(payload), False))
        before, after = window(Role.ATTESTATION_CA, INTERMEDIATE_NOT_BEFORE, INTERMEDIATE_NOT_AFTER)
        attestation_subject = self._intermediate_name(Role.ATTESTATION_CA)
        attestation_ca = self._issue(
            issuer=issuer,
            subject=attestation_subject,
            key=attestation_key,
            serial=serial(Role.ATTESTATION_CA),
            not_before=before,
            not_after=after,
            extensions=attestation_extensions,
        )
        issued.append((Role.ATTESTATION_CA, attestation_ca.public_bytes(serialization.Encoding.DER)))
        issuer = _Issuer(attestation_subject, attestation_key)

        # The attested leaf.
        leaf_key = leaf_private_key or cached_private_key(leaf_key_type, f"{self.name}/{Role.LEAF}")
        leaf_extensions: list[tuple[x509.ExtensionType, bool]] = [(_key_usage(digital_signature=True), True)]
        if extension is not None:
            leaf_extensions.append((_attestation_extension(extension), False))
        before, after = window(Role.LEAF, LEAF_NOT_BEFORE, LEAF_NOT_AFTER)
        leaf_der = self._issue(
            issuer=issuer,
            subject=LEAF_SUBJECT,
            key=leaf_key,
            serial=serial(Role.LEAF),
            not_before=before,
            not_after=after,
            extensions=leaf_extensions,
        ).public_bytes(serialization.Encoding.DER)
        if duplicate_extension:
            if extension is None:
                raise ValueError("duplicate_extension needs an extension")
            leaf_der = _duplicate_extension(leaf_der, KEY_DESCRIPTION_OID, attestation_key)
        if corrupt_leaf_signature:
            leaf_der = _flip_signature_bit(leaf_der)
        issued.append((Role.LEAF, leaf_der))

        # The attack of a chain extended below the attested key.
        if extend_below:
            forged = forged_extension if forged_extension is not None else (extension or DEFAULT_EXTENSION)
            below_key = cached_private_key(KeyType.EC_P256, f"{self.name}/{Role.EXTENDED}")
            before, after = window(Role.EXTENDED, LEAF_NOT_BEFORE, LEAF_NOT_AFTER)
            below = self._issue(
                issuer=_Issuer(LEAF_SUBJECT, leaf_key),
                subject=LEAF_SUBJECT,
                key=below_key,
                serial=serial(Role.EXTENDED),
                not_before=before,
                not_after=after,
                extensions=[
                    (_key_usage(digital_signature=True), True),
                    (_attestation_extension(forged), False),
                ],
            )
            issued.append((Role.EXTENDED, below.public_bytes(serialization.Encoding.DER)))

        leaf_first = issued[::-1]
        if include_root:
            leaf_first.append((Role.ROOT, root.public_bytes(serialization.Encoding.DER)))
        ders = tuple(der for _, der in leaf_first)
        return AndroidTestChain(
            certificates=ders,
            x509_certificates=tuple(x509.load_der_x509_certificate(der) for der in ders),
            roles=tuple(str(role) for role, _ in leaf_first),
            root_certificate=root,
            root_public_key=self.root_private_key.public_key(),
            leaf_certificate=x509.load_der_x509_certificate(leaf_der),
            leaf_private_key=leaf_key,
        )

    # ---- internals ----

    def _roles(self, extra_intermediates: int, extend_below: bool) -> tuple[str, ...]:
        """The roles of a chain, leaf first, root last."""
        layout: dict[Provisioning, tuple[str, ...]] = {
            Provisioning.RKP: (Role.DROID_CA3, Role.DROID_CA2),
            Provisioning.FACTORY: (Role.FACTORY_CA,),
            Provisioning.DIRECT: (),
        }
        extras = tuple(extra_intermediate_role(i) for i in range(extra_intermediates, 0, -1))
        below = (Role.EXTENDED,) if extend_below else ()
        return (*below, Role.LEAF, Role.ATTESTATION_CA, *extras, *layout[self.provisioning], Role.ROOT)

    def _default_serial(self, role: str) -> int:
        """Leaves use 1 as KeyMint does; CAs a stable 8- (root) or 16-byte value derived from the role."""
        if role in (Role.LEAF, Role.EXTENDED):
            return 1
        return int(_hex_id(self.name, role, size=8 if role == Role.ROOT else 16), 16)

    def _intermediate_id(self, role: str) -> str:
        return _hex_id(self.name, role, size=16)

    def _intermediate_name(self, role: str) -> x509.Name:
        """Subjects shaped like Google's: "Droid CA2/3", factory serialNumber+title, RKP CN+O."""
        if role == Role.DROID_CA2:
            return _name((NameOID.ORGANIZATION_NAME, "Google LLC"), (NameOID.COMMON_NAME, "Droid CA2"))
        if role == Role.DROID_CA3:
            return _name((NameOID.ORGANIZATION_NAME, "Google LLC"), (NameOID.COMMON_NAME, "Droid CA3"))
        if role == Role.ATTESTATION_CA and self.provisioning is Provisioning.RKP:
            return _name(
                (NameOID.COMMON_NAME, self._intermediate_id(role)),
                (NameOID.ORGANIZATION_NAME, self.security_level_name),
            )
        return _name(
            (NameOID.SERIAL_NUMBER, self._intermediate_id(role)),
            (NameOID.TITLE, self.security_level_name),
        )

    @staticmethod
    def _ca_extensions(
        key: PrivateKey, issuer: _Issuer, *, crl_sign: bool = False
    ) -> list[tuple[x509.ExtensionType, bool]]:
        """basicConstraints CA (critical), keyUsage keyCertSign (critical), SKI and AKI."""
        return [
            (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False),
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (_ca_key_usage(crl_sign=crl_sign), True),
        ]

    @staticmethod
    def _issue(
        *,
        issuer: _Issuer,
        subject: x509.Name,
        key: PrivateKey,
        serial: int,
        not_before: datetime,
        not_after: datetime,
        extensions: Sequence[tuple[x509.ExtensionType, bool]],
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(issuer.key, _signature_hash(issuer.key))
