"""Authenticator data (WebAuthn Level 2 section 6.1), as App Attest uses it.

rpIdHash (32) | flags (1) | signCount (4, big-endian) | attested credential data: aaguid (16) |
credentialIdLength (2) | credentialId | credentialPublicKey (COSE). An attestation's authData carries
the attested credential data (flag AT); an assertion's is the 37-byte header only (Apple sets the AT
flag there too, without the data, so the flag is not relied on for assertions).
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER_LENGTH = 37
FLAG_ATTESTED_CREDENTIAL_DATA = 0x40
FLAG_EXTENSION_DATA = 0x80
#: WebAuthn caps credential ids at 1023 bytes.
MAX_CREDENTIAL_ID_LENGTH = 1023


class AuthenticatorDataError(Exception):
    """The bytes are not authenticator data of the expected shape; callers raise their typed error."""


@dataclass(frozen=True, slots=True)
class AuthenticatorData:
    """The fields App Attest reads. The attested-credential members are empty for an assertion."""

    rp_id_hash: bytes
    flags: int
    sign_count: int
    aaguid: bytes = b""
    credential_id: bytes = b""
    credential_public_key: bytes = b""


def parse_attestation_authenticator_data(data: bytes) -> AuthenticatorData:
    """An attestation's authData: header and attested credential data, no extensions."""
    header = _header(data)
    if not header.flags & FLAG_ATTESTED_CREDENTIAL_DATA:
        raise AuthenticatorDataError("the AT flag is clear: authData carries no attested credential data")
    if header.flags & FLAG_EXTENSION_DATA:
        raise AuthenticatorDataError("the ED flag is set: App Attest authData carries no extensions")
    fixed_end = HEADER_LENGTH + 16 + 2
    if len(data) < fixed_end:
        raise AuthenticatorDataError(f"authData is {len(data)} bytes, too short for attested credential data")
    aaguid = data[HEADER_LENGTH : HEADER_LENGTH + 16]
    id_length = int.from_bytes(data[HEADER_LENGTH + 16 : fixed_end], "big")
    if id_length > MAX_CREDENTIAL_ID_LENGTH:
        raise AuthenticatorDataError(f"credentialIdLength {id_length} exceeds {MAX_CREDENTIAL_ID_LENGTH}")
    id_end = fixed_end + id_length
    if len(data) <= id_end:
        raise AuthenticatorDataError(
            f"authData is {len(data)} bytes: truncated credentialId ({id_length} bytes) or no credentialPublicKey"
        )
    return AuthenticatorData(
        rp_id_hash=header.rp_id_hash,
        flags=header.flags,
        sign_count=header.sign_count,
        aaguid=aaguid,
        credential_id=data[fixed_end:id_end],
        credential_public_key=data[id_end:],
    )


def parse_assertion_authenticator_data(data: bytes) -> AuthenticatorData:
    """An assertion's authenticatorData: exactly the 37-byte header."""
    if len(data) != HEADER_LENGTH:
        raise AuthenticatorDataError(f"authenticatorData is {len(data)} bytes, not {HEADER_LENGTH}")
    return _header(data)


def _header(data: bytes) -> AuthenticatorData:
    if len(data) < HEADER_LENGTH:
        raise AuthenticatorDataError(
            f"authenticator data is {len(data)} bytes, shorter than its {HEADER_LENGTH}-byte header"
        )
    return AuthenticatorData(
        rp_id_hash=data[:32],
        flags=data[32],
        sign_count=int.from_bytes(data[33:37], "big"),
    )
