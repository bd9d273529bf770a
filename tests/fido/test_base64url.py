"""fido.base64url: the translate-based decoder reads exactly what the regular-expression decoder it
replaced read (alphabets, padding, canonical last character, size bound), on every short string over
the characters that matter and on random ones."""

from __future__ import annotations

import base64
import binascii
import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fido import base64url

# --- the decoder as it was (the oracle) ---------------------------------------------------------------

_URL_SAFE = re.compile(r"[A-Za-z0-9_-]*")
_STANDARD = re.compile(r"[A-Za-z0-9+/]*")
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_VALUE = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")} | {
    "-": 62,
    "_": 63,
    "+": 62,
    "/": 63,
}
_UNUSED_BITS = {0: 0x00, 2: 0x0F, 3: 0x03}


def reference_decode(text: object, *, max_bytes: int) -> bytes | None:
    """``fido.base64url.decode`` before it was rewritten without regular expressions."""
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
    if remainder and _VALUE[body[-1]] & _UNUSED_BITS[remainder]:
        return None
    raw = binascii.a2b_base64(standard + b"=" * (-len(body) % 4))
    return raw if len(raw) <= max_bytes else None


# --- inputs -------------------------------------------------------------------------------------------

#: Values 0, 1, 16, 32, 48 and 60 (zero or not in each group of unused bits), both alphabets' 62 and
#: 63, padding, whitespace, a non-ASCII letter and digit, NUL.
EDGE_CHARACTERS = "ABQgw8-_+/= \né\u0661\x00"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/="


def spellings(data: bytes) -> list[str]:
    """Every way a client could write ``data``: base64url or standard, padded or not."""
    standard = base64.b64encode(data).decode("ascii")
    url_safe = base64.urlsafe_b64encode(data).decode("ascii")
    return [standard, standard.rstrip("="), url_safe, url_safe.rstrip("=")]


def test_every_short_string_is_read_as_before() -> None:
    for length in range(5):
        for characters in itertools.product(EDGE_CHARACTERS, repeat=length):
            text = "".join(characters)
            for max_bytes in (0, 1, 2, 3):
                assert base64url.decode(text, max_bytes=max_bytes) == reference_decode(text, max_bytes=max_bytes), (
                    text,
                    max_bytes,
                )


@settings(max_examples=2000, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(ALPHABET + EDGE_CHARACTERS) | st.characters(), max_size=80),
    max_bytes=st.integers(min_value=0, max_value=64),
)
def test_random_strings_are_read_as_before(text: str, max_bytes: int) -> None:
    assert base64url.decode(text, max_bytes=max_bytes) == reference_decode(text, max_bytes=max_bytes)


@settings(max_examples=1000, deadline=None)
@given(
    data=st.binary(max_size=70),
    spelling=st.integers(min_value=0, max_value=3),
    position=st.integers(min_value=0),
    replacement=st.sampled_from(ALPHABET + EDGE_CHARACTERS),
    max_bytes=st.integers(min_value=0, max_value=72),
)
def test_encodings_with_one_character_changed_are_read_as_before(
    data: bytes, spelling: int, position: int, replacement: str, max_bytes: int
) -> None:
    text = spellings(data)[spelling]
    if text:
        index = position % len(text)
        text = text[:index] + replacement + text[index + 1 :]
    assert base64url.decode(text, max_bytes=max_bytes) == reference_decode(text, max_bytes=max_bytes)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=300))
def test_every_spelling_of_a_value_decodes_to_it(data: bytes) -> None:
    for text in spellings(data):
        assert base64url.decode(text, max_bytes=len(data)) == data
    if data:
        assert base64url.decode(spellings(data)[3], max_bytes=len(data) - 1) is None


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=300))
def test_encode_is_unpadded_base64url(data: bytes) -> None:
    assert base64url.encode(data) == base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.mark.parametrize("text", [b"AAAA", bytearray(b"AAAA"), 4, None, ["AAAA"]])
def test_only_strings_are_read(text: object) -> None:
    assert base64url.decode(text, max_bytes=16) is None
    assert reference_decode(text, max_bytes=16) is None


@pytest.mark.parametrize("text", ["-_+/", "+/-_", "AA-+", "AA_/"])
def test_alphabets_are_not_mixed(text: str) -> None:
    assert base64url.decode(text, max_bytes=16) is None
