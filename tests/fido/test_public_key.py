"""fido.public_key: a stored key is decoded and validated once per distinct COSE_Key, a remembered key is
what a fresh load returns under every allow-list, and signatures are checked as py_webauthn checks them
(section 6.3.3, section 7.2 step 21)."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest
from cryptography.exceptions import InvalidSignature
from webauthn.helpers import decode_credential_public_key, decoded_public_key_to_cryptography, verify_signature

from attest.errors import AttestationError
from fido import public_key as public_key_module
from fido.public_key import ES256 as ES256_ID
from fido.public_key import KEY_CACHE_SIZE, load_public_key
from tests.fido.authenticator import EDDSA, ES256, RS256, cose_key, generate_key, sign

ALGORITHMS = [ES256, EDDSA, RS256]
#: A P-256 "key" whose point is not on the curve.
OFF_CURVE = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: b"\x01" * 32, -3: b"\x02" * 32})


def counting_loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record every conversion of a decoded COSE_Key into a key object (where the point is validated)."""
    loads: list[object] = []

    def load(decoded: Any) -> Any:
        loads.append(decoded)
        return decoded_public_key_to_cryptography(decoded)

    monkeypatch.setattr(public_key_module, "decoded_public_key_to_cryptography", load)
    return loads


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_key_is_validated_once(alg: int, monkeypatch: pytest.MonkeyPatch) -> None:
    cose = cose_key(generate_key(alg), alg)
    loads = counting_loads(monkeypatch)
    first = load_public_key(cose)
    # Equal bytes read again from storage are another object: the key is found by value.
    again = load_public_key(bytes(bytearray(cose)))
    assert again is first
    assert len(loads) == 1


def test_a_narrower_allow_list_still_refuses_a_remembered_key() -> None:
    cose = cose_key(generate_key(RS256), RS256)
    load_public_key(cose)
    with pytest.raises(AttestationError) as raised:
        load_public_key(cose, (ES256_ID,))
    assert raised.value.code == "webauthn.algorithm"
    assert load_public_key(cose).algorithm == RS256


def test_a_refused_key_is_refused_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    loads = counting_loads(monkeypatch)
    for _ in range(2):
        with pytest.raises(AttestationError) as raised:
            load_public_key(OFF_CURVE)
        assert raised.value.code == "webauthn.public_key"
    assert len(loads) == 2


def test_mutable_bytes_are_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    cose = bytearray(cose_key(generate_key(ES256), ES256))
    loads = counting_loads(monkeypatch)
    first = load_public_key(cose)  # type: ignore[arg-type]
    # Changed in place after use: the next load must read the new bytes, not a remembered key.
    cose[:] = OFF_CURVE
    with pytest.raises(AttestationError):
        load_public_key(cose)  # type: ignore[arg-type]
    assert len(loads) == 2
    assert first.algorithm == ES256


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [cose_key(generate_key(EDDSA), EDDSA) for _ in range(KEY_CACHE_SIZE + 1)]
    for cose in keys:
        load_public_key(cose)
    loads = counting_loads(monkeypatch)
    load_public_key(keys[-1])
    assert loads == []
    # The least recently used key was let go, and is loaded again.
    load_public_key(keys[0])
    assert len(loads) == 1


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_signatures_are_checked_as_py_webauthn_checks_them(alg: int) -> None:
    private = generate_key(alg)
    cose = cose_key(private, alg)
    key = load_public_key(cose)
    decoded = decode_credential_public_key(cose)
    reference = decoded_public_key_to_cryptography(decoded)
    data = b"authenticatorData" + bytes(32)
    signature = sign(private, data)
    altered = bytearray(signature)
    altered[-1] ^= 0x01
    for candidate, message in [
        (signature, data),
        (bytes(altered), data),
        (signature, data + b"\x00"),
        (b"", data),
        (signature[:-1], data),
    ]:
        try:
            verify_signature(public_key=reference, signature_alg=decoded.alg, signature=candidate, data=message)
            expected = True
        except InvalidSignature:
            expected = False
        assert key.verify(candidate, message) is expected
    assert key.verify(signature, data)
