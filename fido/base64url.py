"""base64url (RFC 4648 section 5) as WebAuthn's JSON serialization carries binary values
(WebAuthn Level 3 section 5.1.8, ``Base64URLString``).

Decoding is strict where Python's ``urlsafe_b64decode`` is not (it silently drops characters outside
the alphabet): one alphabet per value, trailing ``=`` padding only where it belongs, and a canonical
last character. Standard base64 (``+`` and ``/``) is read as well, because some clients sent it (the
Windows Hello responses of Microsoft's webauthntest site); the two alphabets never overlap, so a value
means one thing only.
"""

from __future__ import annotations

import binascii

_LETTERS_AND_DIGITS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_STANDARD = _LETTERS_AND_DIGITS + b"+/"
#: Every byte outside the base64url alphabet.
_NOT_URL_SAFE = bytes(sorted(set(range(256)) - set(_LETTERS_AND_DIGITS + b"-_")))
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_TO_URL_SAFE = bytes.maketrans(b"+/", b"-_")
#: The 6-bit value of each character, for the canonical-form check of the last one.
_VALUE = {c: i for i, c in enumerate(_LETTERS_AND_DIGITS.decode("ascii"))} | {
    "-": 62,
    "_": 63,
    "+": 62,
    "/": 63,
}
#: Bits of the last character that carry no data, by the unpadded length modulo 4.
_UNUSED_BITS = {0: 0x00, 2: 0x0F, 3: 0x03}
#: The ``=`` that complete an unpadded body of each length modulo 4.
_PADDING = {0: b"", 2: b"==", 3: b"="}


def encode(data: bytes) -> str:
    """Unpadded base64url, the form WebAuthn uses."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_TO_URL_SAFE).decode("ascii")


def decode(text: object, *, max_bytes: int) -> bytes | None:
    """The bytes of ``text``, or None when it is not base64url (or standard base64) of at most
    ``max_bytes`` bytes."""
    if not isinstance(text, str) or not text.isascii():
        return None
    length = len(text)
    if length > (max_bytes + 2) // 3 * 4:
        return None
    body = text.rstrip("=")
    size = len(body)
    # Padding, when present, completes the last group of four and nothing more.
    if size != length and (length % 4 != 0 or length - size > 2):
        return None
    remainder = size % 4
    if remainder == 1:
        return None
    encoded = body.encode("ascii")
    # One alphabet for the whole value. base64url, read in the standard alphabet: a character outside
    # base64url is dropped, so a shorter result means the value is not base64url.
    standard = encoded.translate(_TO_STANDARD, _NOT_URL_SAFE)
    if len(standard) != size:
        # Standard base64: deleting its characters must leave nothing.
        if encoded.translate(None, _STANDARD):
            return None
        standard = encoded
    # Canonical form only: the unused low bits of the last character must be zero, so that exactly one
    # string stands for each byte string (no two spellings of one credential ID).
    if remainder and _VALUE[body[-1]] & _UNUSED_BITS[remainder]:
        return None
    # Every character was checked above, so the lenient C decoder reads exactly what strict one would.
    raw = binascii.a2b_base64(standard + _PADDING[remainder])
    return raw if len(raw) <= max_bytes else None
