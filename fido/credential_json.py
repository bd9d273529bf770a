"""Reading a PublicKeyCredential from its JSON form (WebAuthn Level 3 section 5.1.8:
RegistrationResponseJSON and AuthenticationResponseJSON), as ``PublicKeyCredential.toJSON()`` and
``@simplewebauthn/browser`` produce it: binary members as base64url, the rest as JSON.

Only the members the ceremonies use are read; each must have its documented JSON type, and binary
ones are decoded strictly (:mod:`fido.base64url`) within a size bound. Unknown members (such as
``clientExtensionResults`` contents, or ``publicKey`` convenience copies) are ignored, as the spec
asks of members a relying party does not use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fido import base64url
from fido.authenticator_data import MAX_CREDENTIAL_ID_BYTES
from fido.errors import CredentialIdInvalid, ResponseMalformed

#: Bounds on the binary members (the request body limit bounds them all again).
MAX_CLIENT_DATA_BYTES = 16 * 1024
MAX_STRUCTURE_BYTES = 64 * 1024
MAX_USER_HANDLE_BYTES = 64

#: AuthenticatorTransport values (section 5.8.4); others are dropped, as clients ignore them too.
TRANSPORTS: frozenset[str] = frozenset({"usb", "nfc", "ble", "smart-card", "hybrid", "internal"})


def credential_id(credential: Mapping[str, Any]) -> bytes:
    """``rawId``, after checking ``type`` and that ``id`` is the base64url of ``rawId``."""
    if not isinstance(credential, Mapping):
        raise ResponseMalformed("the credential is not a JSON object")
    if credential.get("type") != "public-key":
        raise ResponseMalformed("the credential's type is not 'public-key'")
    raw_id = binary(credential, "rawId", max_bytes=MAX_CREDENTIAL_ID_BYTES, error=CredentialIdInvalid)
    if not raw_id:
        raise CredentialIdInvalid("the credential ID is empty")
    if credential.get("id") != base64url.encode(raw_id):
        raise CredentialIdInvalid("the credential's id is not the base64url encoding of its rawId")
    return raw_id


def response_of(credential: Mapping[str, Any]) -> Mapping[str, Any]:
    response = credential.get("response")
    if not isinstance(response, Mapping):
        raise ResponseMalformed("the credential has no response object")
    return response


def binary(
    members: Mapping[str, Any],
    name: str,
    *,
    max_bytes: int,
    error: type[ResponseMalformed] = ResponseMalformed,
) -> bytes:
    """The bytes of the base64url member ``name`` (at most ``max_bytes``)."""
    value = members.get(name)
    if not isinstance(value, str):
        raise error(f"{name} is missing or not a string")
    decoded = base64url.decode(value, max_bytes=max_bytes)
    if decoded is None:
        raise error(f"{name} is not base64url of at most {max_bytes} bytes")
    return decoded


def optional_binary(members: Mapping[str, Any], name: str, *, max_bytes: int) -> bytes | None:
    """Like :func:`binary`, for a member that may be absent or null."""
    return None if members.get(name) is None else binary(members, name, max_bytes=max_bytes)


def transports(response: Mapping[str, Any]) -> tuple[str, ...]:
    """``response.transports`` (section 5.2.1.1, getTransports()): known values, sorted, unique."""
    value = response.get("transports")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ResponseMalformed("response.transports is not a list of strings")
    return tuple(sorted(TRANSPORTS.intersection(value)))


def authenticator_attachment(credential: Mapping[str, Any]) -> str | None:
    """``authenticatorAttachment`` ("platform" or "cross-platform"), when reported."""
    value = credential.get("authenticatorAttachment")
    return value if value in ("platform", "cross-platform") else None
