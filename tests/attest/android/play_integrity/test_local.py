"""Local decoding (classic requests): JWE A256KW + A256GCM around a JWS ES256, with our test keys."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwe, jws
from joserfc.jwk import ECKey, OctKey

from attest.android.play_integrity import LocalTokenDecoder, PlayIntegrityKeys, decode_integrity_token
from attest.android.play_integrity.local import MAX_TOKEN_LENGTH
from attest.errors import AttestationError, ConfigurationError
from tests.attest.android.play_integrity import factory as f

KEYS = f.TestKeys()


def code_of(token: str, keys: PlayIntegrityKeys | None = None) -> str:
    with pytest.raises(AttestationError) as caught:
        decode_integrity_token(token, keys or KEYS.keys())
    return caught.value.code


def test_classic_token_decodes_to_the_verdict() -> None:
    payload = f.payload(standard=False)
    verdict = decode_integrity_token(KEYS.token(payload), KEYS.keys())
    assert verdict.request_details.nonce == f.b64url(f.CHALLENGE)
    assert verdict.request_details.request_hash is None
    assert verdict.request_details.timestamp == f.NOW
    assert verdict.app_integrity.certificate_sha256_digests == (f.CERTIFICATE_DIGEST,)
    assert verdict.app_integrity.version_code == 42
    assert verdict.device_integrity.device_recognition_verdict == ("MEETS_BASIC_INTEGRITY", "MEETS_DEVICE_INTEGRITY")
    assert LocalTokenDecoder(KEYS.keys()).decode(KEYS.token(payload), package_name="ignored") == verdict


def test_a_token_made_by_joserfc_decodes_too() -> None:
    """Cross-check: our factory and joserfc agree on the serialization."""
    inner = jws.serialize_compact(
        {"alg": "ES256"}, json.dumps(f.payload()).encode(), ECKey.import_key(KEYS.signing_key), algorithms=["ES256"]
    )
    token = jwe.encrypt_compact(
        {"alg": "A256KW", "enc": "A256GCM"},
        inner,
        OctKey.import_key(KEYS.decryption_key),
        algorithms=["A256KW", "A256GCM"],
    )
    assert decode_integrity_token(token, KEYS.keys()).request_details.request_package_name == f.PACKAGE


def test_keys_as_the_play_console_gives_them(tmp_path: Path) -> None:
    urlsafe = base64.urlsafe_b64encode(KEYS.decryption_key).decode().rstrip("=")
    wrapped = "\n".join(
        KEYS.verification_key_base64[i : i + 64] for i in range(0, len(KEYS.verification_key_base64), 64)
    )
    assert PlayIntegrityKeys.from_base64(urlsafe, wrapped) == KEYS.keys()
    (tmp_path / "decryption.key").write_text(KEYS.decryption_key_base64 + "\n")
    (tmp_path / "verification.key").write_text(KEYS.verification_key_base64 + "\n")
    keys = PlayIntegrityKeys.from_files(tmp_path / "decryption.key", tmp_path / "verification.key")
    assert decode_integrity_token(KEYS.token(f.payload()), keys).request_details.request_hash is not None
    assert "decryption_key" not in repr(keys)


def _der(key: Any) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


@pytest.mark.parametrize(
    ("decryption", "verification"),
    [
        (base64.b64encode(b"k" * 16).decode(), KEYS.verification_key_base64),  # AES-128, not AES-256
        ("not base64 !", KEYS.verification_key_base64),
        (KEYS.decryption_key_base64, "bm90IGEga2V5"),
        (KEYS.decryption_key_base64, _der(ec.generate_private_key(ec.SECP384R1()).public_key())),
        (KEYS.decryption_key_base64, _der(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key())),
    ],
)
def test_unusable_keys_are_configuration_errors(decryption: str, verification: str) -> None:
    with pytest.raises(ConfigurationError):
        PlayIntegrityKeys.from_base64(decryption, verification)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        PlayIntegrityKeys.from_files(tmp_path / "absent", tmp_path / "absent")


def test_wrong_keys_and_tampering() -> None:
    token = KEYS.token(f.payload())
    other = f.TestKeys()
    assert code_of(token, PlayIntegrityKeys(other.decryption_key, KEYS.keys().verification_key)) == "integrity.decrypt"
    assert code_of(KEYS.token(f.payload(), corrupt_tag=True)) == "integrity.decrypt"
    # Encrypted with our key but signed by someone else: a forged verdict with a leaked decryption key.
    forged = f.encrypt(f.sign(f.payload(), other.signing_key), KEYS.decryption_key)
    assert code_of(forged) == "integrity.signature"
    # A signed verdict whose payload was edited afterwards.
    header, _body, signature = f.sign(f.payload(), KEYS.signing_key).split(".")
    edited = f.b64url(json.dumps(f.changed(f.payload(), "appIntegrity.versionCode", "43")).encode())
    assert code_of(f.encrypt(f"{header}.{edited}.{signature}", KEYS.decryption_key)) == "integrity.signature"
    # The protected header is authenticated data: changing it breaks the GCM tag.
    parts = token.split(".")
    parts[0] = f.b64url(json.dumps({"enc": "A256GCM", "alg": "A256KW"}).encode())
    assert code_of(".".join(parts)) == "integrity.decrypt"


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "dir", "enc": "A256GCM"},
        {"alg": "RSA-OAEP-256", "enc": "A256GCM"},
        {"alg": "A128KW", "enc": "A256GCM"},
        {"alg": "A256KW", "enc": "A128CBC-HS256"},
        {"alg": "A256KW", "enc": "A256GCM", "zip": "DEF"},
        {"alg": "A256KW", "enc": "A256GCM", "crit": ["exp"], "exp": 1},
        {"alg": "A256KW"},
        {"enc": "A256GCM"},
    ],
)
def test_jwe_header_allow_list(header: dict[str, Any]) -> None:
    assert code_of(KEYS.token(f.payload(), header=header)) == "integrity.malformed"


@pytest.mark.parametrize(
    "header",
    [{"alg": "none"}, {"alg": "HS256"}, {"alg": "ES384"}, {"alg": "ES256", "b64": False, "crit": ["b64"]}, {}],
)
def test_jws_header_allow_list(header: dict[str, Any]) -> None:
    assert code_of(KEYS.token(f.payload(), jws_header=header)) == "integrity.malformed"


def test_unsigned_inner_token_is_refused() -> None:
    protected = f.b64url(b'{"alg":"none"}')
    unsigned = f"{protected}.{f.b64url(json.dumps(f.payload()).encode())}."
    assert code_of(f.encrypt(unsigned, KEYS.decryption_key)) == "integrity.malformed"


def test_structure_is_checked_before_any_key() -> None:
    token = KEYS.token(f.payload())
    parts = token.split(".")
    assert code_of(".".join(parts[:4])) == "integrity.malformed"
    assert code_of(token + ".x") == "integrity.malformed"
    assert code_of(token + "=") == "integrity.malformed"
    assert code_of(" " + token) == "integrity.malformed"
    assert code_of("a" * (MAX_TOKEN_LENGTH + 1)) == "integrity.malformed"
    assert code_of("....") == "integrity.malformed"
    assert code_of(".".join([parts[0], parts[1][:-4], *parts[2:]])) == "integrity.malformed"  # wrapped key size
    assert code_of(".".join([*parts[:2], parts[2] + "AAAA", *parts[3:]])) == "integrity.malformed"  # IV size
    assert code_of(".".join([*parts[:4], parts[4][:-2]])) == "integrity.malformed"  # tag size
    assert code_of(".".join(["e30", *parts[1:]])) == "integrity.malformed"  # {} has no alg
    assert code_of(".".join([f.b64url(b"[1]"), *parts[1:]])) == "integrity.malformed"
    assert code_of(".".join([f.b64url(b"\xff{"), *parts[1:]])) == "integrity.malformed"
    # A last character with stray low bits is a second spelling of the same bytes: refused.
    tag = parts[4]
    twin = tag[:-1] + ("B" if tag[-1] == "A" else "A") if tag[-1] in "AB" else None
    if twin is not None:
        assert code_of(".".join([*parts[:4], twin])) == "integrity.malformed"


@pytest.mark.parametrize(
    "plaintext",
    [b"not a jws", b"a.b", "é.b.c".encode(), b"\xff\xfe", b"e30.e30.e30"],
)
def test_plaintext_that_is_not_a_jws(plaintext: bytes) -> None:
    assert code_of(f.encrypt(plaintext, KEYS.decryption_key)) == "integrity.malformed"


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"requestDetails": 1}', b'{"a": 1, "a": 2}', b"NaN"])
def test_signed_payload_that_is_not_a_verdict(body: bytes) -> None:
    assert code_of(KEYS.token(body)) == "integrity.malformed"


def test_unregistered_header_parameters_are_ignored() -> None:
    """RFC 7515 section 4: parameters a recipient does not understand are ignored (unless critical)."""
    token = KEYS.token(
        f.payload(),
        header={"alg": "A256KW", "enc": "A256GCM", "kid": "play-1", "x-google": 1},
        jws_header={"alg": "ES256", "typ": "JWT", "kid": "k", "x-google": [1]},
    )
    assert decode_integrity_token(token, KEYS.keys()).request_details.request_package_name == f.PACKAGE


@pytest.mark.parametrize(
    "options",
    [
        {"header": {"alg": "A256KW", "enc": "A256GCM", "kid": 7}},
        {"jws_header": {"alg": "ES256", "kid": ["k"]}},
        {"jws_header": {"alg": "ES256", "x5c": "not a list"}},
    ],
)
def test_registered_header_parameters_of_the_wrong_type_are_malformed(options: dict[str, Any]) -> None:
    assert code_of(KEYS.token(f.payload(), **options)) == "integrity.malformed"


def test_duplicate_header_members_are_malformed() -> None:
    """Two readers could pick different values of a repeated member: one token, one reading."""
    parts = KEYS.token(f.payload()).split(".")
    parts[0] = f.b64url(b'{"alg": "A256KW", "enc": "A256GCM", "enc": "A256GCM"}')
    assert code_of(".".join(parts)) == "integrity.malformed"
