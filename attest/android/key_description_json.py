"""A :class:`KeyDescription` as JSON, in the shape Google's verifier prints it.

Integers are strings, byte strings standard base64, enums their names; absent fields are left out.
The CLI prints this form, and the tests compare it with Google's own decoding of each real sample.
"""

from __future__ import annotations

import base64
from typing import Any

from attest.android.key_description import (
    AUTHORIZATION_FIELDS,
    AttestationApplicationId,
    AuthorizationList,
    KeyDescription,
    Origin,
    RootOfTrust,
)

#: Google's JSON names where they differ from the schema names in AUTHORIZATION_FIELDS.
_JSON_NAMES = {
    "purpose": "purposes",
    "algorithm": "algorithms",
    "blockMode": "blockModes",
    "digest": "digests",
    "padding": "paddings",
    "rsaOaepMgfDigest": "rsaOaepMgfDigests",
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def key_description_as_json(description: KeyDescription) -> dict[str, Any]:
    return {
        "attestationVersion": str(description.attestation_version),
        "attestationSecurityLevel": description.attestation_security_level.name,
        "keyMintVersion": str(description.keymint_version),
        "keyMintSecurityLevel": description.keymint_security_level.name,
        "attestationChallenge": _b64(description.attestation_challenge),
        "uniqueId": _b64(description.unique_id),
        "softwareEnforced": authorization_list_as_json(description.software_enforced),
        "hardwareEnforced": authorization_list_as_json(description.hardware_enforced),
    }


def authorization_list_as_json(authorizations: AuthorizationList) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attribute, schema_name, _ in AUTHORIZATION_FIELDS.values():
        value = getattr(authorizations, attribute)
        if value is None or value is False:
            continue
        out[_JSON_NAMES.get(schema_name, schema_name)] = _value_as_json(attribute, value)
    if authorizations.unknown_tags:
        out["unknownTags"] = {str(tag): _b64(raw) for tag, raw in authorizations.unknown_tags}
    if not authorizations.tags_in_ascending_order:
        out["areTagsOrdered"] = False
    return out


def _value_as_json(attribute: str, value: object) -> Any:
    if attribute == "origin" and isinstance(value, int) and value in Origin._value2member_map_:
        return Origin(value).name
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return _b64(value)
    if isinstance(value, tuple):
        return [str(item) for item in value]
    if isinstance(value, RootOfTrust):
        root: dict[str, Any] = {
            "verifiedBootKey": _b64(value.verified_boot_key),
            "deviceLocked": value.device_locked,
            "verifiedBootState": value.verified_boot_state.name,
        }
        if value.verified_boot_hash is not None:
            root["verifiedBootHash"] = _b64(value.verified_boot_hash)
        return root
    if isinstance(value, AttestationApplicationId):
        return {
            "packages": [{"name": p.name, "version": str(p.version)} for p in value.packages],
            "signatures": [_b64(digest) for digest in value.signature_digests],
        }
    return str(value)
