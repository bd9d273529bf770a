"""Strict DER reading on top of asn1crypto's TLV parser (X.690 section 10).

asn1crypto parses BER leniently; attestation data must be DER, so each element read here is
also checked for definite, minimal lengths and minimal integer encodings. Functions raise
:class:`DerError` with a message naming what was expected; callers translate it into their
own typed error (``extension.malformed`` and so on).
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import parser

CLASS_UNIVERSAL = 0
CLASS_CONTEXT = 2

TAG_BOOLEAN = 1
TAG_INTEGER = 2
TAG_OCTET_STRING = 4
TAG_NULL = 5
TAG_ENUMERATED = 10
TAG_SEQUENCE = 16
TAG_SET = 17

#: Nesting bound for every reader here: no genuine structure is deeper, and it keeps
#: hostile input from driving deep recursion.
MAX_DEPTH = 16


class DerError(ValueError):
    """The bytes are not the DER structure the caller expected."""


@dataclass(frozen=True, slots=True)
class Element:
    """One DER element: its class, constructed flag, tag number and content octets."""

    class_: int
    constructed: bool
    tag: int
    contents: bytes
    encoded: bytes


def read_element(data: bytes) -> Element:
    """Read exactly one DER element from ``data``; trailing bytes are an error."""
    try:
        class_, method, tag, header, contents, trailer = parser.parse(data, strict=True)
    except (ValueError, TypeError) as exc:
        raise DerError(f"not a DER element: {exc}") from exc
    _check_definite_minimal_length(header, trailer)
    return Element(class_, method == 1, tag, contents, data)


def read_elements(contents: bytes) -> list[Element]:
    """Split the contents of a constructed element into its DER children."""
    out: list[Element] = []
    pointer = 0
    while pointer < len(contents):
        try:
            class_, method, tag, header, inner, trailer = parser.parse(contents[pointer:])
        except (ValueError, TypeError) as exc:
            raise DerError(f"truncated or invalid element inside a constructed value: {exc}") from exc
        _check_definite_minimal_length(header, trailer)
        encoded = header + inner + trailer
        out.append(Element(class_, method == 1, tag, inner, encoded))
        pointer += len(encoded)
    return out


def _check_definite_minimal_length(header: bytes, trailer: bytes) -> None:
    if trailer:
        raise DerError("indefinite length encoding is not DER")
    # The length octets follow the identifier octets; find where the identifier ends.
    index = 1
    if header[0] & 0x1F == 0x1F:
        while header[index] & 0x80:
            index += 1
        index += 1
        if header[1] == 0x80:
            raise DerError("tag number is not minimally encoded")
    first = header[index]
    if first & 0x80:
        length_octets = header[index + 1 :]
        if first == 0x80:
            raise DerError("indefinite length encoding is not DER")
        if length_octets[0] == 0 or (len(length_octets) == 1 and length_octets[0] < 0x80):
            raise DerError("length is not minimally encoded")


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
    if not contents:
        raise DerError(f"{what}: empty integer")
    if len(contents) > 1 and (
        (contents[0] == 0x00 and contents[1] < 0x80) or (contents[0] == 0xFF and contents[1] >= 0x80)
    ):
        raise DerError(f"{what}: integer is not minimally encoded")
    return int.from_bytes(contents, "big", signed=True)


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


def explicit_inner(element: Element, what: str) -> Element:
    """The single element inside an EXPLICIT context-specific tag."""
    if element.class_ != CLASS_CONTEXT or not element.constructed:
        raise DerError(f"{what}: expected an explicit context-specific tag")
    return read_element(element.contents)
