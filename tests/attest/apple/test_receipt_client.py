"""ReceiptRefreshClient against a local HTTP server that replays a stored receipt, and mocked answers."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey

from attest.apple import (
    AppAttestApp,
    DeveloperKey,
    Environment,
    ReceiptPolicy,
    ReceiptRefreshClient,
    ReceiptType,
)
from attest.apple.receipt_client import DEVELOPMENT_URL, PRODUCTION_URL
from attest.errors import AttestationError, ConfigurationError
from tests.attest.apple.samples import ReceiptSample, iso, receipt_samples

APP_ID = "6MURL8TA57.de.vincent-haupert.apple-appattest-poc"
POLICY = ReceiptPolicy(apps=(AppAttestApp(APP_ID, Environment.DEVELOPMENT),))


def _sample(name: str) -> ReceiptSample:
    return next(s for s in receipt_samples() if s.name == name)


@pytest.fixture(scope="module")
def developer_key() -> DeveloperKey:
    return DeveloperKey("6MURL8TA57", "WURZELPFRO", ec.generate_private_key(ec.SECP256R1()))


@dataclass
class Replay:
    """What the local server answers, and what it received."""

    status: int = 200
    body: bytes = b""
    requests: list[dict[str, object]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, Replay]]:
    replay = Replay()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            replay.requests.append(
                {"path": self.path, "authorization": self.headers.get("Authorization"), "body": self.rfile.read(length)}
            )
            self.send_response(replay.status)
            self.send_header("Content-Length", str(len(replay.body)))
            self.end_headers()
            self.wfile.write(replay.body)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/attestationData", replay
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _clock(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def test_refresh_replayed_by_a_local_server(server: tuple[str, Replay], developer_key: DeveloperKey) -> None:
    url, replay = server
    stored = _sample("ios-14.3/receipt-1-attest")
    fresh = _sample("ios-14.3/receipt-2-receipt")
    replay.body = base64.b64encode(fresh.data) + b"\n"
    # An explicit transport: no proxy from the environment between us and the local server.
    with ReceiptRefreshClient(
        developer_key,
        POLICY,
        environment=Environment.DEVELOPMENT,
        url=url,
        clock=_clock(fresh.at),
        transport=httpx.HTTPTransport(),
    ) as client:
        outcome = client.refresh(stored.data, public_key=stored.public_key)
    assert outcome.refreshed
    assert outcome.status_code == 200
    assert outcome.receipt.raw == fresh.data
    assert outcome.receipt.receipt_type is ReceiptType.RECEIPT
    assert outcome.receipt.risk_metric == 3
    (request,) = replay.requests
    assert request["path"] == "/v1/attestationData"
    assert request["body"] == base64.b64encode(stored.data)
    token = jwt.decode(str(request["authorization"]), ECKey.import_key(developer_key.private_key.public_key()))
    assert token.header == {"alg": "ES256", "kid": "WURZELPFRO"}
    assert token.claims == {"iss": "6MURL8TA57", "iat": int(fresh.at.timestamp())}


def test_not_modified_keeps_the_stored_receipt(server: tuple[str, Replay], developer_key: DeveloperKey) -> None:
    url, replay = server
    replay.status = 304
    stored = _sample("ios-14.3/receipt-1-attest")
    with ReceiptRefreshClient(
        developer_key,
        POLICY,
        environment=Environment.DEVELOPMENT,
        url=url,
        clock=_clock(stored.at),
        transport=httpx.HTTPTransport(),
    ) as client:
        outcome = client.refresh(stored.data, public_key=stored.public_key)
    assert not outcome.refreshed
    assert outcome.status_code == 304
    assert outcome.receipt.raw == stored.data


def _mocked(
    developer_key: DeveloperKey,
    handler: Callable[[httpx.Request], httpx.Response],
    at: datetime,
    environment: Environment = Environment.DEVELOPMENT,
) -> ReceiptRefreshClient:
    return ReceiptRefreshClient(
        developer_key, POLICY, environment=environment, transport=httpx.MockTransport(handler), clock=_clock(at)
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "receipt.refresh_rejected"),
        (401, "receipt.refresh_rejected"),
        (404, "receipt.refresh_no_data"),
        (429, "receipt.refresh_rate_limited"),
        (500, "receipt.refresh_failed"),
        (302, "receipt.refresh_failed"),
    ],
)
def test_error_statuses(developer_key: DeveloperKey, status: int, code: str) -> None:
    stored = _sample("ios-14.3/receipt-1-attest")
    client = _mocked(developer_key, lambda request: httpx.Response(status, content=b"no"), stored.at)
    with pytest.raises(AttestationError) as exc:
        client.refresh(stored.data, public_key=stored.public_key)
    assert exc.value.code == code
    assert getattr(exc.value, "status_code", None) == status


def test_requests_go_to_the_environment_host(developer_key: DeveloperKey) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(304)

    stored = _sample("ios-14.3/receipt-1-attest")
    _mocked(developer_key, handler, stored.at).refresh(stored.data, public_key=stored.public_key)
    assert seen == [DEVELOPMENT_URL]
    production = ReceiptRefreshClient(developer_key, POLICY, environment=Environment.PRODUCTION)
    assert production.url == PRODUCTION_URL
    production.close()


def test_transport_failure(developer_key: DeveloperKey) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    stored = _sample("ios-14.3/receipt-1-attest")
    with pytest.raises(AttestationError) as exc:
        _mocked(developer_key, handler, stored.at).refresh(stored.data, public_key=stored.public_key)
    assert exc.value.code == "receipt.refresh_failed"


@pytest.mark.parametrize("body", [b"%%% not base64 %%%", b"", b"A" * 200_000])
def test_unusable_bodies(developer_key: DeveloperKey, body: bytes) -> None:
    stored = _sample("ios-14.3/receipt-1-attest")
    client = _mocked(developer_key, lambda request: httpx.Response(200, content=body), stored.at)
    with pytest.raises(AttestationError) as exc:
        client.refresh(stored.data, public_key=stored.public_key)
    assert exc.value.code in ("receipt.refresh_failed", "receipt.malformed")


def test_new_receipt_is_verified(developer_key: DeveloperKey) -> None:
    stored = _sample("ios-14.2/receipt-1-attest")
    at = _sample("ios-14.2/receipt-3-receipt").at
    old = _sample("ios-14.2/receipt-2-receipt")  # created six days before `at`
    client = _mocked(developer_key, lambda request: httpx.Response(200, content=base64.b64encode(old.data)), at)
    with pytest.raises(AttestationError) as exc:
        client.refresh(stored.data, public_key=stored.public_key)
    assert exc.value.code == "receipt.stale"
    # Apple's answer is a genuine, fresh receipt, but about another key.
    stored_14_3 = _sample("ios-14.3/receipt-1-attest")
    foreign = _sample("ios-14.4-beta-1/receipt-2-receipt")
    client = _mocked(
        developer_key, lambda request: httpx.Response(200, content=base64.b64encode(foreign.data)), foreign.at
    )
    with pytest.raises(AttestationError) as exc:
        client.refresh(stored_14_3.data, public_key=stored_14_3.public_key)
    assert exc.value.code == "receipt.public_key_mismatch"


def _no_request(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected request to {request.url}")


def test_too_early_makes_no_request(developer_key: DeveloperKey) -> None:
    stored = _sample("ios-14.3/receipt-2-receipt")
    assert stored.properties["not_before"] is not None
    outcome = _mocked(developer_key, _no_request, stored.at).refresh(stored.data, public_key=stored.public_key)
    assert not outcome.refreshed
    assert outcome.status_code is None
    assert outcome.receipt.raw == stored.data


def test_expired_receipt_is_not_sent(developer_key: DeveloperKey) -> None:
    stored = _sample("ios-14.3/receipt-1-attest")
    client = _mocked(developer_key, _no_request, iso("2021-04-01T00:00:00Z"))
    with pytest.raises(AttestationError) as exc:
        client.refresh(stored.data, public_key=stored.public_key)
    assert exc.value.code == "receipt.expired"


def test_sandbox_receipt_is_not_sent_to_production(developer_key: DeveloperKey) -> None:
    stored = _sample("ios-14.3/receipt-1-attest")
    client = _mocked(developer_key, _no_request, stored.at, environment=Environment.PRODUCTION)
    with pytest.raises(AttestationError) as exc:
        client.refresh(stored.data, public_key=stored.public_key)
    assert exc.value.code == "receipt.environment_not_allowed"


def test_invalid_stored_receipt_is_not_sent(developer_key: DeveloperKey) -> None:
    stored = _sample("ios-14.3/receipt-1-attest")
    with pytest.raises(AttestationError) as exc:
        _mocked(developer_key, _no_request, stored.at).refresh(stored.data[:-10], public_key=stored.public_key)
    assert exc.value.code in ("receipt.malformed", "receipt.signature")


def test_developer_key_from_p8() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    loaded = DeveloperKey.from_p8("ABCDE12345", "KEY1234567", pem)
    assert loaded.private_key.private_numbers() == key.private_numbers()
    with pytest.raises(ConfigurationError):
        DeveloperKey.from_p8("ABCDE12345", "KEY1234567", b"not a key")
    with pytest.raises(ConfigurationError):
        DeveloperKey("short", "KEY1234567", key)
    with pytest.raises(ConfigurationError):
        DeveloperKey("ABCDE12345", "KEY1234567", ec.generate_private_key(ec.SECP384R1()))
