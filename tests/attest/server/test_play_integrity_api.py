"""Play Integrity next to Key Attestation over HTTP (``integrity_token`` of ``POST /v1/attest/android``),
on SQLite and PostgreSQL: factory chains under a test root, integrity tokens made with our own test keys
(decoded locally) or answered by local stand-ins for Google's token endpoint and API (decoded remotely)."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from attest.android.play_integrity import nonce_for, request_hash_for
from attest.server.app import create_app
from attest.server.clients import (
    AndroidClientConfig,
    ClientRegistration,
    PlayIntegrityConfig,
    PlayIntegrityLocalDecoding,
    PlayIntegrityRemoteDecoding,
    add_client,
)
from attest.server.db.models import AuditEvent
from attest.server.errors import ClientInvalid
from attest.server.runtime import build_runtime, prepare_database
from attest.tokens import AttestationVerdict, PlayIntegrityClaim
from tests.attest.android import factory as android
from tests.attest.android.play_integrity import factory as f
from tests.attest.android.play_integrity.standins import Google, google_stand_ins
from tests.attest.server.service import Service, make_settings

PKI = android.TestPki(name="integrity")
KEYS = f.TestKeys()


def start(database_url: str, tmp_path: Path) -> Service:
    """The service at the factory's time, trusting the test root, with a direct transport to the stand-ins."""
    anchors = tmp_path / "test-anchors.pem"
    anchors.write_bytes(PKI.root_certificate().public_bytes(serialization.Encoding.PEM))
    settings = make_settings(database_url, tmp_path, fixed_time=f.NOW, test_trust_anchors_file=anchors)
    prepare_database(settings)
    runtime = build_runtime(settings, play_integrity_transport=httpx.HTTPTransport())
    return Service(TestClient(create_app(runtime), raise_server_exceptions=False), runtime, settings)


def local_decoding(tmp_path: Path, keys: f.TestKeys = KEYS) -> PlayIntegrityLocalDecoding:
    (tmp_path / "decryption.key").write_text(keys.decryption_key_base64)
    (tmp_path / "verification.key").write_text(keys.verification_key_base64)
    return PlayIntegrityLocalDecoding(
        decryption_key_file=tmp_path / "decryption.key", verification_key_file=tmp_path / "verification.key"
    )


def register(service: Service, client_id: str, integrity: PlayIntegrityConfig | None) -> None:
    config = AndroidClientConfig(
        packages=(f.PACKAGE,), signer_digests=(f.CERTIFICATE_DIGEST.hex(),), play_integrity=integrity
    )
    service.register(ClientRegistration(client_id=client_id, config=config, token_ttl_seconds=300))


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Service:
    service = start(database_url, tmp_path)
    register(service, "required-app", PlayIntegrityConfig(decoding=local_decoding(tmp_path)))
    register(service, "optional-app", PlayIntegrityConfig(mode="optional", decoding=local_decoding(tmp_path)))
    register(
        service,
        "strong-app",
        PlayIntegrityConfig(decoding=local_decoding(tmp_path), required_device_verdict="strong", require_licensed=True),
    )
    register(service, "plain-app", None)
    return service


def raw(challenge: str) -> bytes:
    return base64.urlsafe_b64decode(challenge + "=" * (-len(challenge) % 4))


def attest(service: Service, client_id: str, *, token: Any = None, chain_changes: Any = None, **verdict: Any) -> Any:
    """Challenge -> factory chain with it -> an integrity token bound to it (``token=None``: made
    here from ``verdict`` options; ``token=False``: none sent) -> POST."""
    challenge = service.challenge(client_id)
    spec = android.KeyDescriptionSpec(attestation_challenge=raw(challenge))
    chain = PKI.chain(spec.to_der(), **(chain_changes or {}))
    body: dict[str, Any] = {
        "client_id": client_id,
        "challenge": challenge,
        "certificate_chain": [base64.b64encode(c).decode() for c in chain.certificates],
    }
    if token is None:
        token = KEYS.token(f.payload(challenge=raw(challenge), **verdict))
    if token is not False:
        body["integrity_token"] = token
    return service.http.post("/v1/attest/android", json=body)


def verdict_of(service: Service, response: Any) -> AttestationVerdict:
    assert response.status_code == 200, response.text
    keys = KeySet.import_key_set(service.http.get("/.well-known/jwks.json").json())
    claims = jwt.decode(response.json()["client_attestation"], keys).claims
    return AttestationVerdict.from_claim(claims["attestation"])


def problem_code(response: Any, status: int = 403) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    code: str = response.json()["code"]
    return code


def test_both_signals_and_the_token_says_what_was_checked(service: Service) -> None:
    verdict = verdict_of(service, attest(service, "required-app"))
    assert verdict.platform == "android"
    assert verdict.app_checked is True
    assert verdict.play_integrity == PlayIntegrityClaim(device="device", app_recognized=True, licensed=True)

    classic = verdict_of(service, attest(service, "required-app", standard=False))
    assert classic.play_integrity is not None

    labels = ("MEETS_BASIC_INTEGRITY", "MEETS_DEVICE_INTEGRITY", "MEETS_STRONG_INTEGRITY")
    strong = verdict_of(service, attest(service, "strong-app", device=labels))
    assert strong.play_integrity == PlayIntegrityClaim(device="strong", app_recognized=True, licensed=True)


def test_required_optional_and_unconfigured(service: Service) -> None:
    assert problem_code(attest(service, "required-app", token=False)) == "integrity.missing"
    assert verdict_of(service, attest(service, "optional-app", token=False)).play_integrity is None
    assert verdict_of(service, attest(service, "optional-app")).play_integrity is not None
    # Optional means "when sent, it must pass": a failing token is not silently dropped.
    assert problem_code(attest(service, "optional-app", device=())) == "integrity.device_verdict"
    # A client without Play Integrity does not read the token; the JWT claims nothing about it.
    assert verdict_of(service, attest(service, "plain-app", token="not even a token")).play_integrity is None
    with service.session() as session:
        events = [(e.client_id, e.outcome, e.code) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events[0] == ("required-app", "invalid", "integrity.missing")
    assert events[3] == ("optional-app", "invalid", "integrity.device_verdict")


def test_each_rejection_has_its_code(service: Service) -> None:
    def bound_to(challenge: bytes, **options: Any) -> str:
        return KEYS.token(f.payload(challenge=challenge, **options))

    cases: list[tuple[str, dict[str, Any], str]] = [
        ("required-app", {"token": bound_to(b"another challenge")}, "integrity.request_hash_mismatch"),
        ("required-app", {"token": bound_to(b"another challenge", standard=False)}, "integrity.request_hash_mismatch"),
        ("required-app", {"package": "com.evil.app"}, "integrity.package_mismatch"),
        ("required-app", {"digest": bytes(32)}, "integrity.certificate_not_allowed"),
        ("required-app", {"device": ("MEETS_BASIC_INTEGRITY",)}, "integrity.device_verdict"),
        ("required-app", {"at": f.NOW - timedelta(minutes=6)}, "integrity.stale"),
        ("required-app", {"at": f.NOW + timedelta(minutes=2)}, "integrity.timestamp_in_future"),
        ("strong-app", {}, "integrity.device_verdict"),
        ("required-app", {"token": f.TestKeys().token(f.payload())}, "integrity.decrypt"),
        (
            "required-app",
            {"token": f.encrypt(f.sign(f.payload(), f.TestKeys().signing_key), KEYS.decryption_key)},
            "integrity.signature",
        ),
    ]
    for client_id, options, expected in cases:
        assert problem_code(attest(service, client_id, **options)) == expected, (options, expected)

    licensing = ("MEETS_BASIC_INTEGRITY", "MEETS_DEVICE_INTEGRITY", "MEETS_STRONG_INTEGRITY")
    response = attest(service, "strong-app", device=licensing, licensing="UNLICENSED")
    assert problem_code(response) == "integrity.unlicensed"


def test_the_verdict_must_be_bound_to_this_requests_challenge(service: Service) -> None:
    """A genuine verdict captured for an earlier challenge cannot ride along a new attestation."""
    earlier = service.challenge("required-app")
    captured = KEYS.token(f.payload(challenge=raw(earlier)))
    assert problem_code(attest(service, "required-app", token=captured)) == "integrity.request_hash_mismatch"
    assert request_hash_for(raw(earlier)) != nonce_for(raw(earlier))


def test_malformed_tokens_and_key_attestation_first(service: Service) -> None:
    assert problem_code(attest(service, "required-app", token="a.b.c"), 400) == "integrity.malformed"
    assert problem_code(attest(service, "required-app", token=KEYS.token(b"[]")), 400) == "integrity.malformed"
    assert problem_code(attest(service, "required-app", token=5), 400) == "request.malformed"
    assert problem_code(attest(service, "required-app", token=""), 400) == "request.malformed"
    assert problem_code(attest(service, "required-app", token="a" * 40_000), 400) == "request.malformed"
    assert problem_code(attest(service, "required-app", token="a" * 70_000), 413) == "request.too_large"
    response = attest(service, "required-app", chain_changes={"corrupt_leaf_signature": True})
    assert problem_code(response) == "chain.signature"


# --- remote decoding against stand-ins for Google ----------------------------------------------


@pytest.fixture
def google() -> Iterator[Google]:
    with google_stand_ins() as stand_ins:
        yield stand_ins


def test_remote_decoding_through_google_stand_ins(database_url: str, tmp_path: Path, google: Google) -> None:
    service = start(database_url, tmp_path)
    decoding = PlayIntegrityRemoteDecoding(
        service_account_file=google.write_service_account(tmp_path), api_base_url=google.api_base_url
    )
    register(service, "remote-app", PlayIntegrityConfig(decoding=decoding))

    def remote(**verdict: Any) -> Any:
        token = f"opaque.{len(google.verdicts)}.token.from.play"
        challenge = service.challenge("remote-app")
        google.verdicts[token] = f.payload(challenge=raw(challenge), **verdict)
        chain = PKI.chain(android.KeyDescriptionSpec(attestation_challenge=raw(challenge)).to_der())
        body = {
            "client_id": "remote-app",
            "challenge": challenge,
            "certificate_chain": [base64.b64encode(c).decode() for c in chain.certificates],
            "integrity_token": token,
        }
        return service.http.post("/v1/attest/android", json=body)

    assert verdict_of(service, remote()).play_integrity == PlayIntegrityClaim("device", True, True)
    assert verdict_of(service, remote(licensing="UNEVALUATED")).play_integrity == PlayIntegrityClaim("device", True)
    assert problem_code(remote(device=())) == "integrity.device_verdict"
    assert len(google.token_requests) == 1  # one access token, reused
    assert {r["path"] for r in google.api_requests} == {f"/v1/{f.PACKAGE}:decodeIntegrityToken"}

    response = attest(service, "remote-app", token="unknown.to.google")
    assert problem_code(response, 400) == "integrity.malformed"
    google.api = lambda path, headers, body: (503, b'{"error": {"status": "UNAVAILABLE"}}')
    response = remote()
    assert problem_code(response, 503) == "integrity.remote_unavailable"
    assert "503" in response.json()["detail"]


def test_production_refuses_plain_http_endpoints(database_url: str, tmp_path: Path) -> None:
    service = start(database_url, tmp_path)
    decoding = PlayIntegrityRemoteDecoding(
        service_account_file=tmp_path / "sa.json", api_base_url="http://playintegrity.example"
    )
    config = AndroidClientConfig(
        packages=(f.PACKAGE,),
        signer_digests=(f.CERTIFICATE_DIGEST.hex(),),
        play_integrity=PlayIntegrityConfig(decoding=decoding),
    )
    with service.runtime.sessions.begin() as session, pytest.raises(ClientInvalid):
        add_client(session, ClientRegistration(client_id="x", config=config), now=f.NOW, production=True)


def test_a_missing_key_file_is_a_server_error_not_a_verdict(database_url: str, tmp_path: Path) -> None:
    service = start(database_url, tmp_path)
    decoding = PlayIntegrityLocalDecoding(
        decryption_key_file=tmp_path / "absent.key", verification_key_file=tmp_path / "absent.key"
    )
    register(service, "broken-app", PlayIntegrityConfig(decoding=decoding))
    assert problem_code(attest(service, "broken-app"), 500) == "config.invalid"


def test_nothing_is_locked_while_google_answers(database_url: str, tmp_path: Path, google: Google) -> None:
    """The attestation's writes come after its checks: while a remote decode waits for Google, other
    requests write (on SQLite a held write lock would make them wait for its 30 s busy timeout)."""
    service = start(database_url, tmp_path)
    decoding = PlayIntegrityRemoteDecoding(
        service_account_file=google.write_service_account(tmp_path), api_base_url=google.api_base_url
    )
    register(service, "remote-app", PlayIntegrityConfig(decoding=decoding))
    challenge = service.challenge("remote-app")
    google.verdicts["slow.token"] = f.payload(challenge=raw(challenge))
    chain = PKI.chain(android.KeyDescriptionSpec(attestation_challenge=raw(challenge)).to_der())
    body = {
        "client_id": "remote-app",
        "challenge": challenge,
        "certificate_chain": [base64.b64encode(c).decode() for c in chain.certificates],
        "integrity_token": "slow.token",
    }
    asked, release = threading.Event(), threading.Event()

    def slow_api(path: str, headers: dict[str, str], payload: bytes) -> tuple[int, bytes]:
        asked.set()
        release.wait(30)
        google.api = None
        return google.handle_api(path, headers, payload)

    google.api = slow_api
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(service.http.post, "/v1/attest/android", json=body)
        assert asked.wait(10)
        started = time.monotonic()
        service.challenge("remote-app")  # a write while the attestation waits
        waited = time.monotonic() - started
        release.set()
        response = pending.result(timeout=30)
    assert waited < 5
    assert verdict_of(service, response).play_integrity == PlayIntegrityClaim("device", True, True)
