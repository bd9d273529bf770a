"""Relying-party configuration (origins, Android app origins, RP ID), its settings and production rules,
strict base64url, and the signed login result."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from attest.tokens.keys import KeyRing
from fido import base64url
from fido.errors import LoginTokenInvalid
from fido.login_token import issue_login_token, verify_login_token
from fido.relying_party import RelyingParty, apk_key_hash_origin, check_rp_id, web_origin
from tests.attest.server.service import make_settings

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://Example.COM", "https://example.com"),
        ("https://example.com:443/", "https://example.com"),
        ("https://example.com:8443", "https://example.com:8443"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://localhost:80", "http://localhost"),
    ],
)
def test_web_origins_are_normalized(value: str, origin: str) -> None:
    assert web_origin(value) == origin


@pytest.mark.parametrize(
    "value",
    [
        "example.com",
        "ftp://example.com",
        "https://user@example.com",
        "https://example.com/path",
        "https://",
        "https://e x",
    ],
)
def test_malformed_web_origins_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="origin"):
        web_origin(value)


def test_android_origins_from_base64url_or_colon_hex() -> None:
    digest = bytes(range(32))
    expected = "android:apk-key-hash:" + base64url.encode(digest)
    assert apk_key_hash_origin(base64url.encode(digest)) == expected
    assert apk_key_hash_origin(":".join(f"{byte:02X}" for byte in digest)) == expected
    assert apk_key_hash_origin(expected) == expected
    for bad in ("AAAA", "zz:" * 31 + "zz", base64url.encode(bytes(31))):
        with pytest.raises(ValueError, match="SHA-256"):
            apk_key_hash_origin(bad)


def test_rp_id_is_a_bare_domain() -> None:
    assert check_rp_id(" Example.com ") == "example.com"
    for bad in ("https://example.com", "example.com:443", "", "exa mple.com"):
        with pytest.raises(ValueError, match="RP ID"):
            check_rp_id(bad)


def test_related_origins_only_with_several_web_origins() -> None:
    app = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
    one = RelyingParty.configure(
        rp_id="example.com", name="E", web_origins=["https://example.com"], apk_key_hashes=[app]
    )
    assert one.related_origins() is None
    two = RelyingParty.configure(
        rp_id="example.com", name="E", web_origins=["https://example.com", "https://example.de"], apk_key_hashes=[app]
    )
    assert two.related_origins() == {"origins": ["https://example.com", "https://example.de"]}
    assert f"android:apk-key-hash:{app}" in two.origins


def test_settings_validate_and_normalize(tmp_path: Path) -> None:
    settings = make_settings(
        "sqlite://",
        tmp_path,
        rp_id="Example.com",
        rp_origins=" https://example.com/ ,https://login.example.com",
        android_apk_key_hashes="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    )
    assert settings.rp_id == "example.com"
    assert settings.rp_origin_list == ["https://example.com", "https://login.example.com"]
    assert settings.apk_key_hash_list == ["android:apk-key-hash:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"]
    for bad in ({"rp_origins": "example.com"}, {"android_apk_key_hashes": "nope"}, {"rp_id": "https://x"}):
        with pytest.raises(ValidationError):
            make_settings("sqlite://", tmp_path, **bad)


def test_production_refuses_http_origins_other_than_localhost(tmp_path: Path) -> None:
    production = {"env": "production", "rp_origins": "http://example.com,https://example.com,http://localhost:8000"}
    problems = make_settings("sqlite://", tmp_path, **production).production_problems()
    assert [problem for problem in problems if "RP_ORIGINS" in problem] == [
        "ATTEST_RP_ORIGINS must be https:// in production (or localhost): http://example.com"
    ]
    development = make_settings("sqlite://", tmp_path, rp_origins="http://example.com")
    assert development.production_problems() == []


@pytest.mark.parametrize(
    "text",
    ["AAE", "AAE=", "AQ==", "-_8", "+/8", "+/8="],
)
def test_base64url_accepts_canonical_values(text: str) -> None:
    assert base64url.decode(text, max_bytes=16) is not None


@pytest.mark.parametrize(
    "text",
    ["A", "AAF", "AB==", "A=", "AA=", "AAA==", "-/8", "a b", "AA\n", "AAAA====", "é", 5, None],
)
def test_base64url_refuses_everything_else(text: object) -> None:
    assert base64url.decode(text, max_bytes=16) is None


def test_base64url_size_bound() -> None:
    assert base64url.decode(base64url.encode(bytes(16)), max_bytes=16) == bytes(16)
    assert base64url.decode(base64url.encode(bytes(17)), max_bytes=16) is None


# --- the login result --------------------------------------------------------------------------------


def login_token(**changes: object) -> tuple[str, Mapping[str, object]]:
    ring = KeyRing.bootstrap(now=NOW)
    arguments: dict[str, object] = {
        "key": ring.active(),
        "issuer": "https://attest.example",
        "user_id": "user-1",
        "credential_id": b"\x01" * 16,
        "backup_eligible": False,
        "auth_time": NOW,
        "ttl": timedelta(minutes=2),
        "now": NOW,
    }
    arguments.update(changes)
    return issue_login_token(**arguments), ring.jwks(NOW)  # type: ignore[arg-type]


def test_login_token_round_trip() -> None:
    token, jwks = login_token(audience="https://as.example")
    result = verify_login_token(token, jwks, issuer="https://attest.example", now=NOW, audience="https://as.example")
    assert (result.user_id, result.credential_id, result.amr) == ("user-1", b"\x01" * 16, ("hwk", "user"))


@pytest.mark.parametrize(
    ("verify_changes", "message"),
    [
        ({"issuer": "https://other.example"}, "another issuer"),
        ({"now": NOW + timedelta(minutes=3)}, "expired"),
        ({"now": NOW - timedelta(minutes=5)}, "future"),
        ({"audience": "https://as.example"}, "another audience"),
    ],
)
def test_login_token_refusals(verify_changes: dict[str, object], message: str) -> None:
    token, jwks = login_token()
    arguments: dict[str, object] = {"issuer": "https://attest.example", "now": NOW}
    arguments.update(verify_changes)
    with pytest.raises(LoginTokenInvalid, match=message):
        verify_login_token(token, jwks, **arguments)  # type: ignore[arg-type]


def test_login_token_signed_by_another_key_or_tampered() -> None:
    token, _ = login_token()
    _, other_jwks = login_token()
    with pytest.raises(LoginTokenInvalid, match="does not verify"):
        verify_login_token(token, other_jwks, issuer="https://attest.example", now=NOW)
    token, jwks = login_token()
    header, _payload, signature = token.split(".")
    forged = ".".join([header, base64url.encode(b'{"sub":"admin"}'), signature])
    with pytest.raises(LoginTokenInvalid, match="does not verify"):
        verify_login_token(forged, jwks, issuer="https://attest.example", now=NOW)
