"""Strict DER reading (X.690 sections 8.1 and 10.1).

A small, allocation-light reader of identifier and length octets: definite lengths only, in their
shortest form, tag numbers in their shortest form, no trailing bytes. It is the hot path of every
attestation, so it avoids copying; its behaviour is cross-checked against asn1crypto's parser in
``tests/attest/test_der.py``. Functions raise :class:`DerError` with a message naming what was
expected; callers translate it into their own typed error (``extension.malformed`` and so on).
"""

from __future__ import annotations

from typing import NamedTuple

CLASS_UNIVERSAL = 0
CLASS_CONTEXT = 2

TAG_BOOLEAN = 1
TAG_INTEGER = 2
TAG_OCTET_STRING = 4
TAG_NULL = 5
TAG_ENUMERATED = 10
TAG_SEQUENCE = 16
TAG_SET = 17

#: Identifier octets (X.690 section 8.1.2) of those types: for universal tags below 31 the one DER
#: encoding, so an offset-based decoder compares a single octet.
ID_BOOLEAN = 0x01
ID_INTEGER = 0x02
ID_OCTET_STRING = 0x04
ID_NULL = 0x05
ID_ENUMERATED = 0x0A
ID_SEQUENCE = 0x30
ID_SET = 0x31

#: No genuine attestation structure has a tag number or a length this large.
_MAX_TAG_NUMBER = 1 << 28
_MAX_LENGTH_OCTETS = 4


class DerError(ValueError):
    """The bytes are not the DER structure the caller expected."""


class Element(NamedTuple):
    """One DER element: its class, constructed flag, tag number and content octets."""

    class_: int
    constructed: bool
    tag: int
    contents: bytes


_new_element = tuple.__new__


def read_element(data: bytes) -> Element:
    """Read exactly one DER element from ``data``; trailing bytes are an error."""
    element, end = _read(data, 0)
    if end != len(data):
        raise DerError(f"{len(data) - end} bytes of trailing data after the element")
    return element


def read_elements(contents: bytes) -> list[Element]:
    """Split the contents of a constructed element into its DER children."""
    out: list[Element] = []
    offset = 0
    while offset < len(contents):
        element, offset = _read(contents, offset)
        out.append(element)
    return out


def _read(data: bytes, offset: int) -> tuple[Element, int]:
    """Read the element starting at ``offset``; return it and the offset after it."""
    identifier, tag, start, end = read_header(data, offset, len(data))
    # tuple.__new__ skips NamedTuple's Python-level __new__: this runs for every element parsed.
    return _new_element(Element, (identifier >> 6, bool(identifier & 0x20), tag, data[start:end])), end


def read_header(data: bytes, offset: int, limit: int) -> tuple[int, int, int, int]:
    """Read the identifier and length octets of the element at ``offset``, which must end by ``limit``
    (X.690 sections 8.1.2, 8.1.3 and 10.1). Returns the identifier octet, the tag number, and where the
    contents start and end: decoders walk one buffer by offsets instead of slicing every element."""
    if offset + 2 > limit:
        raise DerError("truncated element header")
    identifier = data[offset]
    tag = identifier & 0x1F
    length = data[offset + 1]
    if tag != 0x1F and length < 0x80:  # the common case: low tag number, short-form length
        end = offset + 2 + length
        if end > limit:
            raise DerError(f"element claims {length} content bytes, {limit - offset - 2} remain")
        return identifier, tag, offset + 2, end
    offset += 1
    if tag == 0x1F:  # high tag number form (X.690 section 8.1.2.4)
        if data[offset] == 0x80:
            raise DerError("tag number is not minimally encoded")
        tag = 0
        while True:
            if offset >= limit:
                raise DerError("truncated tag number")
            octet = data[offset]
            offset += 1
            tag = (tag << 7) | (octet & 0x7F)
            if tag > _MAX_TAG_NUMBER:
                raise DerError("tag number too large")
            if not octet & 0x80:
                break
        if tag < 0x1F:
            raise DerError("tag number is not minimally encoded")
    if offset >= limit:
        raise DerError("truncated length")
    length = data[offset]
    offset += 1
    if length & 0x80:  # long form (X.690 section 8.1.3.5); DER forbids indefinite (10.1)
        count = length & 0x7F
        if count == 0:
            raise DerError("indefinite length encoding is not DER")
        if count > _MAX_LENGTH_OCTETS or offset + count > limit:
            raise DerError("invalid length octets")
        if data[offset] == 0:
            raise DerError("length is not minimally encoded")
        length = int.from_bytes(data[offset : offset + count], "big")
        if length < 0x80:
            raise DerError("length is not minimally encoded")
        offset += count
    end = offset + length
    if end > limit:
        raise DerError(f"element claims {length} content bytes, {limit - offset} remain")
    return identifier, tag, offset, end


def expect(element: Element, tag: int, *, constructed: bool, what: str) -> Element:
    """Check that ``element`` is the universal type ``tag``."""
    if element.class_ != CLASS_UNIVERSAL or element.tag != tag or element.constructed != constructed:
        raise DerError(f"{what}: expected universal tag {tag}, found class {element.class_} tag {element.tag}")
    return element


def sequence_items(element: Element, what: str) -> list[Element]:
    return read_elements(expect(element, TAG_SEQUENCE, constructed=True, what=what).contents)


def set_items(element: Element, what: str) -> list[Element]:
    return read_elements(expect(element, TAG_SET, constructed=True, what=what).contents)


def _integer_value(contents: bytes, what: str) -> int:
    return integer_contents(contents, 0, len(contents), what)


def integer_contents(data: bytes, start: int, end: int, what: str) -> int:
    """The value of INTEGER or ENUMERATED contents ``data[start:end]``: non-empty, in their shortest
    form (X.690 section 8.3.2)."""
    if start == end:
        raise DerError(f"{what}: empty integer")
    if end - start > 1:
        first, second = data[start], data[start + 1]
        if (first == 0x00 and second < 0x80) or (first == 0xFF and second >= 0x80):
            raise DerError(f"{what}: integer is not minimally encoded")
    return int.from_bytes(data[start:end], "big", signed=True)


def integer(element: Element, what: str) -> int:
    return _integer_value(expect(element, TAG_INTEGER, constructed=False, what=what).contents, what)


def enumerated(element: Element, what: str) -> int:
    return _integer_value(expect(element, TAG_ENUMERATED, constructed=False, what=what).contents, what)


def octet_string(element: Element, what: str) -> bytes:
    return expect(element, TAG_OCTET_STRING, constructed=False, what=what).contents


def null(element: Element, what: str) -> None:
    if expect(element, TAG_NULL, constructed=False, what=what).contents:
        raise DerError(f"{what}: NULL with contents")


def boolean(element: Element, what: str, *, allow_ber_true: bool = False) -> bool:
    """DER BOOLEAN: 0x00 false, 0xFF true. ``allow_ber_true`` also reads any other non-zero
    octet as true (BER, X.690 section 8.2.2), for fields where genuine devices are known to
    emit it."""
    contents = expect(element, TAG_BOOLEAN, constructed=False, what=what).contents
    if len(contents) != 1:
        raise DerError(f"{what}: BOOLEAN must be one octet")
    if contents[0] == 0x00:
        return False
    if contents[0] == 0xFF or allow_ber_true:
        return True
    raise DerError(f"{what}: BOOLEAN true must be 0xFF in DER, found 0x{contents[0]:02x}")


def unexpected(identifier: int, tag: int, expected: int, what: str) -> DerError:
    """The error for an element whose identifier octet is not ``expected`` (worded as :func:`expect`'s)."""
    return DerError(f"{what}: expected universal tag {expected & 0x1F}, found class {identifier >> 6} tag {tag}")


def explicit_inner(element: Element, what: str) -> Element:
    """The single element inside an EXPLICIT context-specific tag."""
    if element.class_ != CLASS_CONTEXT or not element.constructed:
        raise DerError(f"{what}: expected an explicit context-specific tag")
    return read_element(element.contents)
