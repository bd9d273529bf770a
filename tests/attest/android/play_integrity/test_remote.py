"""Remote decoding: google-auth service-account credentials against a local token endpoint, and
decodeIntegrityToken against a local API; failures of either are typed errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from attest.android.play_integrity import PlayIntegrityApiClient
from attest.android.play_integrity.remote import SCOPE
from attest.errors import AttestationError, ConfigurationError
from tests.attest.android.play_integrity import factory as f
from tests.attest.android.play_integrity.standins import Google, google_stand_ins, service_account_info

TOKEN = "eyJhbGciOiJBMjU2S1ciLCJlbmMiOiJBMjU2R0NNIn0.a.b.c.d"


@pytest.fixture
def google() -> Iterator[Google]:
    with google_stand_ins() as stand_ins:
        yield stand_ins


def client(google: Google, **options: Any) -> PlayIntegrityApiClient:
    # An explicit transport: no proxy from the environment between us and the local servers.
    options.setdefault("transport", httpx.HTTPTransport())
    options.setdefault("api_base_url", google.api_base_url)
    return PlayIntegrityApiClient.from_service_account_info(service_account_info(google.token_url), **options)


def code_of(api: PlayIntegrityApiClient, token: str = TOKEN) -> str:
    with pytest.raises(AttestationError) as caught:
        api.decode(token, package_name=f.PACKAGE)
    return caught.value.code


def test_decode_through_the_token_endpoint_and_the_api(google: Google, tmp_path: Path) -> None:
    google.verdicts[TOKEN] = f.payload()
    with PlayIntegrityApiClient.from_service_account_file(
        google.write_service_account(tmp_path), api_base_url=google.api_base_url + "/", transport=httpx.HTTPTransport()
    ) as api:
        verdict = api.decode(TOKEN, package_name=f.PACKAGE)
        again = api.decode(TOKEN, package_name=f.PACKAGE)
    assert verdict == again
    assert verdict.request_details.request_hash is not None
    assert verdict.app_integrity.certificate_sha256_digests == (f.CERTIFICATE_DIGEST,)
    # One access token (google-auth caches it), two API calls, each with the documented request.
    (grant,) = google.token_requests
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert grant["claims"]["scope"] == SCOPE
    assert len(google.api_requests) == 2
    request = google.api_requests[0]
    assert request["path"] == f"/v1/{f.PACKAGE}:decodeIntegrityToken"
    assert json.loads(request["body"]) == {"integrity_token": TOKEN}
    assert request["authorization"].removeprefix("Bearer ") in google.issued


def test_token_uri_can_be_overridden(google: Google) -> None:
    google.verdicts[TOKEN] = f.payload()
    info = service_account_info("https://oauth2.googleapis.com/token")
    with PlayIntegrityApiClient.from_service_account_info(
        info, token_uri=google.token_url, api_base_url=google.api_base_url, transport=httpx.HTTPTransport()
    ) as api:
        api.decode(TOKEN, package_name=f.PACKAGE)
    assert len(google.token_requests) == 1


def test_a_token_google_cannot_decode_is_malformed(google: Google) -> None:
    with client(google) as api:
        assert code_of(api) == "integrity.malformed"


@pytest.mark.parametrize("status", [401, 403, 404, 429, 500, 503])
def test_api_refusals_are_remote_unavailable(google: Google, status: int) -> None:
    google.api = lambda path, headers, body: (status, b'{"error": {"message": "no"}}')
    with client(google) as api, pytest.raises(AttestationError) as caught:
        api.decode(TOKEN, package_name=f.PACKAGE)
    assert caught.value.code == "integrity.remote_unavailable"
    assert getattr(caught.value, "status_code", None) == status


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>", "integrity.remote_unavailable"),
        (b"[]", "integrity.remote_unavailable"),
        (b'{"tokenPayloadExternal": "x"}', "integrity.remote_unavailable"),
        (b'{"other": {}}', "integrity.remote_unavailable"),
        (b'{"tokenPayloadExternal": {}}', "integrity.malformed"),
        (b"x" * 300_000, "integrity.remote_unavailable"),
    ],
)
def test_unusable_api_answers(google: Google, body: bytes, expected: str) -> None:
    google.api = lambda path, headers, _body: (200, body)
    with client(google) as api:
        assert code_of(api) == expected


@pytest.mark.parametrize(
    "answer",
    [
        (401, b'{"error": "invalid_client"}'),
        (400, b'{"error": "invalid_grant"}'),
        (200, b'{"token_type": "Bearer"}'),
        (200, b"not json"),
        (200, b'{"access_token": "t", "expires_in": "soon"}'),
        (200, b"[1]"),
        (200, b"y" * 300_000),
    ],
)
def test_token_endpoint_failures_are_remote_unavailable(google: Google, answer: tuple[int, bytes]) -> None:
    google.oauth = lambda path, headers, body: answer
    with client(google) as api:
        assert code_of(api) == "integrity.remote_unavailable"
    assert google.api_requests == []  # no request without an access token


def test_unreachable_endpoints(google: Google) -> None:
    with PlayIntegrityApiClient.from_service_account_info(
        service_account_info("http://127.0.0.1:9/token"),
        api_base_url=google.api_base_url,
        transport=httpx.HTTPTransport(),
    ) as api:
        assert code_of(api) == "integrity.remote_unavailable"
    with client(google, api_base_url="http://127.0.0.1:9") as api:
        assert code_of(api) == "integrity.remote_unavailable"


@pytest.fixture
def trickle() -> Iterator[str]:
    """An API that answers one byte every 0.2 s: each read is quick, the whole is not."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.2)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_slow_trickle_hits_the_deadline(google: Google, trickle: str) -> None:
    started = time.monotonic()
    with client(google, api_base_url=trickle, timeout=1.0) as api:
        assert code_of(api) == "integrity.remote_unavailable"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("token", ["", "a b", 'a"b', "é", "x" * (32 * 1024 + 1), "a\nb"])
def test_unsendable_tokens_are_malformed_without_a_request(google: Google, token: str) -> None:
    with client(google) as api:
        assert code_of(api, token) == "integrity.malformed"
    assert google.api_requests == []
    assert google.token_requests == []


@pytest.mark.parametrize("package", ["", "app", "com.example/../x", "com.example.app:other", "1com.x"])
def test_package_names_cannot_reshape_the_url(google: Google, package: str) -> None:
    with client(google) as api, pytest.raises(ConfigurationError):
        api.decode(TOKEN, package_name=package)


def test_unusable_configuration(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        PlayIntegrityApiClient.from_service_account_file(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigurationError):
        PlayIntegrityApiClient.from_service_account_file(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ConfigurationError):
        PlayIntegrityApiClient.from_service_account_file(tmp_path / "list.json")
    with pytest.raises(ConfigurationError):
        PlayIntegrityApiClient.from_service_account_info({"type": "service_account"})
    info = service_account_info("https://oauth2.googleapis.com/token")
    for options in ({"api_base_url": "ftp://x"}, {"timeout": 0}, {"timeout": 120}):
        with pytest.raises(ConfigurationError):
            PlayIntegrityApiClient.from_service_account_info(info, **options)


def test_a_refused_access_token_is_replaced_on_the_next_request(google: Google) -> None:
    google.verdicts[TOKEN] = f.payload()
    with client(google) as api:
        api.decode(TOKEN, package_name=f.PACKAGE)
        google.issued.clear()  # Google forgets (revokes) the access token we hold
        assert code_of(api) == "integrity.remote_unavailable"
        assert api.decode(TOKEN, package_name=f.PACKAGE).request_details.request_package_name == f.PACKAGE
    assert len(google.token_requests) == 2
