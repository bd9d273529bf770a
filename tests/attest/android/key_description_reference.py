"""The KeyDescription decoder as it was before the single-pass reader: Element objects from
:func:`attest.der.read_elements`, one decoder call per element. Kept as the reference the fast decoder
is cross-checked against (``test_key_description_reference.py``): same values, same rejections."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from itertools import pairwise
from typing import Any

from attest import der
from attest.android.key_description import (
    AttestationApplicationId,
    AuthorizationList,
    KeyDescription,
    PackageInfo,
    RootOfTrust,
    SecurityLevel,
    VerifiedBootState,
)
from attest.errors import ExtensionMalformed

# --- field decoders -----------------------------------------------------------------------------


def _int(element: der.Element, what: str) -> int:
    return der.integer(element, what)


def _int_set(element: der.Element, what: str) -> tuple[int, ...]:
    return tuple(der.integer(item, what) for item in der.set_items(element, what))


def _present(element: der.Element, what: str) -> bool:
    der.null(element, what)
    return True


def _octets(element: der.Element, what: str) -> bytes:
    return der.octet_string(element, what)


def _utf8(element: der.Element, what: str) -> str:
    try:
        return der.octet_string(element, what).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise der.DerError(f"{what}: not UTF-8") from exc


def _root_of_trust(element: der.Element, what: str) -> RootOfTrust:
    items = der.sequence_items(element, what)
    if len(items) not in (3, 4):
        raise der.DerError(f"{what}: expected 3 or 4 fields, found {len(items)}")
    state = der.enumerated(items[2], f"{what}.verifiedBootState")
    if state not in VerifiedBootState._value2member_map_:
        raise der.DerError(f"{what}.verifiedBootState: unknown value {state}")
    return RootOfTrust(
        verified_boot_key=der.octet_string(items[0], f"{what}.verifiedBootKey"),
        # Known device deviation: BOOLEAN 0x01 instead of DER 0xFF (see module docstring).
        device_locked=der.boolean(items[1], f"{what}.deviceLocked", allow_ber_true=True),
        verified_boot_state=VerifiedBootState(state),
        verified_boot_hash=der.octet_string(items[3], f"{what}.verifiedBootHash") if len(items) == 4 else None,
    )


def _attestation_application_id(element: der.Element, what: str) -> AttestationApplicationId:
    inner = der.read_element(der.octet_string(element, what))
    items = der.sequence_items(inner, what)
    if len(items) != 2:
        raise der.DerError(f"{what}: expected 2 fields, found {len(items)}")
    packages = []
    for package in der.set_items(items[0], f"{what}.packageInfos"):
        fields = der.sequence_items(package, f"{what}.packageInfo")
        if len(fields) != 2:
            raise der.DerError(f"{what}.packageInfo: expected 2 fields, found {len(fields)}")
        packages.append(
            PackageInfo(name=_utf8(fields[0], f"{what}.packageName"), version=_int(fields[1], f"{what}.version"))
        )
    digests = tuple(
        der.octet_string(item, f"{what}.signatureDigest")
        for item in der.set_items(items[1], f"{what}.signatureDigests")
    )
    return AttestationApplicationId(packages=tuple(packages), signature_digests=digests)


_FieldDecoder = Callable[[der.Element, str], Any]

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
        return _key_description(der.read_element(extension_value))
    except der.DerError as exc:
        raise ExtensionMalformed(f"KeyDescription: {exc}") from exc


def _key_description(element: der.Element) -> KeyDescription:
    items = der.sequence_items(element, "KeyDescription")
    if len(items) != 8:
        raise der.DerError(f"expected 8 fields, found {len(items)}")
    return KeyDescription(
        attestation_version=der.integer(items[0], "attestationVersion"),
        attestation_security_level=_security_level(items[1], "attestationSecurityLevel"),
        keymint_version=der.integer(items[2], "keyMintVersion"),
        keymint_security_level=_security_level(items[3], "keyMintSecurityLevel"),
        attestation_challenge=der.octet_string(items[4], "attestationChallenge"),
        unique_id=der.octet_string(items[5], "uniqueId"),
        software_enforced=_authorization_list(items[6], "softwareEnforced"),
        hardware_enforced=_authorization_list(items[7], "hardwareEnforced"),
    )


@cache
def _label(list_name: str, tag: int) -> str:
    """``softwareEnforced.osVersion``: names the field in error messages (built once per field)."""
    return f"{list_name}.{AUTHORIZATION_FIELDS[tag][1]}"


def _security_level(element: der.Element, what: str) -> SecurityLevel:
    value = der.enumerated(element, what)
    if value not in SecurityLevel._value2member_map_:
        raise der.DerError(f"{what}: unknown security level {value}")
    return SecurityLevel(value)


def _authorization_list(element: der.Element, what: str) -> AuthorizationList:
    values: dict[str, Any] = {}
    unknown: list[tuple[int, bytes]] = []
    seen: list[int] = []
    for class_, constructed, tag, contents in der.sequence_items(element, what):
        if class_ != der.CLASS_CONTEXT or not constructed:
            raise der.DerError(f"{what}: entry is not an explicitly tagged field (tag {tag})")
        seen.append(tag)
        known = AUTHORIZATION_FIELDS.get(tag)
        if known is None:
            unknown.append((tag, contents))
            continue
        attribute, decode = known[0], known[2]
        values[attribute] = decode(der.read_element(contents), _label(what, tag))
    if len(set(seen)) != len(seen):
        repeated = next(tag for tag in seen if seen.count(tag) > 1)
        raise der.DerError(f"{what}: tag [{repeated}] appears twice")
    in_order = all(earlier < later for earlier, later in pairwise(seen))
    return AuthorizationList(**values, unknown_tags=tuple(unknown), tags_in_ascending_order=in_order)
