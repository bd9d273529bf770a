"""Received JWKs: strict base64url (RFC 7515 section 2) and the cache of checked public keys."""

from __future__ import annotations

import base64
import binascii
import re

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa
from hypothesis import given
from hypothesis import strategies as st

from attest.jwk import b64url, public_key_to_jwk
from attest.tokens.cnf import MAX_CACHED_JWK_CHARS, b64url_decode, check_public_jwk, jwk_members, load_public_jwk
from attest.tokens.errors import JwkMalformed, JwkPrivate

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def reference_decode(value: str) -> bytes:
    """The decoder as first written: the stdlib, then a re-encoding to refuse other spellings."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", value) or len(value) % 4 == 1:
        raise ValueError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error as error:
        raise ValueError("not base64url") from error
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != value:
        raise ValueError("non-canonical base64url")
    return raw


def outcome(decode: object, value: str) -> bytes | None:
    assert callable(decode)
    try:
        result = decode(value)
    except ValueError:
        return None
    assert isinstance(result, bytes)
    return result


@given(st.binary(max_size=80))
def test_round_trip(raw: bytes) -> None:
    assert b64url_decode(b64url(raw)) == raw


@given(st.text(alphabet=_ALPHABET + "=+/. \n\u00e9\u0660", max_size=12))
def test_same_verdicts_as_the_reference(value: str) -> None:
    assert outcome(b64url_decode, value) == outcome(reference_decode, value)


@pytest.mark.parametrize(
    "value",
    [
        "AB",  # 1 byte encoded with non-zero unused bits ("AA" is the canonical spelling)
        "AAB",  # 2 bytes, likewise ("AAA")
        "AA==",  # padding
        "AA=",
        "A",  # a lone sextet carries no whole byte
        "AA+A",  # base64, not base64url
        "AA/A",
        "AA A",
        "AA\nA",
        "\u0660\u0661",  # Unicode digits
    ],
)
def test_refused(value: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64url_decode(value)


def test_the_same_jwk_loads_to_the_same_checked_key() -> None:
    jwk = dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    key = load_public_jwk(jwk)
    assert load_public_jwk(dict(reversed(jwk.items()))) is key  # member order does not matter
    assert load_public_jwk({**jwk, "kid": "another"}) is not key  # every member is in the cache key
    assert load_public_jwk({**jwk, "kid": "another"}).public_numbers() == key.public_numbers()  # type: ignore[union-attr]


def test_a_cached_key_does_not_vouch_for_a_changed_one() -> None:
    jwk = dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    load_public_jwk(jwk)
    with pytest.raises(JwkPrivate):
        load_public_jwk({**jwk, "d": jwk["x"]})
    with pytest.raises(JwkMalformed, match="not a valid public key"):
        load_public_jwk({**jwk, "y": jwk["x"]})  # point off the curve
    with pytest.raises(JwkMalformed):
        load_public_jwk({**jwk, "crv": "P-384"})


def test_point_validation_is_not_skipped_on_a_second_try() -> None:
    jwk = dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    off_curve = {**jwk, "y": jwk["x"]}
    for _ in range(3):  # refusals are not cached as keys
        with pytest.raises(JwkMalformed):
            load_public_jwk(off_curve)


def test_members_that_are_not_strings_skip_the_cache() -> None:
    jwk = dict(public_key_to_jwk(ed25519.Ed25519PrivateKey.generate().public_key()))
    with_ops: dict[str, object] = {**jwk, "key_ops": ["verify"]}
    assert jwk_members(with_ops) is None
    assert jwk_members(jwk) == tuple(sorted(jwk.items()))
    assert isinstance(load_public_jwk(with_ops), ed25519.Ed25519PublicKey)
    with pytest.raises(JwkPrivate):
        load_public_jwk({**with_ops, "d": jwk["x"]})
    with pytest.raises(JwkMalformed):
        load_public_jwk({**jwk, "x": 7})
    with pytest.raises(JwkMalformed):
        load_public_jwk({1: "EC"})


def test_check_public_jwk_returns_a_read_only_copy() -> None:
    jwk = dict(public_key_to_jwk(mldsa.MLDSA44PrivateKey.generate().public_key()))
    checked = check_public_jwk(jwk)
    assert dict(checked) == jwk
    assert checked is not jwk
    with pytest.raises(TypeError):
        checked["kid"] = "x"  # type: ignore[index]


def test_oversized_jwks_are_checked_without_the_cache() -> None:
    jwk = dict(public_key_to_jwk(mldsa.MLDSA87PrivateKey.generate().public_key()))
    assert jwk_members({**jwk, "kid": "k" * 43}) is not None  # the largest key we meet is cached
    padded = {**jwk, "kid": "k" * MAX_CACHED_JWK_CHARS}
    assert jwk_members(padded) is None
    assert isinstance(load_public_jwk(padded), mldsa.MLDSA87PublicKey)
    with pytest.raises(JwkPrivate):
        load_public_jwk({**padded, "priv": "AAAA"})
