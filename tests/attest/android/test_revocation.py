"""The status list: parsing, modes, and the HTTP source against a local server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from attest.android.revocation import RevocationMode, check_revocation, normalize_serial, parse_status_list
from attest.android.status_list_source import FileStatusListSource, HttpStatusListSource
from attest.errors import RevocationListMalformed, RevocationListUnavailable
from tests.attest.android.fixture_files import ANDROID_FIXTURES

SAMPLE = (ANDROID_FIXTURES / "status-list-sample.json").read_bytes()


def test_sample_parses_with_lowercase_hex_keys() -> None:
    status_list = parse_status_list(SAMPLE)
    assert set(status_list.entries) == {
        "6681152659205225093",
        "8350192447815228107",
        "9408173275444922801",
        "11244410301401252959",
        "cc66e9a93713b6e643b26c15879786f7",
    }
    assert status_list.entries["6681152659205225093"].status == "REVOKED"
    assert status_list.entries["6681152659205225093"].reason == "KEY_COMPROMISE"


def test_keys_are_normalized() -> None:
    status_list = parse_status_list(b'{"entries": {"00ABc": {"status": "REVOKED"}}}')
    assert "abc" in status_list.entries
    assert normalize_serial("0") == "0"


@pytest.mark.parametrize(
    "document",
    [
        b"not json",
        b"[]",
        b'{"entries": []}',
        b'{"entries": {"zz": {"status": "REVOKED"}}}',
        b'{"entries": {"ab": "REVOKED"}}',
        b'{"entries": {"ab": {"reason": "x"}}}',
        b"\xff\xfe",
    ],
)
def test_malformed_lists_are_rejected(document: bytes) -> None:
    with pytest.raises(RevocationListMalformed):
        parse_status_list(document)


def test_modes_without_a_list() -> None:
    with pytest.raises(RevocationListUnavailable):
        check_revocation([], None, RevocationMode.REQUIRED)
    assert check_revocation([], None, RevocationMode.BEST_EFFORT).checked is False
    assert check_revocation([], parse_status_list(SAMPLE), RevocationMode.OFF).checked is False
    assert check_revocation([], parse_status_list(SAMPLE), RevocationMode.REQUIRED).checked is True


# --- the HTTP source ----------------------------------------------------------------------------


@dataclass
class FakeStatusServer:
    body: bytes = SAMPLE
    etag: str = '"v1"'
    cache_control: str = "public, max-age=3600"
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def status_server() -> Iterator[tuple[FakeStatusServer, str]]:
    state = FakeStatusServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append({k.lower(): v for k, v in self.headers.items()})
            if state.status != 200:
                self.send_response(state.status)
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == state.etag:
                self.send_response(304)
                self.send_header("Cache-Control", state.cache_control)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("ETag", state.etag)
            self.send_header("Cache-Control", state.cache_control)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_port}/attestation/status"
    finally:
        server.shutdown()
        server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_http_source_caches_and_revalidates(status_server: tuple[FakeStatusServer, str]) -> None:
    state, url = status_server
    clock = Clock()
    source = HttpStatusListSource(url, max_age=timedelta(hours=24), clock=clock)
    first = source.current()
    assert first is not None
    assert "cc66e9a93713b6e643b26c15879786f7" in first.entries
    assert source.current() is first
    assert len(state.requests) == 1  # within max-age: served from memory

    clock.now += timedelta(hours=2)  # past Cache-Control max-age: revalidate with the ETag
    again = source.current()
    assert len(state.requests) == 2
    assert state.requests[1]["if-none-match"] == '"v1"'
    assert again is not None
    assert again.fetched_at == clock.now


def test_http_source_serves_the_last_list_until_max_age_then_fails_closed(
    status_server: tuple[FakeStatusServer, str],
) -> None:
    state, url = status_server
    clock = Clock()
    source = HttpStatusListSource(url, max_age=timedelta(hours=6), clock=clock, retry_after=timedelta(0))
    assert source.current() is not None
    state.status = 503
    clock.now += timedelta(hours=5)
    assert source.current() is not None  # stale-but-allowed
    assert source.last_error is not None
    clock.now += timedelta(hours=2)
    assert source.current() is None  # older than max_age: nothing usable
    state.status = 200
    assert source.current() is not None  # recovers


def test_http_source_rejects_a_malformed_list(status_server: tuple[FakeStatusServer, str]) -> None:
    state, url = status_server
    state.body = b"<html>not a list</html>"
    source = HttpStatusListSource(url, clock=Clock())
    assert source.current() is None
    assert source.last_error is not None


def test_background_refresh_serves_the_held_list_while_revalidating(
    status_server: tuple[FakeStatusServer, str],
) -> None:
    state, url = status_server
    clock = Clock()
    source = HttpStatusListSource(url, max_age=timedelta(hours=24), clock=clock, refresh_in_background=True)
    first = source.current()  # nothing held yet: fetched inline
    assert first is not None
    assert len(state.requests) == 1

    state.etag = '"v2"'
    state.body = b'{"entries": {"abc": {"status": "REVOKED", "reason": "KEY_COMPROMISE"}}}'
    clock.now += timedelta(hours=2)  # due for revalidation, still within max_age
    assert source.current() is first  # answered at once from memory
    source.wait_for_refresh(timeout=10)
    assert len(state.requests) == 2
    assert state.requests[1]["if-none-match"] == '"v1"'
    refreshed = source.current()
    assert refreshed is not None
    assert set(refreshed.entries) == {"abc"}
    assert refreshed.fetched_at == clock.now
    assert len(state.requests) == 2  # not due again


def test_background_refresh_keeps_the_list_through_failures_then_fails_closed(
    status_server: tuple[FakeStatusServer, str],
) -> None:
    state, url = status_server
    clock = Clock()
    source = HttpStatusListSource(
        url, max_age=timedelta(hours=6), clock=clock, retry_after=timedelta(0), refresh_in_background=True
    )
    held = source.current()
    assert held is not None
    state.status = 503
    clock.now += timedelta(hours=5)
    assert source.current() is held
    source.wait_for_refresh(timeout=10)
    assert source.last_error is not None
    assert source.current() is held  # stale but allowed
    source.wait_for_refresh(timeout=10)
    clock.now += timedelta(hours=2)  # older than max_age: the caller fetches inline, and gets nothing
    assert source.current() is None
    state.status = 200
    recovered = source.current()  # inline again, since nothing usable is held
    assert recovered is not None
    assert recovered.fetched_at == clock.now


def test_file_source_honours_max_age(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    path.write_bytes(SAMPLE)
    clock = Clock()
    clock.now = datetime.fromtimestamp(path.stat().st_mtime, UTC) + timedelta(hours=1)
    source = FileStatusListSource(path, max_age=timedelta(hours=2), clock=clock)
    assert source.current() is not None
    clock.now += timedelta(hours=2)
    assert source.current() is None
    assert FileStatusListSource(tmp_path / "missing.json").current() is None
