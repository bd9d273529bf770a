"""Authenticator data: the bytes an authenticator signs (WebAuthn Level 3 section 6.1), and the checks
on its RP ID hash and flags common to registration (section 7.1 steps 14-17) and authentication
(section 7.2 steps 15-18).

Layout: rpIdHash (32) | flags (1) | signCount (4, big-endian) | attestedCredentialData (when AT) |
extensions (CBOR map, when ED). attestedCredentialData (section 6.5.1) is aaguid (16) |
credentialIdLength (2) | credentialId | credentialPublicKey (COSE_Key, CBOR).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fido.cbor import CborError, decode_prefix
from fido.errors import (
    AuthenticatorDataMalformed,
    BackupFlagsInvalid,
    CredentialIdInvalid,
    RpIdMismatch,
    UserNotPresent,
    UserNotVerified,
)
from fido.relying_party import RelyingParty

#: Section 7.1 step 25: credential IDs longer than this are refused.
MAX_CREDENTIAL_ID_BYTES = 1023

# Flag bits (section 6.1): UP, UV, BE, BS, AT, ED.
_UP, _UV, _BE, _BS, _AT, _ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80
_FIXED = 37


@dataclass(frozen=True)
class AttestedCredentialData:
    """Section 6.5.1: the new credential, present in registration responses."""

    aaguid: bytes
    credential_id: bytes
    #: The COSE_Key exactly as the authenticator encoded it.
    public_key: bytes


@dataclass(frozen=True)
class AuthenticatorData:
    """Section 6.1, decoded. ``raw`` is the exact signed bytes."""

    raw: bytes
    rp_id_hash: bytes
    user_present: bool
    user_verified: bool
    backup_eligible: bool
    backup_state: bool
    sign_count: int
    attested_credential: AttestedCredentialData | None
    has_extensions: bool


def parse_authenticator_data(raw: bytes) -> AuthenticatorData:
    """Decode ``raw`` strictly: every byte must belong to a field the flags announce."""
    if len(raw) < _FIXED:
        raise AuthenticatorDataMalformed(f"authenticatorData is {len(raw)} bytes, shorter than the 37 fixed bytes")
    flags = raw[32]
    offset = _FIXED
    attested = None
    if flags & _AT:
        if len(raw) < offset + 18:
            raise AuthenticatorDataMalformed("authenticatorData is too short for its attested credential data")
        aaguid = raw[offset : offset + 16]
        length = int.from_bytes(raw[offset + 16 : offset + 18], "big")
        offset += 18
        if length > MAX_CREDENTIAL_ID_BYTES:
            raise CredentialIdInvalid(f"the credential ID is {length} bytes, more than {MAX_CREDENTIAL_ID_BYTES}")
        if length == 0 or len(raw) < offset + length:
            raise AuthenticatorDataMalformed("authenticatorData is too short for its credential ID")
        credential_id = raw[offset : offset + length]
        offset += length
        key_start = offset
        try:
            key, offset = decode_prefix(raw, offset)
        except CborError as exc:
            raise AuthenticatorDataMalformed(f"the credential public key is {exc}") from None
        if not isinstance(key, dict):
            raise AuthenticatorDataMalformed("the credential public key is not a CBOR map (COSE_Key)")
        attested = AttestedCredentialData(aaguid=aaguid, credential_id=credential_id, public_key=raw[key_start:offset])
    if flags & _ED:
        try:
            extensions, offset = decode_prefix(raw, offset)
        except CborError as exc:
            raise AuthenticatorDataMalformed(f"the extension outputs are {exc}") from None
        if not isinstance(extensions, dict):
            raise AuthenticatorDataMalformed("the extension outputs are not a CBOR map")
    if offset != len(raw):
        raise AuthenticatorDataMalformed(f"{len(raw) - offset} bytes of authenticatorData belong to no field")
    return AuthenticatorData(
        raw=raw,
        rp_id_hash=raw[:32],
        user_present=bool(flags & _UP),
        user_verified=bool(flags & _UV),
        backup_eligible=bool(flags & _BE),
        backup_state=bool(flags & _BS),
        sign_count=int.from_bytes(raw[33:37], "big"),
        attested_credential=attested,
        has_extensions=bool(flags & _ED),
    )


def verify_authenticator_data(
    auth_data: AuthenticatorData, *, rp: RelyingParty, require_user_verification: bool
) -> None:
    """Section 7.1 steps 14-17 (registration) and 7.2 steps 15-18 (authentication)."""
    # Step 14 / 15: the authenticator scoped the credential to our RP ID.
    if not hmac.compare_digest(auth_data.rp_id_hash, rp.id_hash):
        raise RpIdMismatch(f"the authenticator signed for another RP ID than {rp.id!r}")
    # Step 15 / 16: a user was present. (Conditional create, which may omit UP, is not used here.)
    if not auth_data.user_present:
        raise UserNotPresent("the authenticator reports no user presence (UP flag clear)")
    # Step 16 / 17: user verification, when this ceremony requires it; otherwise UV is only recorded.
    if require_user_verification and not auth_data.user_verified:
        raise UserNotVerified("user verification is required and the authenticator did not verify the user")
    # Step 17 / 18: a credential that cannot be backed up cannot be backed up.
    if auth_data.backup_state and not auth_data.backup_eligible:
        raise BackupFlagsInvalid("the BS flag is set but the credential is not backup eligible (BE clear)")
