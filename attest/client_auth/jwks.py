"""Where the Client Attester's public keys come from (draft section 10.8, "kid combined with
pre-shared information"): a JWK Set (RFC 7517 section 5), configured statically or fetched from
the attester's ``jwks_uri`` over HTTPS.

Keys are looked up by ``kid`` only. Keys named inside a token (``jku``, ``x5u``, ``jwk``,
``x5c``) are never used: the validator rejects such tokens before it gets here.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Protocol

import httpx

from attest.client_auth.errors import AttestationJwksUnavailable
from attest.errors import ConfigurationError
from attest.tokens.clock import require_aware
from attest.tokens.cnf import private_members


class JwksSource(Protocol):
    """The attester's verification keys."""

    def get_key(self, kid: str, *, now: datetime) -> Mapping[str, Any] | None:
        """The public JWK named ``kid``, or None when the attester has no such key.

        Raises :class:`AttestationJwksUnavailable` when the keys cannot be obtained at all.
        """
        ...


def parse_jwks(document: object) -> Mapping[str, Mapping[str, Any]]:
    """Signature keys of a JWK Set by ``kid``.

    Skipped: members without a string ``kid``, keys with ``use`` other than ``sig``, keys with
    private members (a published private key is compromised), and every key of a ``kid`` that
    appears more than once (ambiguous: the token could mean either).
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError('a JWK Set is a JSON object with a "keys" array')
    found: dict[str, Mapping[str, Any]] = {}
    duplicated: set[str] = set()
    for jwk in document["keys"]:
        if not isinstance(jwk, Mapping) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("use", "sig") != "sig" or private_members(jwk):
            continue
        kid = jwk["kid"]
        if kid in found:
            duplicated.add(kid)
        found[kid] = MappingProxyType(dict(jwk))
    return MappingProxyType({kid: jwk for kid, jwk in found.items() if kid not in duplicated})


class StaticJwksSource:
    """A fixed JWK Set, e.g. configured by hand or taken from our own :class:`attest.tokens.KeyRing`."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        try:
            self._keys = parse_jwks(jwks)
        except ValueError as error:
            raise ConfigurationError(f"static JWKS: {error}") from error

    def get_key(self, kid: str, *, now: datetime) -> Mapping[str, Any] | None:
        """The key named ``kid``, if configured."""
        return self._keys.get(kid)


_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)


class HttpJwksSource:
    """The attester's JWKS fetched with httpx and cached.

    * The cache lifetime is the response's ``Cache-Control: max-age`` (RFC 9111 section 5.2.2.1),
      clamped to ``[min_max_age, max_max_age]``; ``default_max_age`` when absent. Clamping from
      below means ``no-cache`` cannot turn every request into a fetch.
    * On an unknown ``kid`` the set is refetched once, at most every ``refetch_interval``: a key
      rotated in is found at once, while tokens with random ``kid``s cannot make us hammer the
      attester.
    * When a refresh fails, the previous set keeps serving for up to ``max_stale`` past its
      expiry; after that (or with no set at all) lookups fail closed with
      :class:`AttestationJwksUnavailable`.
    * Only HTTPS URLs unless ``require_https=False`` (tests); redirects are not followed; bodies
      over ``max_bytes`` are refused.

    ``transport`` is injected into the httpx client (e.g. ``httpx.MockTransport`` in tests). Time
    comes from the ``now`` of each lookup. Safe to share between threads.
    """

    def __init__(
        self,
        url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 5.0,
        require_https: bool = True,
        default_max_age: timedelta = timedelta(minutes=10),
        min_max_age: timedelta = timedelta(minutes=1),
        max_max_age: timedelta = timedelta(days=1),
        refetch_interval: timedelta = timedelta(minutes=1),
        max_stale: timedelta = timedelta(hours=1),
        max_bytes: int = 256 * 1024,
    ) -> None:
        if require_https and not url.lower().startswith("https://"):
            raise ConfigurationError(f"the JWKS URL must be https, got {url!r}")
        if not min_max_age <= default_max_age <= max_max_age:
            raise ConfigurationError("need min_max_age <= default_max_age <= max_max_age")
        self.url = url
        self._client = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)
        self._default_max_age = default_max_age
        self._min_max_age = min_max_age
        self._max_max_age = max_max_age
        self._refetch_interval = refetch_interval
        self._max_stale = max_stale
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._keys: Mapping[str, Mapping[str, Any]] | None = None
        self._expires_at: datetime | None = None
        self._last_attempt: datetime | None = None

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def get_key(self, kid: str, *, now: datetime) -> Mapping[str, Any] | None:
        """The key named ``kid``: from the cache, after a refresh when the cache expired, or after one
        rate-limited refetch when ``kid`` is unknown."""
        require_aware(now)
        with self._lock:
            if self._expires_at is None or now >= self._expires_at:
                self._refresh_expired(now)
            assert self._keys is not None
            key = self._keys.get(kid)
            if key is None and self._may_refetch(now):
                self._try_fetch(now)
                key = self._keys.get(kid)
            return key

    def _may_refetch(self, now: datetime) -> bool:
        return self._last_attempt is None or now - self._last_attempt >= self._refetch_interval

    def _refresh_expired(self, now: datetime) -> None:
        if self._may_refetch(now) and self._try_fetch(now):
            return
        usable = self._keys is not None and self._expires_at is not None and now < self._expires_at + self._max_stale
        if not usable:
            raise AttestationJwksUnavailable(f"no usable JWKS from {self.url}")

    def _try_fetch(self, now: datetime) -> bool:
        self._last_attempt = now
        try:
            keys, max_age = self._fetch()
        except (httpx.HTTPError, ValueError, RecursionError):
            return False
        self._keys = keys
        self._expires_at = now + max_age
        return True

    def _fetch(self) -> tuple[Mapping[str, Mapping[str, Any]], timedelta]:
        with self._client.stream("GET", self.url, headers={"Accept": "application/json"}) as response:
            if response.status_code != httpx.codes.OK:
                raise ValueError(f"JWKS fetch answered {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > self._max_bytes:
                    raise ValueError(f"JWKS larger than {self._max_bytes} bytes")
            cache_control = response.headers.get("cache-control", "")
        keys = parse_jwks(json.loads(bytes(body)))
        return keys, self._max_age(cache_control)

    def _max_age(self, cache_control: str) -> timedelta:
        match = _MAX_AGE.search(cache_control)
        if match is None:
            return self._default_max_age
        age = timedelta(seconds=min(int(match.group(1)), 10**9))
        return max(self._min_max_age, min(age, self._max_max_age))
