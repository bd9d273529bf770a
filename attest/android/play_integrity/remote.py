"""Decode an integrity token at Google: ``decodeIntegrityToken`` with a service account's access token.

Google: "Make a standard API request", section "Decrypt and verify the integrity verdict", and the
REST reference ``v1.decodeIntegrityToken``
(https://developer.android.com/google/play/integrity/reference/rest/v1/v1/decodeIntegrityToken):
``POST {api_base}/v1/{packageName}:decodeIntegrityToken`` with the JSON body
``{"integrity_token": "<token>"}`` and ``Authorization: Bearer <access token>`` for the scope
``https://www.googleapis.com/auth/playintegrity``; the answer is ``{"tokenPayloadExternal": {verdict}}``.
This is the only way to decode tokens of standard requests (classic ones may also be decoded locally,
:mod:`attest.android.play_integrity.local`).

The access token comes from google-auth's service-account credentials (OAuth 2.0 JWT bearer grant,
RFC 7523, at the ``token_uri`` of the service-account JSON unless overridden); google-auth caches it
and refreshes it shortly before it expires. Every HTTP exchange, the token endpoint's included, goes
through one ``httpx.Client`` whose transport is injectable, with a per-request deadline, no
redirects, and bounded response sizes. Anything that keeps us from a verdict is
:class:`~attest.android.play_integrity.errors.IntegrityRemoteUnavailable` (fail closed); a token
Google refuses as invalid (HTTP 400) is ``integrity.malformed``.

The verdict Google returns is trusted because it comes from Google over TLS: the API base URL and the
token endpoint must be https outside tests (the service refuses anything else in production). Error
messages carry HTTP statuses and exception types only; what Google said (which may name our Cloud
project or service account) is logged, never returned to the client.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from google.auth import exceptions as google_exceptions
from google.auth import transport as google_transport
from google.oauth2 import service_account

from attest.android.play_integrity.errors import IntegrityMalformed, IntegrityRemoteUnavailable
from attest.android.play_integrity.local import MAX_TOKEN_LENGTH
from attest.android.play_integrity.verdict import IntegrityVerdict, parse_verdict, read_json
from attest.errors import ConfigurationError

log = logging.getLogger("attest.play_integrity")

API_BASE_URL = "https://playintegrity.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/playintegrity"
#: Largest answer we read from Google (a verdict, or a token response, is a few kilobytes).
MAX_RESPONSE_BYTES = 256 * 1024
#: An Android package name (Java identifiers separated by dots); it goes into the URL path.
_PACKAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")
_TOKEN = re.compile(r"[A-Za-z0-9_\-.=]+")
#: What google-auth raises, or lets escape, when the token endpoint answers with nonsense.
_REFRESH_FAILURES = (google_exceptions.GoogleAuthError, ValueError, TypeError, KeyError, AttributeError)


class _Oversized(Exception):
    pass


class _DeadlineExceeded(Exception):
    pass


def _exchange(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    content: bytes | None,
    max_bytes: int,
    timeout: float,
) -> tuple[int, dict[str, str], bytes]:
    """One request; the body is read up to ``max_bytes`` and within ``timeout`` seconds in total
    (httpx's own timeouts bound each connect, read and write; this bounds a slow trickle)."""
    deadline = time.monotonic() + timeout
    with http.stream(method, url, headers=dict(headers), content=content) as response:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise _Oversized
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise _Oversized
            if time.monotonic() > deadline:
                raise _DeadlineExceeded
        return response.status_code, dict(response.headers), bytes(body)


class _AuthResponse(google_transport.Response):
    def __init__(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self._status, self._headers, self._data = status, headers, data

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> dict[str, str]:
        return self._headers

    @property
    def data(self) -> bytes:
        return self._data


class _AuthRequest(google_transport.Request):
    """google-auth's transport interface over our bounded httpx client (for the token endpoint)."""

    def __init__(self, http: httpx.Client, *, max_bytes: int, timeout: float) -> None:
        self._http, self._max_bytes, self._timeout = http, max_bytes, timeout

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _AuthResponse:
        try:
            status, response_headers, data = _exchange(
                self._http,
                method,
                url,
                headers=headers or {},
                content=body,
                max_bytes=self._max_bytes,
                timeout=min(timeout, self._timeout) if timeout else self._timeout,
            )
        except _Oversized:
            raise _transport_error(f"the answer of {url} exceeds {self._max_bytes} bytes") from None
        except _DeadlineExceeded:
            raise _transport_error(f"{url} did not answer within {self._timeout} s") from None
        except httpx.HTTPError as exc:
            raise _transport_error(f"request to {url} failed: {type(exc).__name__}") from None
        return _AuthResponse(status, response_headers, data)


class PlayIntegrityApiClient:
    """Decodes integrity tokens at Google's Play Integrity API with a service account.

    ``credentials`` are google-auth service-account credentials (scoped to :data:`SCOPE` here).
    ``api_base_url`` and the credentials' ``token_uri`` may point elsewhere (tests, a proxy);
    ``transport`` is any ``httpx.BaseTransport``. Thread-safe; use as a context manager or call
    :meth:`close`."""

    def __init__(
        self,
        credentials: service_account.Credentials,
        *,
        api_base_url: str = API_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        if not isinstance(credentials, service_account.Credentials):
            raise ConfigurationError("Play Integrity decoding needs google-auth service-account credentials")
        if not api_base_url.startswith(("https://", "http://")):
            raise ConfigurationError(f"the Play Integrity API base URL {api_base_url!r} is not an http(s) URL")
        if not 0 < timeout <= 60:
            raise ConfigurationError("the Play Integrity timeout must be between 0 and 60 seconds")
        self.api_base_url = api_base_url.rstrip("/")
        self._credentials = credentials.with_scopes([SCOPE])
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        self._http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)
        self._auth_request = _AuthRequest(self._http, max_bytes=max_response_bytes, timeout=timeout)
        self._lock = threading.Lock()

    @classmethod
    def from_service_account_info(
        cls, info: Mapping[str, Any], *, token_uri: str | None = None, **kwargs: Any
    ) -> PlayIntegrityApiClient:
        """From the parsed service-account JSON key; ``token_uri`` overrides the one it names."""
        try:
            credentials = service_account.Credentials.from_service_account_info(info)  # type: ignore[no-untyped-call]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"the service-account key is not usable: {type(exc).__name__}") from None
        if token_uri is not None:
            credentials = credentials.with_token_uri(token_uri)
        return cls(credentials, **kwargs)

    @classmethod
    def from_service_account_file(
        cls, path: Path, *, token_uri: str | None = None, **kwargs: Any
    ) -> PlayIntegrityApiClient:
        """From a service-account JSON key file (as downloaded from Google Cloud)."""
        try:
            info = read_json(path.read_bytes(), "the service-account key file")
        except OSError as exc:
            raise ConfigurationError(f"cannot read the service-account key file: {type(exc).__name__}") from None
        except IntegrityMalformed:
            raise ConfigurationError("the service-account key file is not JSON") from None
        if not isinstance(info, dict):
            raise ConfigurationError("the service-account key file is not a JSON object")
        return cls.from_service_account_info(info, token_uri=token_uri, **kwargs)

    def __enter__(self) -> PlayIntegrityApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def decode(self, token: str, *, package_name: str) -> IntegrityVerdict:
        """Have Google decrypt and verify ``token`` for the app ``package_name``; parse the verdict."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
            raise IntegrityMalformed(f"the integrity token is not a JOSE compact string of at most {MAX_TOKEN_LENGTH}")
        if not _PACKAGE_NAME.fullmatch(package_name):
            raise ConfigurationError(f"{package_name!r} is not an Android package name")
        url = f"{self.api_base_url}/v1/{package_name}:decodeIntegrityToken"
        headers = {
            "Authorization": f"Bearer {self._access_token()}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        body = b'{"integrity_token": "' + token.encode("ascii") + b'"}'  # the token's alphabet needs no escaping
        try:
            status, _headers, data = _exchange(
                self._http, "POST", url, headers=headers, content=body, max_bytes=self._max_bytes, timeout=self._timeout
            )
        except _Oversized:
            raise IntegrityRemoteUnavailable(f"Google's answer exceeds {self._max_bytes} bytes") from None
        except _DeadlineExceeded:
            raise IntegrityRemoteUnavailable(f"Google did not answer within {self._timeout} s") from None
        except httpx.HTTPError as exc:
            raise IntegrityRemoteUnavailable(f"decodeIntegrityToken failed: {type(exc).__name__}") from None
        if status != httpx.codes.OK:
            log.warning("decodeIntegrityToken answered HTTP %s: %s", status, _detail(data))
        if status == httpx.codes.BAD_REQUEST:
            raise IntegrityMalformed("Google refused the integrity token as invalid (HTTP 400)")
        if status == httpx.codes.UNAUTHORIZED:
            self._forget_access_token()  # revoked or expired early: the next request fetches a new one
        if status != httpx.codes.OK:
            raise IntegrityRemoteUnavailable(f"decodeIntegrityToken answered HTTP {status}", status_code=status)
        try:
            document = read_json(data, "Google's answer")
        except IntegrityMalformed as exc:
            raise IntegrityRemoteUnavailable(exc.message, status_code=status) from None
        if not isinstance(document, dict) or not isinstance(document.get("tokenPayloadExternal"), dict):
            raise IntegrityRemoteUnavailable("Google's answer has no tokenPayloadExternal object", status_code=status)
        return parse_verdict(document["tokenPayloadExternal"])

    def _forget_access_token(self) -> None:
        with self._lock:
            self._credentials.token = None

    def _access_token(self) -> str:
        with self._lock:
            if not self._credentials.valid:
                try:
                    self._credentials.refresh(self._auth_request)
                except _REFRESH_FAILURES as exc:
                    log.warning(
                        "no access token for the Play Integrity API: %s: %s", type(exc).__name__, _first_line(exc)
                    )
                    raise IntegrityRemoteUnavailable(
                        f"no access token for the Play Integrity API ({type(exc).__name__})"
                    ) from None
            token = self._credentials.token
        if not isinstance(token, str) or not token:
            raise IntegrityRemoteUnavailable("the token endpoint returned no access token")
        return token


def _transport_error(message: str) -> Exception:
    """What google-auth expects a transport to raise (its refresh wraps nothing else)."""
    error: Exception = google_exceptions.TransportError(message)  # type: ignore[no-untyped-call]
    return error


def _detail(data: bytes) -> str:
    """A short, printable excerpt of an error body (Google's JSON error, usually)."""
    text = data[:200].decode("utf-8", "replace")
    return "".join(c if c.isprintable() else " " for c in text).strip() or "(empty body)"


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else ""
