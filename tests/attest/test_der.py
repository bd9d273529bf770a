"""The strict DER reader, cross-checked against asn1crypto's parser as the reference."""

from __future__ import annotations

import pytest
from asn1crypto import parser
from hypothesis import given, settings
from hypothesis import strategies as st

from attest import der


def reference(data: bytes) -> tuple[int, bool, int, bytes] | None:
    """asn1crypto's reading of one element, or None where it is not strict DER."""
    try:
        class_, method, tag, header, contents, trailer = parser.parse(data, strict=True)
    except (ValueError, TypeError):
        return None
    if trailer:  # indefinite length: BER, not DER
        return None
    if tag > 1 << 28:  # our deliberate bound on tag numbers (no schema we read comes near it)
        return None
    index = 1
    if header[0] & 0x1F == 0x1F:
        if header[1] == 0x80 or tag < 0x1F:  # tag number not in its shortest form
            return None
        while header[index] & 0x80:
            index += 1
        index += 1
    if header[index] & 0x80:  # long-form length: DER wants the shortest form
        long_form = header[index + 1 :]
        if long_form[0] == 0 or (len(long_form) == 1 and long_form[0] < 0x80):
            return None
    return class_, method == 1, tag, contents


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.builds(
            lambda ident, length, body: bytes([ident]) + length + body,
            st.integers(0, 255),
            st.sampled_from([b"\x00", b"\x01", b"\x03", b"\x7f", b"\x80", b"\x81\x03", b"\x81\x80", b"\x82\x00\x03"]),
            st.binary(max_size=8),
        ),
        st.builds(lambda tagged: b"\xbf" + tagged, st.binary(max_size=12)),
    )
)
def test_reader_agrees_with_asn1crypto(data: bytes) -> None:
    expected = reference(data)
    try:
        element = der.read_element(data)
    except der.DerError:
        assert expected is None
        return
    assert expected == (element.class_, element.constructed, element.tag, element.contents)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x30\x80\x00\x00", "indefinite"),
        (b"\x04\x81\x01\x00", "minimally"),
        (b"\x04\x82\x00\x01\x00", "minimally"),
        (b"\xbf\x80\x01\x00", "tag number"),
        (b"\xbf\x1e\x00", "tag number"),
        (b"\x04\x05abc", "claims"),
        (b"\x04\x01ab", "trailing"),
        (b"\x04", "truncated"),
    ],
)
def test_non_der_encodings_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(der.DerError, match=message):
        der.read_element(data)


def test_high_tag_numbers() -> None:
    element = der.read_element(bytes.fromhex("bf854003020101"))
    assert (element.class_, element.constructed, element.tag) == (der.CLASS_CONTEXT, True, 704)
    assert der.integer(der.explicit_inner(element, "x"), "x") == 1


@pytest.mark.parametrize(
    ("contents", "value"),
    [(b"\x00", 0), (b"\x7f", 127), (b"\x00\x80", 128), (b"\xff", -1), (b"\xff\x7f", -129)],
)
def test_integers(contents: bytes, value: int) -> None:
    assert der.integer(der.read_element(b"\x02" + bytes([len(contents)]) + contents), "n") == value


@pytest.mark.parametrize("contents", [b"", b"\x00\x01", b"\xff\x80"])
def test_non_minimal_integers_are_rejected(contents: bytes) -> None:
    with pytest.raises(der.DerError):
        der.integer(der.read_element(b"\x02" + bytes([len(contents)]) + contents), "n")


def test_booleans() -> None:
    assert der.boolean(der.read_element(b"\x01\x01\xff"), "b") is True
    assert der.boolean(der.read_element(b"\x01\x01\x00"), "b") is False
    with pytest.raises(der.DerError, match="0xFF"):
        der.boolean(der.read_element(b"\x01\x01\x01"), "b")
    assert der.boolean(der.read_element(b"\x01\x01\x01"), "b", allow_ber_true=True) is True
    with pytest.raises(der.DerError):
        der.boolean(der.read_element(b"\x01\x02\x00\x00"), "b", allow_ber_true=True)
