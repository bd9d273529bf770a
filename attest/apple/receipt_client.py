"""Refresh an App Attest receipt at Apple's ``attestationData`` endpoint (Apple, "Assessing fraud risk").

The server POSTs the base64 receipt with ``Authorization: <JWT>``, a developer token signed ES256 with a
DeviceCheck-enabled key of the team (header ``alg``, ``kid``; claims ``iss`` = Team ID, ``iat``). Apple
answers 200 with a new base64 receipt carrying the risk metric, or 304 when there is nothing new yet;
400/401 reject the request, 404 means Apple holds no data for the receipt any more, 429 asks to back
off. Development (sandbox) receipts go to the development host, production ones to the production
host; one receipt is never valid at the other.

The HTTP transport is injectable (any ``httpx.BaseTransport``) and the clock is an argument, so the
client is tested against a local server and a fixed time. Both the receipt sent and the one received
are verified with :func:`attest.apple.receipt.verify_apple_receipt`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey

from attest.apple.errors import (
    ReceiptEnvironmentNotAllowed,
    ReceiptExpired,
    ReceiptRefreshError,
    ReceiptRefreshNoData,
    ReceiptRefreshRateLimited,
    ReceiptRefreshRejected,
)
from attest.apple.policy import Environment, ReceiptPolicy
from attest.apple.receipt import MAX_RECEIPT_SIZE, AppleReceipt, verify_apple_receipt
from attest.errors import ConfigurationError

PRODUCTION_URL = "https://data.appattest.apple.com/v1/attestationData"
DEVELOPMENT_URL = "https://data-development.appattest.apple.com/v1/attestationData"
#: Apple's recommended freshness for a receipt just received.
FRESH_RECEIPT_MAX_AGE = timedelta(minutes=5)
#: Base64 of the largest receipt we accept, with room for line breaks.
MAX_RESPONSE_SIZE = MAX_RECEIPT_SIZE * 4 // 3 + 4096


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DeveloperKey:
    """The team's DeviceCheck key (the ``.p8`` file from the developer account) and its identifiers."""

    team_id: str
    key_id: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (len(self.team_id) == 10 and self.team_id.isalnum()):
            raise ConfigurationError(f"team id {self.team_id!r} is not a 10-character Team ID")
        if not self.key_id or not self.key_id.isalnum():
            raise ConfigurationError(f"key id {self.key_id!r} is not a DeviceCheck key identifier")
        if not isinstance(self.private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            self.private_key.curve, ec.SECP256R1
        ):
            raise ConfigurationError("the DeviceCheck key must be an ECDSA P-256 private key (ES256)")

    @classmethod
    def from_p8(cls, team_id: str, key_id: str, pem: bytes) -> DeveloperKey:
        """Load the PKCS #8 PEM key Apple lets you download once (``AuthKey_<key id>.p8``)."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"the DeviceCheck key is not a PKCS #8 PEM private key: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigurationError("the DeviceCheck key must be an ECDSA P-256 private key (ES256)")
        return cls(team_id, key_id, key)

    def token(self, *, issued_at: datetime) -> str:
        """A developer token (JWS compact, ES256) for Apple's App Attest server."""
        return jwt.encode(
            {"alg": "ES256", "kid": self.key_id},
            {"iss": self.team_id, "iat": int(issued_at.timestamp())},
            ECKey.import_key(self.private_key),
            algorithms=["ES256"],
            default_type=None,
        )


@dataclass(frozen=True, slots=True)
class ReceiptRefresh:
    """The outcome of a refresh: the receipt to keep using, and whether Apple sent a new one."""

    receipt: AppleReceipt
    refreshed: bool
    #: Apple's HTTP status, or None when no request was made (before the receipt's not-before time).
    status_code: int | None


class ReceiptRefreshClient:
    """Trades a stored receipt for a fresh one at Apple, for one environment.

    ``policy`` verifies both receipts (its ``max_age`` is ignored for the stored one; the new one must
    be at most ``fresh_max_age`` old). Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        developer_key: DeveloperKey,
        policy: ReceiptPolicy,
        *,
        environment: Environment,
        transport: httpx.BaseTransport | None = None,
        url: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
        timeout: float = 10.0,
        fresh_max_age: timedelta = FRESH_RECEIPT_MAX_AGE,
    ) -> None:
        self.developer_key = developer_key
        self.environment = Environment(environment)
        self.url = url or (PRODUCTION_URL if self.environment is Environment.PRODUCTION else DEVELOPMENT_URL)
        self._stored_policy = dataclasses.replace(policy, max_age=None)
        self._fresh_policy = dataclasses.replace(policy, max_age=fresh_max_age)
        self._clock = clock
        self._http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)

    def __enter__(self) -> ReceiptRefreshClient:
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

    def refresh(self, receipt: bytes, *, public_key: ec.EllipticCurvePublicKey) -> ReceiptRefresh:
        """Verify the stored ``receipt`` (for the attested ``public_key``), then ask Apple for a new
        one unless it is too early (before its not-before time: the stored receipt is returned) or
        too late (past its expiration: :class:`ReceiptExpired`)."""
        now = self._now()
        current = verify_apple_receipt(receipt, self._stored_policy, at=now, public_key=public_key)
        if current.environment is not self.environment:
            raise ReceiptEnvironmentNotAllowed(
                f"a {current.environment} receipt cannot be refreshed at the {self.environment.value} host"
            )
        if current.expiration_time <= now:
            raise ReceiptExpired(f"the receipt expired at {current.expiration_time.isoformat()}")
        if current.not_before is not None and now < current.not_before:
            return ReceiptRefresh(current, refreshed=False, status_code=None)
        status, body = self._post(receipt, now)
        if status == httpx.codes.NOT_MODIFIED:
            return ReceiptRefresh(current, refreshed=False, status_code=status)
        if status != httpx.codes.OK:
            raise _status_error(status, body)
        fresh = self._decode_body(body)
        verified = verify_apple_receipt(fresh, self._fresh_policy, at=self._now(), public_key=public_key)
        return ReceiptRefresh(verified, refreshed=True, status_code=status)

    def _post(self, receipt: bytes, now: datetime) -> tuple[int, bytes]:
        headers = {"Authorization": self.developer_key.token(issued_at=now)}
        try:
            with self._http.stream("POST", self.url, content=base64.b64encode(receipt), headers=headers) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_RESPONSE_SIZE:
                        raise ReceiptRefreshError(
                            f"Apple's response is larger than {MAX_RESPONSE_SIZE} bytes",
                            status_code=response.status_code,
                        )
                return response.status_code, bytes(body)
        except httpx.HTTPError as exc:
            raise ReceiptRefreshError(f"request to {self.url} failed: {type(exc).__name__}: {exc}") from None

    def _decode_body(self, body: bytes) -> bytes:
        try:
            return base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ReceiptRefreshError("Apple's response body is not a base64 receipt", status_code=200) from None

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise TypeError("the clock must return timezone-aware datetimes")
        return now


def _status_error(status: int, body: bytes) -> ReceiptRefreshError:
    detail = body[:200].decode("utf-8", "replace").strip()
    message = f"Apple answered HTTP {status}" + (f": {detail}" if detail else "")
    if status in (httpx.codes.BAD_REQUEST, httpx.codes.UNAUTHORIZED):
        return ReceiptRefreshRejected(message, status_code=status)
    if status == httpx.codes.NOT_FOUND:
        return ReceiptRefreshNoData(message, status_code=status)
    if status == httpx.codes.TOO_MANY_REQUESTS:
        return ReceiptRefreshRateLimited(message, status_code=status)
    return ReceiptRefreshError(message, status_code=status)
