"""CBOR reading for the WebAuthn structures that carry it (attestationObject, the credential public
key, extension outputs): RFC 8949 through cbor2, with the limits of CTAP2's canonical form.

Authenticators write CTAP2 canonical CBOR (CTAP 2.1 section 8, "Message Encoding"): definite lengths,
no duplicate map keys, no tags, shallow nesting. Anything else is refused, so that a crafted value
cannot make two readers see two different structures, or spend memory and stack on deep or endless
nesting. Refusing every tag also keeps cbor2's semantic decoders (dates, regular expressions, shared
references that build cyclic values) away from input.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

import cbor2

#: Deepest nesting of any WebAuthn structure we read is four (attestationObject > attStmt > x5c >
#: certificate); extension outputs may nest a little more.
MAX_DEPTH = 16


class CborError(ValueError):
    """The bytes are not one well-formed CBOR item within the limits."""


def _refuse_tag(*_: object) -> NoReturn:
    raise CborError("CBOR tags do not occur in CTAP2 canonical CBOR")


class _NoTags(Mapping[int, Any]):
    """cbor2's semantic decoders by tag number: for every tag, one that refuses it."""

    def __getitem__(self, tag: int) -> Any:
        return _refuse_tag

    def __contains__(self, tag: object) -> bool:
        return True

    def __iter__(self) -> Iterator[int]:
        return iter(())

    def __len__(self) -> int:
        return 0


_NO_TAGS = _NoTags()


def decode_prefix(data: bytes, offset: int = 0) -> tuple[Any, int]:
    """The CBOR item starting at ``offset`` and the offset just after it (authenticatorData concatenates
    items without lengths, section 6.1, so the reader must say where each one ended)."""
    stream = io.BytesIO(data)
    stream.seek(offset)
    decoder = cbor2.CBORDecoder(
        stream,
        semantic_decoders=_NO_TAGS,
        tag_hook=_refuse_tag,
        max_depth=MAX_DEPTH,
        allow_indefinite=False,
        allow_duplicate_keys=False,
    )
    try:
        item = decoder.decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, EOFError, RecursionError, MemoryError) as exc:
        raise CborError(f"not well-formed CBOR: {type(exc).__name__}") from None
    return item, stream.tell()


def decode_exact(data: bytes) -> Any:
    """The one CBOR item that is all of ``data`` (no trailing bytes)."""
    item, end = decode_prefix(data)
    if end != len(data):
        raise CborError(f"{len(data) - end} bytes follow the CBOR item")
    return item
