"""The attester's JWKS: the static source, and the HTTP source against a local server (caching by
max-age, one rate-limited refetch on an unknown kid, stale-if-error, fail closed)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from attest.client_auth import HttpJwksSource, StaticJwksSource, errors, verify_client_attestation
from attest.client_auth.jwks import parse_jwks
from attest.errors import ConfigurationError
from attest.tokens import KeyRing
from tests.attest.client_auth.factory import CLIENT_ID, NOW, Attester, DeviceKey, make_policy


@dataclass
class JwksServer:
    """What the local server answers, and how often it was asked."""

    body: Any = field(default_factory=lambda: {"keys": []})
    status: int = 200
    cache_control: str | None = "max-age=300"
    requests: int = 0
    url: str = ""


@pytest.fixture
def server() -> Iterator[JwksServer]:
    state = JwksServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            payload = json.dumps(state.body).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            if state.cache_control is not None:
                self.send_header("Cache-Control", state.cache_control)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def http_source(server: JwksServer, **options: Any) -> HttpJwksSource:
    return HttpJwksSource(server.url, require_https=False, **options)


def test_caches_for_max_age(server: JwksServer) -> None:
    attester = Attester()
    server.body = attester.jwks()
    kid = attester.ring.active().kid
    source = http_source(server)
    assert source.get_key(kid, now=NOW) == attester.ring.active().public_jwk()
    assert source.get_key(kid, now=NOW + timedelta(seconds=299)) is not None
    assert server.requests == 1
    source.get_key(kid, now=NOW + timedelta(seconds=300))
    assert server.requests == 2


def test_max_age_is_clamped(server: JwksServer) -> None:
    attester = Attester()
    server.body, server.cache_control = attester.jwks(), "no-cache, max-age=0"
    source = http_source(server, min_max_age=timedelta(seconds=30))
    kid = attester.ring.active().kid
    source.get_key(kid, now=NOW)
    source.get_key(kid, now=NOW + timedelta(seconds=29))
    assert server.requests == 1
    server.cache_control = None  # the default applies
    source.get_key(kid, now=NOW + timedelta(seconds=30))
    source.get_key(kid, now=NOW + timedelta(minutes=9))
    assert server.requests == 2


def test_unknown_kid_refetches_once_rate_limited(server: JwksServer) -> None:
    attester = Attester()
    server.body = attester.jwks()
    source = http_source(server, refetch_interval=timedelta(minutes=1))
    assert source.get_key(attester.ring.active().kid, now=NOW) is not None
    assert server.requests == 1
    assert source.get_key("unknown-1", now=NOW + timedelta(seconds=61)) is None
    assert server.requests == 2  # one refetch
    assert source.get_key("unknown-2", now=NOW + timedelta(seconds=62)) is None
    assert server.requests == 2  # rate-limited
    assert source.get_key("unknown-3", now=NOW + timedelta(seconds=122)) is None
    assert server.requests == 3


def test_rotated_in_key_found_by_refetch(server: JwksServer) -> None:
    attester = Attester()
    server.body = attester.jwks()
    source = http_source(server)
    device = DeviceKey()
    policy = make_policy(attester, jwks=source)
    verify_client_attestation(attester.issue(device), policy, now=NOW, client_id=CLIENT_ID)

    later = NOW + timedelta(minutes=2)
    attester.ring = attester.ring.rotate(later, max_token_lifetime=timedelta(hours=2))
    attester.ring = attester.ring.rotate(later, max_token_lifetime=timedelta(hours=2))  # a key never seen before
    server.body = attester.jwks(later)
    verify_client_attestation(attester.issue(device, now=later), policy, now=later, client_id=CLIENT_ID)
    assert server.requests == 2


def test_unknown_kid_rejected_after_refetch(server: JwksServer) -> None:
    attester, other = Attester(), Attester()
    server.body = attester.jwks()
    policy = make_policy(attester, jwks=http_source(server))
    with pytest.raises(errors.AttestationUnknownKid):
        verify_client_attestation(other.issue(DeviceKey()), policy, now=NOW)
    assert server.requests == 1  # the first fetch found no such kid; no second fetch within the interval


def test_serves_stale_keys_then_fails_closed(server: JwksServer) -> None:
    attester = Attester()
    server.body = attester.jwks()
    kid = attester.ring.active().kid
    source = http_source(server, max_stale=timedelta(minutes=30))
    assert source.get_key(kid, now=NOW) is not None
    server.status = 500
    assert source.get_key(kid, now=NOW + timedelta(minutes=10)) is not None  # stale within max_stale
    with pytest.raises(errors.AttestationJwksUnavailable) as unavailable:
        source.get_key(kid, now=NOW + timedelta(minutes=40))
    assert unavailable.value.server_fault


def test_unreachable_without_cache(server: JwksServer) -> None:
    server.status = 404
    source = http_source(server)
    with pytest.raises(errors.AttestationJwksUnavailable):
        source.get_key("any", now=NOW)
    with pytest.raises(errors.AttestationJwksUnavailable):
        source.get_key("any", now=NOW + timedelta(seconds=1))
    assert server.requests == 1  # retries are rate-limited too


@pytest.mark.parametrize("body", ["not json", [1, 2], {"keys": "none"}])
def test_bad_documents(server: JwksServer, body: Any) -> None:
    server.body = body
    with pytest.raises(errors.AttestationJwksUnavailable):
        http_source(server).get_key("any", now=NOW)


def test_body_size_limit(server: JwksServer) -> None:
    server.body = {"keys": [], "padding": "x" * 5000}
    with pytest.raises(errors.AttestationJwksUnavailable):
        http_source(server, max_bytes=1000).get_key("any", now=NOW)


def test_injected_transport() -> None:
    attester = Attester()
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=attester.jwks(), headers={"Cache-Control": "max-age=60"})

    source = HttpJwksSource("https://attester.example.com/jwks", transport=httpx.MockTransport(handler))
    assert source.get_key(attester.ring.active().kid, now=NOW) is not None
    assert str(calls[0].url) == "https://attester.example.com/jwks"


def test_redirects_are_not_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "https://attacker.example/jwks"})

    source = HttpJwksSource("https://attester.example.com/jwks", transport=httpx.MockTransport(handler))
    with pytest.raises(errors.AttestationJwksUnavailable):
        source.get_key("any", now=NOW)


def test_https_required_by_default() -> None:
    with pytest.raises(ConfigurationError):
        HttpJwksSource("http://attester.example.com/jwks")


def test_parse_jwks_skips_unusable_keys() -> None:
    ring = KeyRing.bootstrap(now=NOW)
    good, other = ring.jwks(NOW)["keys"]
    keys = parse_jwks(
        {
            "keys": [
                good,
                {**other, "kid": "enc", "use": "enc"},
                {**other, "kid": "private", "d": "AAAA"},
                {**other, "kid": "dup"},
                {**other, "kid": "dup"},
                {"kty": "EC"},
                "not a key",
            ]
        }
    )
    assert set(keys) == {good["kid"]}


def test_static_source() -> None:
    ring = KeyRing.bootstrap(now=NOW)
    source = StaticJwksSource(ring.jwks(NOW))
    assert source.get_key(ring.active().kid, now=NOW) == ring.active().public_jwk()
    assert source.get_key("nope", now=NOW) is None
    with pytest.raises(ConfigurationError):
        StaticJwksSource({"no": "keys"})
