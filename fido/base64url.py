"""base64url (RFC 4648 section 5) as WebAuthn's JSON serialization carries binary values
(WebAuthn Level 3 section 5.1.8, ``Base64URLString``).

Decoding is strict where Python's ``urlsafe_b64decode`` is not (it silently drops characters outside
the alphabet): one alphabet per value, trailing ``=`` padding only where it belongs, and a canonical
last character. Standard base64 (``+`` and ``/``) is read as well, because some clients sent it (the
Windows Hello responses of Microsoft's webauthntest site); the two alphabets never overlap, so a value
means one thing only.
"""

from __future__ import annotations

import base64
import binascii
import re

_URL_SAFE = re.compile(r"[A-Za-z0-9_-]*")
_STANDARD = re.compile(r"[A-Za-z0-9+/]*")
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
#: The 6-bit value of each character, for the canonical-form check of the last one.
_VALUE = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")} | {
    "-": 62,
    "_": 63,
    "+": 62,
    "/": 63,
}
#: Bits of the last character that carry no data, by the unpadded length modulo 4.
_UNUSED_BITS = {0: 0x00, 2: 0x0F, 3: 0x03}


def encode(data: bytes) -> str:
    """Unpadded base64url, the form WebAuthn uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: object, *, max_bytes: int) -> bytes | None:
    """The bytes of ``text``, or None when it is not base64url (or standard base64) of at most
    ``max_bytes`` bytes."""
    if not isinstance(text, str) or len(text) > (max_bytes + 2) // 3 * 4:
        return None
    body = text.rstrip("=")
    padding = len(text) - len(body)
    if padding and (len(text) % 4 != 0 or padding > 2):
        return None
    remainder = len(body) % 4
    if remainder == 1:
        return None
    if _URL_SAFE.fullmatch(body):
        standard = body.encode("ascii").translate(_TO_STANDARD)
    elif _STANDARD.fullmatch(body):
        standard = body.encode("ascii")
    else:
        return None
    # Canonical form only: the unused low bits of the last character must be zero, so that exactly one
    # string stands for each byte string (no two spellings of one credential ID).
    if remainder and _VALUE[body[-1]] & _UNUSED_BITS[remainder]:
        return None
    # Every character was checked above, so the lenient C decoder reads exactly what strict one would.
    raw = binascii.a2b_base64(standard + b"=" * (-len(body) % 4))
    return raw if len(raw) <= max_bytes else None
