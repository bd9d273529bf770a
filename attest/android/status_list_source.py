"""Where the status list comes from: a file, or Google's URL with HTTP caching.

A source answers :meth:`current` with the newest list it holds that is not older than its
``max_age``, or ``None`` when it has none (the verifier's :class:`RevocationMode` then decides).
The HTTP source revalidates with ``If-None-Match``/``If-Modified-Since`` once the response's
``Cache-Control: max-age`` has passed, and keeps serving the last good list while a refresh fails,
until ``max_age`` is reached: then it fails closed (returns ``None``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import httpx

from attest.android.revocation import (
    GOOGLE_STATUS_LIST_URL,
    MAX_STATUS_LIST_SIZE,
    StatusList,
    parse_status_list,
)
from attest.errors import RevocationError

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class StatusListSource(Protocol):
    def current(self) -> StatusList | None:
        """The newest list not older than the source's maximum age, or None."""
        ...


class FileStatusListSource:
    """A status list file (e.g. mirrored by a cron job). Re-read when its modification time changes;
    its age is the file's modification time."""

    def __init__(self, path: Path, *, max_age: timedelta = timedelta(days=2), clock: Clock = utc_now) -> None:
        self._path = path
        self._max_age = max_age
        self._clock = clock
        self._cached: tuple[float, StatusList] | None = None

    def current(self) -> StatusList | None:
        try:
            mtime = self._path.stat().st_mtime
        except OSError:
            return None
        if self._cached is None or self._cached[0] != mtime:
            fetched_at = datetime.fromtimestamp(mtime, UTC)
            self._cached = (
                mtime,
                parse_status_list(self._path.read_bytes(), fetched_at=fetched_at, source=str(self._path)),
            )
        status_list = self._cached[1]
        if status_list.fetched_at is not None and self._clock() - status_list.fetched_at > self._max_age:
            return None
        return status_list


@dataclass(frozen=True, slots=True)
class _Fetched:
    """What one revalidation produced: the list to hold, its validators, when to revalidate next,
    and the error when it failed (the previous list is then kept)."""

    status_list: StatusList | None
    validators: dict[str, str]
    revalidate_at: datetime
    error: str | None


class HttpStatusListSource:
    """Google's status list over HTTPS, cached in memory (thread-safe).

    With ``refresh_in_background`` (the service's setting), a list that is due for revalidation but
    still within ``max_age`` keeps being served while one background thread revalidates it
    (stale-while-revalidate, RFC 5861 section 3), so that requests never wait for Google; only when
    there is no usable list does the caller fetch inline. Without it, the caller that finds the list
    due revalidates inline (the CLI's one-shot use)."""

    def __init__(
        self,
        url: str = GOOGLE_STATUS_LIST_URL,
        *,
        max_age: timedelta = timedelta(hours=24),
        client: httpx.Client | None = None,
        clock: Clock = utc_now,
        timeout: float = 10.0,
        retry_after: timedelta = timedelta(minutes=1),
        refresh_in_background: bool = False,
    ) -> None:
        self._url = url
        self._max_age = max_age
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._clock = clock
        self._retry_after = retry_after
        self._refresh_in_background = refresh_in_background
        self._lock = threading.Lock()
        self._list: StatusList | None = None
        self._validators: dict[str, str] = {}
        self._revalidate_at: datetime | None = None
        self._background: threading.Thread | None = None
        self.last_error: str | None = None

    def current(self) -> StatusList | None:
        with self._lock:
            now = self._clock()
            usable = self._usable(now)
            if self._revalidate_at is None or now >= self._revalidate_at:
                if usable is not None and self._refresh_in_background:
                    self._start_background_refresh(now)
                else:
                    self._apply(self._fetch(now, self._list, self._validators))
                    usable = self._usable(now)
            return usable

    def wait_for_refresh(self, timeout: float | None = None) -> None:
        """Wait until a running background revalidation has finished (tests, shutdown)."""
        thread = self._background
        if thread is not None:
            thread.join(timeout)

    def _usable(self, now: datetime) -> StatusList | None:
        if self._list is None or self._list.fetched_at is None or now - self._list.fetched_at > self._max_age:
            return None
        return self._list

    def _start_background_refresh(self, now: datetime) -> None:
        """One revalidation thread at a time; the lock is not held while it talks to Google."""
        if self._background is not None and self._background.is_alive():
            return
        previous, validators = self._list, dict(self._validators)

        def revalidate() -> None:
            fetched = self._fetch(now, previous, validators)
            with self._lock:
                self._apply(fetched)

        self._background = threading.Thread(target=revalidate, name="status-list-refresh", daemon=True)
        self._background.start()

    def _apply(self, fetched: _Fetched) -> None:
        if fetched.status_list is not None:
            self._list = fetched.status_list
            self._validators = fetched.validators
        self._revalidate_at = fetched.revalidate_at
        self.last_error = fetched.error

    def _fetch(self, now: datetime, previous: StatusList | None, validators: dict[str, str]) -> _Fetched:
        """A conditional GET (RFC 9110 section 13.1) against ``previous``'s validators."""
        headers = {}
        if previous is not None:
            if "etag" in validators:
                headers["If-None-Match"] = validators["etag"]
            if "last-modified" in validators:
                headers["If-Modified-Since"] = validators["last-modified"]
        try:
            with self._client.stream("GET", self._url, headers=headers) as response:
                if response.status_code == 304 and previous is not None:
                    status_list = replace(previous, fetched_at=now)
                elif response.status_code == 200:
                    status_list = parse_status_list(_read_bounded(response), fetched_at=now, source=self._url)
                    validators = {
                        name: response.headers[name] for name in ("etag", "last-modified") if name in response.headers
                    }
                else:
                    raise RevocationError(f"status list fetch answered HTTP {response.status_code}")
                revalidate_at = now + _max_age(response.headers.get("cache-control"), default=self._max_age)
                return _Fetched(status_list, validators, revalidate_at, None)
        except (httpx.HTTPError, RevocationError) as exc:
            # Keep the last good list (its fetched_at bounds how long it is used); retry later.
            return _Fetched(None, validators, now + self._retry_after, str(exc))


def _read_bounded(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_STATUS_LIST_SIZE:
            raise RevocationError(f"status list is larger than {MAX_STATUS_LIST_SIZE} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _max_age(cache_control: str | None, *, default: timedelta) -> timedelta:
    """``Cache-Control: max-age`` (RFC 9111 section 5.2.2.1), capped at ``default``."""
    if cache_control:
        if "no-cache" in cache_control or "no-store" in cache_control:
            return timedelta(0)
        match = re.search(r"max-age=(\d+)", cache_control)
        if match:
            return min(timedelta(seconds=int(match.group(1))), default)
    return default
