"""Fuzz target: the strict DER reader, :func:`attest.der.read_element` and the children of every
constructed element, down to the primitives (read with the typed readers the decoders use).

Its documented error is :class:`attest.der.DerError` (callers translate it into their typed
errors). Oracle beyond "no other exception": every element the strict reader accepts, asn1crypto's
parser reads with the same class, form, tag number and contents. The converse does not hold by
design (asn1crypto also reads BER, which the strict reader refuses), so it is not checked.
"""

from __future__ import annotations

import contextlib

from asn1crypto import parser

from attest import der

EXPECTED_ERRORS: tuple[type[Exception], ...] = (der.DerError,)

#: Deeper than any structure we decode (KeyDescription nests about six levels); bounds the walk.
MAX_DEPTH = 32

_TYPED_READERS = {
    der.TAG_BOOLEAN: der.boolean,
    der.TAG_INTEGER: der.integer,
    der.TAG_ENUMERATED: der.enumerated,
    der.TAG_OCTET_STRING: der.octet_string,
    der.TAG_NULL: der.null,
}


def check(data: bytes) -> der.Element:
    element = der.read_element(data)
    _same_as_reference(data, element)
    _walk(element, depth=0)
    return element


def _walk(element: der.Element, depth: int) -> None:
    if element.constructed:
        if depth >= MAX_DEPTH:
            return
        children = der.read_elements(element.contents)
        _same_children_as_reference(element.contents, children)
        for child in children:
            _walk(child, depth + 1)
        if element.class_ == der.CLASS_CONTEXT:
            with contextlib.suppress(der.DerError):  # EXPLICIT tags wrap exactly one element
                der.explicit_inner(element, "explicit")
        return
    reader = _TYPED_READERS.get(element.tag) if element.class_ == der.CLASS_UNIVERSAL else None
    if reader is not None:
        with contextlib.suppress(der.DerError):  # a malformed primitive is an expected verdict
            reader(element, "primitive")


def _same_as_reference(data: bytes, element: der.Element) -> None:
    reference, consumed = _reference(data, strict=True)
    observed = (element.class_, element.constructed, element.tag, element.contents)
    if reference != observed or consumed != len(data):
        raise AssertionError(f"asn1crypto reads {reference!r} ({consumed} bytes), the strict reader {observed!r}")


def _same_children_as_reference(contents: bytes, children: list[der.Element]) -> None:
    offset = 0
    for index, child in enumerate(children):
        reference, consumed = _reference(contents[offset:], strict=False)
        if reference != (child.class_, child.constructed, child.tag, child.contents):
            raise AssertionError(f"child {index}: asn1crypto reads {reference!r}, the strict reader {child!r}")
        offset += consumed
    if offset != len(contents):
        raise AssertionError(f"the children cover {offset} of {len(contents)} content bytes")


def _reference(data: bytes, *, strict: bool) -> tuple[tuple[int, bool, int, bytes], int]:
    """asn1crypto's reading of the first element of ``data`` and how many bytes it spans."""
    try:
        class_, method, tag, header, contents, trailer = parser.parse(data, strict=strict)
    except ValueError as exc:
        raise AssertionError(f"the strict reader accepted what asn1crypto refuses: {exc}") from exc
    if trailer:
        raise AssertionError("the strict reader accepted an indefinite length")
    return (class_, method == 1, tag, contents), len(header) + len(contents)


def TestOneInput(data: bytes) -> None:
    with contextlib.suppress(*EXPECTED_ERRORS):
        check(data)


if __name__ == "__main__":
    from fuzz.engine import fuzz

    fuzz(TestOneInput)
