"""Hostile input: garbage and mutated integrity tokens, arbitrary verdict JSON and arbitrary answers from
Google only ever produce typed errors (AttestationError subclasses with an ``integrity.*`` code)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest.android.play_integrity import (
    PlayIntegrityApiClient,
    PlayIntegrityPolicy,
    decode_integrity_token,
    parse_verdict,
    verify_play_integrity,
)
from attest.errors import AttestationError
from tests.attest.android.play_integrity import factory as f
from tests.attest.android.play_integrity.standins import service_account_info

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = f.TestKeys()
DECODING_KEYS = KEYS.keys()
VALID = KEYS.token(f.payload())
POLICY = PlayIntegrityPolicy(
    challenge=f.CHALLENGE, package_names=frozenset({f.PACKAGE}), certificate_digests=frozenset({f.CERTIFICATE_DIGEST})
)
DECODE_CODES = {"integrity.malformed", "integrity.decrypt", "integrity.signature"}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
NAMES = st.sampled_from(
    [
        "requestDetails",
        "appIntegrity",
        "deviceIntegrity",
        "accountDetails",
        "environmentDetails",
        "requestPackageName",
        "requestHash",
        "nonce",
        "timestampMillis",
        "appRecognitionVerdict",
        "packageName",
        "certificateSha256Digest",
        "versionCode",
        "deviceRecognitionVerdict",
        "appLicensingVerdict",
        "deviceAttributes",
        "sdkVersion",
    ]
)


def typed(call: Callable[[], object], codes: set[str] | None = None) -> None:
    """Run ``call``; an AttestationError (with one of ``codes``, if given) is fine, anything else fails."""
    error: AttestationError | None = None
    try:
        call()
    except AttestationError as caught:
        error = caught
    if error is not None and codes is not None:
        assert error.code in codes, error.code


@PROPERTY
@given(st.text(max_size=400))
def test_garbage_text(token: str) -> None:
    typed(lambda: decode_integrity_token(token, DECODING_KEYS), DECODE_CODES)


@PROPERTY
@given(
    st.lists(
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=60),
        min_size=1,
        max_size=7,
    )
)
def test_jose_shaped_garbage(segments: list[str]) -> None:
    typed(lambda: decode_integrity_token(".".join(segments), DECODING_KEYS), DECODE_CODES)


@PROPERTY
@given(st.integers(min_value=0, max_value=len(VALID) - 1), st.sampled_from("AQgw_-.=x"))
def test_one_character_changed(position: int, replacement: str) -> None:
    token = VALID[:position] + replacement + VALID[position + 1 :]
    if token != VALID:
        typed(lambda: decode_integrity_token(token, DECODING_KEYS), DECODE_CODES)


@PROPERTY
@given(st.binary(max_size=300))
def test_any_plaintext_under_a_valid_encryption(plaintext: bytes) -> None:
    token = f.encrypt(plaintext, KEYS.decryption_key)
    typed(lambda: decode_integrity_token(token, DECODING_KEYS), DECODE_CODES)


@PROPERTY
@given(st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_signed_payload(body: bytes) -> None:
    """A genuinely signed and encrypted token whose payload is anything: malformed, never a crash."""
    typed(lambda: decode_integrity_token(KEYS.token(body), DECODING_KEYS), {"integrity.malformed"})


@PROPERTY
@given(st.lists(NAMES, min_size=1, max_size=3), JSON)
def test_any_value_anywhere_in_a_verdict(path: list[str], value: Any) -> None:
    """Replace or add a member at any depth; parsing and every check still only raise typed errors."""
    document: Any = f.payload()
    target = document
    for name in path[:-1]:
        child = target.get(name) if isinstance(target, dict) else None
        if not isinstance(child, dict):
            break
        target = child
    if isinstance(target, dict):
        target[path[-1]] = value

    def run() -> None:
        verify_play_integrity(parse_verdict(document), POLICY, at=f.NOW + timedelta(seconds=1))

    typed(run)


_ANSWER: list[tuple[int, bytes]] = [(200, b"")]


def _google(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/token":
        return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
    status, body = _ANSWER[0]
    return httpx.Response(status, content=body)


# One client for every example: loading the service-account key is the slow part.
GOOGLE_API = PlayIntegrityApiClient.from_service_account_info(
    service_account_info("http://google.test/token"),
    api_base_url="http://google.test",
    transport=httpx.MockTransport(_google),
)


@PROPERTY
@given(st.integers(min_value=100, max_value=599), st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_answer_from_google(status: int, body: bytes) -> None:
    _ANSWER[0] = (status, body)
    typed(
        lambda: GOOGLE_API.decode("a.b.c.d.e", package_name=f.PACKAGE),
        {"integrity.malformed", "integrity.remote_unavailable"},
    )
