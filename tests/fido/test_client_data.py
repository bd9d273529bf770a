"""fido.client_data: clientDataJSON is read as ``json.JSONDecoder.decode`` reads it (section 7.2 steps
8-9), whitespace around the value included, with a repeated member name refused at any depth."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest.errors import AttestationError
from fido.client_data import GET, _json_document, parse_client_data

CHALLENGE = "AAECAwQFBgcICQoLDA0ODw"
MEMBERS = f'"type":"{GET}","challenge":"{CHALLENGE}","origin":"https://example.com"'


def reference_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The duplicate-refusing hook as it was."""
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise ValueError(f"member {name[:40]!r} appears twice")
        members[name] = value
    return members


REFERENCE = json.JSONDecoder(object_pairs_hook=reference_members)


def outcome(read: Any, text: str) -> tuple[str, object]:
    try:
        return "value", read(text)
    except ValueError:
        return "refused", None


@pytest.mark.parametrize("padding", ["", " ", "\n", "\t\r\n ", "  \n"])
def test_whitespace_around_the_value_is_allowed(padding: str) -> None:
    client_data = parse_client_data(f"{padding}{{{MEMBERS}}}{padding}".encode())
    assert client_data.type == GET
    assert client_data.origin == "https://example.com"


@pytest.mark.parametrize(
    "text",
    [
        f"{{{MEMBERS}}} x",
        f"{{{MEMBERS}}}{{}}",
        f"{{{MEMBERS}}}\x0b",
        f"\x0c{{{MEMBERS}}}",
        f"\u00a0{{{MEMBERS}}}",
        f'{{{MEMBERS},"type":"{GET}"}}',
        f'{{{MEMBERS},"tokenBinding":{{"status":"supported","status":"present"}}}}',
        "",
        " ",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(AttestationError) as raised:
        parse_client_data(text.encode())
    assert raised.value.code == "webauthn.client_data"


JSON_PIECES = st.sampled_from(['{"a":1', ',"a":2', ',"b":[]', "}", "]", "[", " ", "\n", "\t", "\r", "\x0b", "x", '""'])


@settings(max_examples=1000, deadline=None)
@given(
    text=st.lists(JSON_PIECES, max_size=8).map("".join)
    | st.text(alphabet=st.sampled_from('{}[]":,ab12 \t\n\r\x0b'), max_size=30)
)
def test_json_is_read_as_json_decoder_reads_it(text: str) -> None:
    assert outcome(_json_document, text) == outcome(REFERENCE.decode, text)
