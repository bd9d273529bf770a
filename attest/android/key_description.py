"""The KeyDescription attestation extension (OID 1.3.6.1.4.1.11129.2.1.17).

Schema: https://source.android.com/docs/security/features/keystore/attestation#schema, attestation
versions 1, 2, 3, 4, 100, 200, 300, 400 and 500 (Android 17, ML-DSA). Tag numbers are KeyMint's
``Tag.aidl``. The decoder is strict DER (via :mod:`attest.der`) with the deviations genuine devices are
known to emit accepted explicitly, each named where it is handled:

- ``RootOfTrust.deviceLocked`` encoded as BER ``BOOLEAN 0x01`` (seen on shipping devices; Google's
  verifier reads it as true).
- AuthorizationList tags out of ascending order: recorded in ``tags_in_ascending_order`` (Google's
  verifier logs it and continues); the certificate signature is what protects the content.

Unknown tags are kept, not fatal. A tag that appears twice in one list is malformed: two values for
one field would let two parsers disagree about what was attested.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any, Protocol

from attest import der
from attest.errors import ExtensionMalformed

KEY_DESCRIPTION_OID = "1.3.6.1.4.1.11129.2.1.17"

#: Every attestation version Google has published: Keymaster 1-4 (1, 2, 3, 4), KeyMint 1-5 (100-500).
KNOWN_ATTESTATION_VERSIONS = frozenset({1, 2, 3, 4, 100, 200, 300, 400, 500})


class SecurityLevel(IntEnum):
    """Where the key lives (schema: SecurityLevel)."""

    SOFTWARE = 0
    TRUSTED_ENVIRONMENT = 1
    STRONG_BOX = 2


class VerifiedBootState(IntEnum):
    """What verified boot concluded about the running OS (schema: VerifiedBootState)."""

    VERIFIED = 0
    SELF_SIGNED = 1
    UNVERIFIED = 2
    FAILED = 3


class Origin(IntEnum):
    """Where the key material came from (KeyMint KeyOrigin.aidl)."""

    GENERATED = 0
    DERIVED = 1
    IMPORTED = 2
    RESERVED = 3
    SECURELY_IMPORTED = 4


class Algorithm(IntEnum):
    """Key algorithm (KeyMint Algorithm.aidl; ML_DSA since attestation version 500)."""

    RSA = 1
    EC = 3
    ML_DSA = 4
    AES = 32
    TRIPLE_DES = 33
    HMAC = 128


@dataclass(frozen=True, slots=True)
class RootOfTrust:
    """Verified boot state (schema: RootOfTrust). ``verified_boot_hash`` exists from version 3."""

    verified_boot_key: bytes
    device_locked: bool
    verified_boot_state: VerifiedBootState
    verified_boot_hash: bytes | None


@dataclass(frozen=True, slots=True)
class PackageInfo:
    """One package of the attesting UID (schema: AttestationPackageInfo)."""

    name: str
    version: int


@dataclass(frozen=True, slots=True)
class AttestationApplicationId:
    """The app that owns the key (schema: AttestationApplicationId).

    ``signature_digests`` are SHA-256 digests of the APK signing certificates."""

    packages: tuple[PackageInfo, ...]
    signature_digests: tuple[bytes, ...]
    #: The packages' names and versions, in order (derived once: a decoded value is shared, see below).
    package_names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    package_versions: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "package_names", tuple([package.name for package in self.packages]))
        object.__setattr__(self, "package_versions", tuple([package.version for package in self.packages]))


@dataclass(frozen=True)
class AuthorizationList:
    """One of the two authorization lists (schema: AuthorizationList). ``None``/``False`` = absent.

    Frozen without ``__slots__``: the decoder builds it with :func:`_authorization_list_of`."""

    purposes: tuple[int, ...] | None = None
    algorithm: int | None = None
    key_size: int | None = None
    block_modes: tuple[int, ...] | None = None
    digests: tuple[int, ...] | None = None
    paddings: tuple[int, ...] | None = None
    ec_curve: int | None = None
    ml_dsa_variant: int | None = None
    rsa_public_exponent: int | None = None
    rsa_oaep_mgf_digests: tuple[int, ...] | None = None
    rollback_resistance: bool = False
    early_boot_only: bool = False
    active_date_time: int | None = None
    origination_expire_date_time: int | None = None
    usage_expire_date_time: int | None = None
    usage_count_limit: int | None = None
    no_auth_required: bool = False
    user_auth_type: int | None = None
    auth_timeout: int | None = None
    allow_while_on_body: bool = False
    trusted_user_presence_required: bool = False
    trusted_confirmation_required: bool = False
    unlocked_device_required: bool = False
    all_applications: bool = False
    application_id: bytes | None = None
    creation_date_time: int | None = None
    origin: int | None = None
    rollback_resistant: bool = False
    root_of_trust: RootOfTrust | None = None
    os_version: int | None = None
    os_patch_level: int | None = None
    attestation_application_id: AttestationApplicationId | None = None
    attestation_id_brand: str | None = None
    attestation_id_device: str | None = None
    attestation_id_product: str | None = None
    attestation_id_serial: str | None = None
    attestation_id_imei: str | None = None
    attestation_id_meid: str | None = None
    attestation_id_manufacturer: str | None = None
    attestation_id_model: str | None = None
    vendor_patch_level: int | None = None
    boot_patch_level: int | None = None
    device_unique_attestation: bool = False
    identity_credential_key: bool = False
    attestation_id_second_imei: str | None = None
    module_hash: bytes | None = None
    #: Tags this decoder does not know, as (tag number, DER of the tagged value): kept, not fatal.
    unknown_tags: tuple[tuple[int, bytes], ...] = ()
    tags_in_ascending_order: bool = True


@dataclass(frozen=True, slots=True)
class KeyDescription:
    """The decoded extension (schema: KeyDescription). ``keymint_version`` is keymasterVersion
    before attestation version 100."""

    attestation_version: int
    attestation_security_level: SecurityLevel
    keymint_version: int
    keymint_security_level: SecurityLevel
    attestation_challenge: bytes
    unique_id: bytes
    software_enforced: AuthorizationList
    hardware_enforced: AuthorizationList


# --- field decoders -----------------------------------------------------------------------------
#
# Each decoder reads the one element inside an explicit tag, given by its identifier octet and the
# offsets of its contents in the extension's buffer; nothing is sliced until a value is produced.


def _int(data: bytes, identifier: int, start: int, end: int, what: str) -> int:
    if identifier != der.ID_INTEGER:
        raise der.unexpected(identifier, identifier & 0x1F, der.ID_INTEGER, what)
    return der.integer_contents(data, start, end, what)


def _int_set(data: bytes, identifier: int, start: int, end: int, what: str) -> tuple[int, ...]:
    if identifier != der.ID_SET:
        raise der.unexpected(identifier, identifier & 0x1F, der.ID_SET, what)
    values = []
    offset = start
    while offset < end:
        item, tag, item_start, offset = der.read_header(data, offset, end)
        if item != der.ID_INTEGER:
            raise der.unexpected(item, tag, der.ID_INTEGER, what)
        values.append(der.integer_contents(data, item_start, offset, what))
    return tuple(values)


def _present(data: bytes, identifier: int, start: int, end: int, what: str) -> bool:
    if identifier != der.ID_NULL:
        raise der.unexpected(identifier, identifier & 0x1F, der.ID_NULL, what)
    if start != end:
        raise der.DerError(f"{what}: NULL with contents")
    return True


def _octets(data: bytes, identifier: int, start: int, end: int, what: str) -> bytes:
    if identifier != der.ID_OCTET_STRING:
        raise der.unexpected(identifier, identifier & 0x1F, der.ID_OCTET_STRING, what)
    return data[start:end]


def _utf8(data: bytes, identifier: int, start: int, end: int, what: str) -> str:
    try:
        return _octets(data, identifier, start, end, what).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise der.DerError(f"{what}: not UTF-8") from exc


def _children(
    data: bytes, identifier: int, start: int, end: int, expected: int, what: str
) -> list[tuple[int, int, int, int]]:
    """The children of a SEQUENCE or SET (``expected`` identifier): (identifier, tag, start, end) each."""
    if identifier != expected:
        raise der.unexpected(identifier, identifier & 0x1F, expected, what)
    children = []
    offset = start
    while offset < end:
        child = der.read_header(data, offset, end)
        children.append(child)
        offset = child[3]
    return children


def _root_of_trust(data: bytes, identifier: int, start: int, end: int, what: str) -> RootOfTrust:
    items = _children(data, identifier, start, end, der.ID_SEQUENCE, what)
    if len(items) not in (3, 4):
        raise der.DerError(f"{what}: expected 3 or 4 fields, found {len(items)}")
    state = _enumerated(data, items[2], f"{what}.verifiedBootState")
    if state not in VerifiedBootState._value2member_map_:
        raise der.DerError(f"{what}.verifiedBootState: unknown value {state}")
    return RootOfTrust(
        verified_boot_key=_octets(data, *_value(items[0]), f"{what}.verifiedBootKey"),
        # Known device deviation: BOOLEAN 0x01 instead of DER 0xFF (see module docstring).
        device_locked=_ber_boolean(data, items[1], f"{what}.deviceLocked"),
        verified_boot_state=VerifiedBootState(state),
        verified_boot_hash=_octets(data, *_value(items[3]), f"{what}.verifiedBootHash") if len(items) == 4 else None,
    )


def _attestation_application_id(
    data: bytes, identifier: int, start: int, end: int, what: str
) -> AttestationApplicationId:
    if identifier != der.ID_OCTET_STRING:
        raise der.unexpected(identifier, identifier & 0x1F, der.ID_OCTET_STRING, what)
    return _decoded_application_id(data[start:end], what)


@lru_cache(maxsize=256)
def _decoded_application_id(data: bytes, what: str) -> AttestationApplicationId:
    """The OCTET STRING's contents: exactly one DER AttestationApplicationId. Decoded once per distinct
    value: it names the app (packages, versions, signing certificates), the same for every key the app
    attests. Pure and immutable; malformed input raises every time (nothing is cached)."""
    inner, _, inner_start, inner_end = der.read_header(data, 0, len(data))
    if inner_end != len(data):
        raise der.DerError(f"{len(data) - inner_end} bytes of trailing data after the element")
    items = _children(data, inner, inner_start, inner_end, der.ID_SEQUENCE, what)
    if len(items) != 2:
        raise der.DerError(f"{what}: expected 2 fields, found {len(items)}")
    packages = []
    for package in _children(data, *_value(items[0]), der.ID_SET, f"{what}.packageInfos"):
        fields = _children(data, *_value(package), der.ID_SEQUENCE, f"{what}.packageInfo")
        if len(fields) != 2:
            raise der.DerError(f"{what}.packageInfo: expected 2 fields, found {len(fields)}")
        packages.append(
            PackageInfo(
                name=_utf8(data, *_value(fields[0]), f"{what}.packageName"),
                version=_int(data, *_value(fields[1]), f"{what}.version"),
            )
        )
    digests = tuple(
        _octets(data, *_value(item), f"{what}.signatureDigest")
        for item in _children(data, *_value(items[1]), der.ID_SET, f"{what}.signatureDigests")
    )
    return AttestationApplicationId(packages=tuple(packages), signature_digests=digests)


def _value(header: tuple[int, int, int, int]) -> tuple[int, int, int]:
    """(identifier, start, end) of a header from :func:`attest.der.read_header`."""
    return header[0], header[2], header[3]


def _enumerated(data: bytes, header: tuple[int, int, int, int], what: str) -> int:
    identifier, tag, start, end = header
    if identifier != der.ID_ENUMERATED:
        raise der.unexpected(identifier, tag, der.ID_ENUMERATED, what)
    return der.integer_contents(data, start, end, what)


def _ber_boolean(data: bytes, header: tuple[int, int, int, int], what: str) -> bool:
    """BOOLEAN read as BER (X.690 section 8.2.2: any non-zero octet is true)."""
    identifier, tag, start, end = header
    if identifier != der.ID_BOOLEAN:
        raise der.unexpected(identifier, tag, der.ID_BOOLEAN, what)
    if end - start != 1:
        raise der.DerError(f"{what}: BOOLEAN must be one octet")
    return data[start] != 0x00


class _FieldDecoder(Protocol):
    def __call__(self, data: bytes, identifier: int, start: int, end: int, what: str, /) -> Any: ...


#: tag number -> (AuthorizationList attribute, schema name, decoder)
AUTHORIZATION_FIELDS: Mapping[int, tuple[str, str, _FieldDecoder]] = {
    1: ("purposes", "purpose", _int_set),
    2: ("algorithm", "algorithm", _int),
    3: ("key_size", "keySize", _int),
    4: ("block_modes", "blockMode", _int_set),
    5: ("digests", "digest", _int_set),
    6: ("paddings", "padding", _int_set),
    10: ("ec_curve", "ecCurve", _int),
    11: ("ml_dsa_variant", "mlDsaVariant", _int),
    200: ("rsa_public_exponent", "rsaPublicExponent", _int),
    203: ("rsa_oaep_mgf_digests", "rsaOaepMgfDigest", _int_set),
    303: ("rollback_resistance", "rollbackResistance", _present),
    305: ("early_boot_only", "earlyBootOnly", _present),
    400: ("active_date_time", "activeDateTime", _int),
    401: ("origination_expire_date_time", "originationExpireDateTime", _int),
    402: ("usage_expire_date_time", "usageExpireDateTime", _int),
    405: ("usage_count_limit", "usageCountLimit", _int),
    503: ("no_auth_required", "noAuthRequired", _present),
    504: ("user_auth_type", "userAuthType", _int),
    505: ("auth_timeout", "authTimeout", _int),
    506: ("allow_while_on_body", "allowWhileOnBody", _present),
    507: ("trusted_user_presence_required", "trustedUserPresenceRequired", _present),
    508: ("trusted_confirmation_required", "trustedConfirmationRequired", _present),
    509: ("unlocked_device_required", "unlockedDeviceRequired", _present),
    600: ("all_applications", "allApplications", _present),
    601: ("application_id", "applicationId", _octets),
    701: ("creation_date_time", "creationDateTime", _int),
    702: ("origin", "origin", _int),
    703: ("rollback_resistant", "rollbackResistant", _present),
    704: ("root_of_trust", "rootOfTrust", _root_of_trust),
    705: ("os_version", "osVersion", _int),
    706: ("os_patch_level", "osPatchLevel", _int),
    709: ("attestation_application_id", "attestationApplicationId", _attestation_application_id),
    710: ("attestation_id_brand", "attestationIdBrand", _utf8),
    711: ("attestation_id_device", "attestationIdDevice", _utf8),
    712: ("attestation_id_product", "attestationIdProduct", _utf8),
    713: ("attestation_id_serial", "attestationIdSerial", _utf8),
    714: ("attestation_id_imei", "attestationIdImei", _utf8),
    715: ("attestation_id_meid", "attestationIdMeid", _utf8),
    716: ("attestation_id_manufacturer", "attestationIdManufacturer", _utf8),
    717: ("attestation_id_model", "attestationIdModel", _utf8),
    718: ("vendor_patch_level", "vendorPatchLevel", _int),
    719: ("boot_patch_level", "bootPatchLevel", _int),
    720: ("device_unique_attestation", "deviceUniqueAttestation", _present),
    721: ("identity_credential_key", "identityCredentialKey", _present),
    723: ("attestation_id_second_imei", "attestationIdSecondImei", _utf8),
    724: ("module_hash", "moduleHash", _octets),
}


# --- decoding -----------------------------------------------------------------------------------


def parse_key_description(extension_value: bytes) -> KeyDescription:
    """Decode the extension's DER value (the OCTET STRING contents) into a :class:`KeyDescription`.

    Raises :class:`~attest.errors.ExtensionMalformed` naming the field that failed."""
    try:
        return _key_description(extension_value)
    except der.DerError as exc:
        raise ExtensionMalformed(f"KeyDescription: {exc}") from exc


def _key_description(data: bytes) -> KeyDescription:
    header = der.read_header(data, 0, len(data))
    if header[3] != len(data):
        raise der.DerError(f"{len(data) - header[3]} bytes of trailing data after the element")
    items = _children(data, *_value(header), der.ID_SEQUENCE, "KeyDescription")
    if len(items) != 8:
        raise der.DerError(f"expected 8 fields, found {len(items)}")
    return KeyDescription(
        attestation_version=_int(data, *_value(items[0]), "attestationVersion"),
        attestation_security_level=_security_level(data, items[1], "attestationSecurityLevel"),
        keymint_version=_int(data, *_value(items[2]), "keyMintVersion"),
        keymint_security_level=_security_level(data, items[3], "keyMintSecurityLevel"),
        attestation_challenge=_octets(data, *_value(items[4]), "attestationChallenge"),
        unique_id=_octets(data, *_value(items[5]), "uniqueId"),
        software_enforced=_authorization_list(data, items[6], "softwareEnforced"),
        hardware_enforced=_hardware_enforced(data, items[7]),
    )


def _hardware_enforced(data: bytes, header: tuple[int, int, int, int]) -> AuthorizationList:
    identifier, tag, start, end = header
    if identifier != der.ID_SEQUENCE:
        raise der.unexpected(identifier, tag, der.ID_SEQUENCE, "hardwareEnforced")
    return _decoded_hardware_enforced(data[start:end])


@lru_cache(maxsize=1024)
def _decoded_hardware_enforced(contents: bytes) -> AuthorizationList:
    """hardwareEnforced, decoded once per distinct value. The list describes the device (boot state,
    OS and patch levels, IDs) and the key's type, so the keys a device attests repeat it byte for byte;
    softwareEnforced holds creationDateTime and is never the same twice. Decoding is a pure function
    of the bytes and its result is immutable; malformed input raises every time (nothing is cached)."""
    return _authorization_list(contents, (der.ID_SEQUENCE, der.TAG_SEQUENCE, 0, len(contents)), "hardwareEnforced")


@cache
def _labels(list_name: str) -> Mapping[int, str]:
    """``softwareEnforced.osVersion`` by tag: names the field in error messages (built once per list)."""
    return MappingProxyType({tag: f"{list_name}.{field[1]}" for tag, field in AUTHORIZATION_FIELDS.items()})


def _security_level(data: bytes, header: tuple[int, int, int, int], what: str) -> SecurityLevel:
    value = _enumerated(data, header, what)
    level = _SECURITY_LEVELS.get(value)
    if level is None:
        raise der.DerError(f"{what}: unknown security level {value}")
    return level


_SECURITY_LEVELS: Mapping[int, SecurityLevel] = MappingProxyType({level.value: level for level in SecurityLevel})


def _authorization_list(data: bytes, header: tuple[int, int, int, int], what: str) -> AuthorizationList:
    """One pass over the entries: each is ``[tag] EXPLICIT`` around exactly one element."""
    identifier, tag, offset, end = header
    if identifier != der.ID_SEQUENCE:
        raise der.unexpected(identifier, tag, der.ID_SEQUENCE, what)
    labels = _labels(what)
    values: dict[str, Any] = {}
    unknown: list[tuple[int, bytes]] = []
    seen: set[int] = set()
    previous = -1
    in_order = True
    while offset < end:
        identifier, tag, start, offset = der.read_header(data, offset, end)
        if identifier & 0xE0 != 0xA0:  # context-specific, constructed
            raise der.DerError(f"{what}: entry is not an explicitly tagged field (tag {tag})")
        if tag in seen:
            raise der.DerError(f"{what}: tag [{tag}] appears twice")
        seen.add(tag)
        if tag <= previous:
            in_order = False
        previous = tag
        known = AUTHORIZATION_FIELDS.get(tag)
        if known is None:
            unknown.append((tag, data[start:offset]))
            continue
        inner, _, inner_start, inner_end = der.read_header(data, start, offset)
        if inner_end != offset:
            raise der.DerError(f"{labels[tag]}: {offset - inner_end} bytes of trailing data after the element")
        values[known[0]] = known[2](data, inner, inner_start, inner_end, labels[tag])
    values["unknown_tags"] = tuple(unknown)
    values["tags_in_ascending_order"] = in_order
    return _authorization_list_of(values)


#: Every field of :class:`AuthorizationList` with its default value.
_ABSENT: Mapping[str, Any] = MappingProxyType({f.name: f.default for f in dataclasses.fields(AuthorizationList)})


def _authorization_list_of(values: Mapping[str, Any]) -> AuthorizationList:
    """``AuthorizationList(**values)``, built without its ``__init__``: a frozen dataclass sets each of
    its 48 fields with a call to ``object.__setattr__`` (3 us, a tenth of a cached verification); this
    fills the instance's ``__dict__`` with every field at once, ``values`` over the defaults. Only the
    decoder calls it, with names from :data:`AUTHORIZATION_FIELDS`; a test checks it equals ``__init__``."""
    instance = object.__new__(AuthorizationList)
    instance.__dict__.update(_ABSENT, **values)
    return instance
