"""Strict CBOR decoding (RFC 8949) for App Attest's attestation and assertion objects.

Apple's objects are plain maps of text keys to byte strings, text and arrays. Decoding here accepts
exactly one definite-length data item with no trailing bytes, no semantic tags (cbor2 would otherwise
build datetimes, regular expressions, sets ... from hostile input), no duplicate map keys, text or
byte string map keys only, and shallow nesting. Every failure raises the caller's error class.
"""

from __future__ import annotations

import io
from typing import Any, NoReturn

import cbor2

#: Apple's objects nest three deep (map -> attStmt map -> x5c array).
MAX_DEPTH = 4

#: The semantic tags cbor2 decodes natively (as of cbor2 6.x). Each is overridden to fail; any other
#: tag reaches ``tag_hook``, which fails too.
_NATIVE_TAGS = (0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 100, 256, 258, 260, 261, 1004, 43000, 55799)


class _TagRejected(cbor2.CBORDecodeError):
    pass


def _reject_semantic(value: object, immutable: bool) -> NoReturn:
    raise _TagRejected("CBOR tags are not allowed")


def _reject_tag(tag: cbor2.CBORTag, immutable: bool) -> NoReturn:
    raise _TagRejected(f"CBOR tag {tag.tag} is not allowed")


#: A plain dict (never mutated): cbor2 takes a dict faster than a read-only mapping proxy.
_SEMANTIC_DECODERS: dict[int, Any] = dict.fromkeys(_NATIVE_TAGS, _reject_semantic)

#: What cbor2 (a compiled extension) may raise on hostile input besides its own error class.
_DECODE_ERRORS = (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError, MemoryError, LookupError)


def decode_cbor(data: bytes) -> object:
    """Decode exactly one strict CBOR data item; any failure is a :class:`CborError` with the reason."""
    stream = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            tag_hook=_reject_tag,
            semantic_decoders=_SEMANTIC_DECODERS,
            max_depth=MAX_DEPTH,
            allow_indefinite=False,
            allow_duplicate_keys=False,
            strict_hashable_types=True,
        )
        item = decoder.decode()
    except _DECODE_ERRORS as exc:
        raise CborError(str(exc) or type(exc).__name__) from None
    if stream.tell() != len(data):
        raise CborError(f"{len(data) - stream.tell()} bytes follow the CBOR data item")
    return item


class CborError(Exception):
    """The bytes are not one strict CBOR data item; callers translate it into their typed error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
