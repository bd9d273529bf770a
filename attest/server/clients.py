"""Registered clients: what each app's attestations must show, and how long its tokens live.

Managed with ``attest clients add|list|remove`` or loaded from a config file (JSON list of
:class:`ClientRegistration`); stored in the ``clients`` table.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from attest.android.play_integrity.remote import API_BASE_URL as PLAY_INTEGRITY_API_BASE_URL
from attest.server.db.engine import Executor, affected_rows
from attest.server.db.models import Client, table_of
from attest.server.errors import ClientInvalid, ClientPlatformMismatch, ClientUnknown

_APP_ID_PATTERN = r"^[A-Z0-9]{10}\.[A-Za-z0-9.\-]+$"
_HTTP_URL_PATTERN = r"^https?://[^\s]+$"


class PlayIntegrityLocalDecoding(BaseModel):
    """Decode classic-request tokens here, with the app's response keys from the Play Console.

    The keys stay out of the database: these are paths of files that hold them as downloaded
    (base64 of the AES-256 decryption key; base64 of the DER verification key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["local"] = "local"
    decryption_key_file: Path
    verification_key_file: Path


class PlayIntegrityRemoteDecoding(BaseModel):
    """Decode tokens (standard and classic requests) at Google's ``decodeIntegrityToken``.

    ``service_account_file`` is the path of a service-account JSON key of the app's Google Cloud
    project (kept out of the database). ``token_uri`` overrides the token endpoint the key names;
    both URLs must be https in production."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["remote"] = "remote"
    service_account_file: Path
    api_base_url: Annotated[str, Field(pattern=_HTTP_URL_PATTERN)] = PLAY_INTEGRITY_API_BASE_URL
    token_uri: Annotated[str, Field(pattern=_HTTP_URL_PATTERN)] | None = None


class PlayIntegrityConfig(BaseModel):
    """Play Integrity next to Key Attestation. ``mode`` "required": a request without an integrity
    token is refused (``integrity.missing``); "optional": a token, when sent, must pass. The app and
    certificate digests checked are the client's ``packages`` and ``signer_digests``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["required", "optional"] = "required"
    decoding: Annotated[PlayIntegrityLocalDecoding | PlayIntegrityRemoteDecoding, Field(discriminator="method")]
    #: The deviceRecognitionVerdict label required: MEETS_BASIC/DEVICE/STRONG_INTEGRITY.
    required_device_verdict: Literal["basic", "device", "strong"] = "device"
    require_licensed: bool = False
    #: Maximum age of the verdict (timestampMillis) at verification.
    max_age_seconds: int = Field(default=300, ge=10, le=3600)

    def insecure_urls(self) -> list[str]:
        """The endpoints that are not https (refused in production)."""
        decoding = self.decoding
        if not isinstance(decoding, PlayIntegrityRemoteDecoding):
            return []
        urls = [decoding.api_base_url] + ([decoding.token_uri] if decoding.token_uri else [])
        return [url for url in urls if not url.startswith("https://")]


class AndroidClientConfig(BaseModel):
    """An Android app: package names and SHA-256 signing-certificate digests (hex), plus device policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Literal["android"] = "android"
    packages: tuple[str, ...] = Field(min_length=1)
    signer_digests: tuple[str, ...] = Field(min_length=1)
    min_security_level: Literal["tee", "strongbox"] = "tee"
    require_verified_boot: bool = True
    require_locked_bootloader: bool = True
    min_os_version: int | None = None
    min_os_patch_level: int | None = None
    #: Google Play Integrity verdicts as a second signal (None: not used; a token sent is ignored).
    play_integrity: PlayIntegrityConfig | None = None

    @field_validator("signer_digests")
    @classmethod
    def _sha256_hex(cls, digests: tuple[str, ...]) -> tuple[str, ...]:
        normalized = []
        for digest in digests:
            value = digest.replace(":", "").strip().lower()
            if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
                raise ValueError(f"{digest!r} is not a SHA-256 digest in hex")
            normalized.append(value)
        return tuple(normalized)


class AppleClientConfig(BaseModel):
    """An iOS app: its App IDs (``TEAMID.bundle.id``) and the App Attest environment it may use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Literal["apple"] = "apple"
    app_ids: tuple[Annotated[str, Field(pattern=_APP_ID_PATTERN)], ...] = Field(min_length=1)
    environment: Literal["production", "development"] = "production"


class DebugClientConfig(BaseModel):
    """An emulator / CI client, like Firebase App Check debug tokens. Development only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Literal["debug"] = "debug"


ClientConfig = Annotated[AndroidClientConfig | AppleClientConfig | DebugClientConfig, Field(discriminator="platform")]
_CONFIG = TypeAdapter[AndroidClientConfig | AppleClientConfig | DebugClientConfig](ClientConfig)


class ClientRegistration(BaseModel):
    """One entry of a clients config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str = Field(min_length=1, max_length=255)
    config: ClientConfig
    token_ttl_seconds: int = Field(default=600, ge=30, le=86_400)
    debug_secret: str | None = Field(default=None, min_length=16)


class RegisteredClient(BaseModel):
    """A client as the service uses it (the debug secret is never loaded, only checked)."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    config: AndroidClientConfig | AppleClientConfig | DebugClientConfig
    token_ttl: timedelta

    @property
    def platform(self) -> str:
        return self.config.platform


# --- the debug secret -------------------------------------------------------------------------


def hash_debug_secret(secret: str) -> str:
    """scrypt (RFC 7914) with a random salt: ``scrypt$<salt hex>$<hash hex>``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def debug_secret_matches(secret: str, stored: str | None) -> bool:
    if stored is None:
        return False
    try:
        scheme, salt, expected = stored.split("$")
        digest = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1, dklen=32)
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(digest.hex(), expected)


# --- storage ------------------------------------------------------------------------------------


def add_client(session: Session, registration: ClientRegistration, *, now: datetime, production: bool) -> None:
    """Register (or replace) a client. Debug clients cannot be created in production."""
    config = registration.config
    if isinstance(config, DebugClientConfig):
        if production:
            raise ClientInvalid("debug clients cannot be created in production")
        if registration.debug_secret is None:
            raise ClientInvalid("a debug client needs a debug secret (16 characters or more)")
    elif registration.debug_secret is not None:
        raise ClientInvalid("only debug clients have a debug secret")
    if production and isinstance(config, AndroidClientConfig) and config.play_integrity is not None:
        insecure = config.play_integrity.insecure_urls()
        if insecure:
            raise ClientInvalid(f"Play Integrity endpoints must be https in production: {insecure}")
    session.execute(delete(Client).where(Client.client_id == registration.client_id))
    session.add(
        Client(
            client_id=registration.client_id,
            platform=config.platform,
            config=config.model_dump(mode="json"),
            token_ttl_seconds=registration.token_ttl_seconds,
            debug_secret_hash=hash_debug_secret(registration.debug_secret) if registration.debug_secret else None,
            created_at=now,
        )
    )


def remove_client(session: Session, client_id: str) -> bool:
    return affected_rows(session.execute(delete(Client).where(Client.client_id == client_id))) > 0


def list_clients(session: Session) -> list[RegisteredClient]:
    return [_loaded(row) for row in session.scalars(select(Client).order_by(Client.client_id))]


def get_client(session: Session, client_id: str, *, platform: str | None = None) -> RegisteredClient:
    row = session.get(Client, client_id)
    if row is None:
        raise ClientUnknown(f"no client {client_id!r} is registered")
    client = _loaded(row)
    if platform is not None and client.platform != platform:
        raise ClientPlatformMismatch(f"client {client_id!r} is registered for {client.platform}, not {platform}")
    return client


class ClientDirectory:
    """Registered clients as one worker process sees them: a client read from the database is kept for
    ``ttl`` seconds (at most ``max_entries`` of them), so that the request path does not read and
    validate its configuration on every request. Unknown client ids are never remembered (they are
    looked up each time, and cannot fill the cache). ``ttl`` 0 reads on every call."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        ttl: float,
        max_entries: int = 1024,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, RegisteredClient]] = {}

    def get(self, client_id: str, *, platform: str | None = None) -> RegisteredClient:
        """The client (``client.unknown`` when none is registered; ``client.platform_mismatch`` when it is
        registered for another platform than ``platform``)."""
        client = self._remembered(client_id)
        if client is None:
            with self._sessions() as session:
                client = get_client(session, client_id)
            self._remember(client)
        if platform is not None and client.platform != platform:
            raise ClientPlatformMismatch(f"client {client_id!r} is registered for {client.platform}, not {platform}")
        return client

    def _remembered(self, client_id: str) -> RegisteredClient | None:
        with self._lock:
            entry = self._entries.get(client_id)
        if entry is None or self._monotonic() - entry[0] >= self._ttl:
            return None
        return entry[1]

    def _remember(self, client: RegisteredClient) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._entries.pop(client.client_id, None)
            if len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))  # the oldest insertion
            self._entries[client.client_id] = (self._monotonic(), client)


def debug_secret_hash_of(session: Executor, client_id: str) -> str | None:
    table = table_of(Client)
    statement = select(table.c.debug_secret_hash).where(table.c.client_id == client_id)
    return session.execute(statement).scalar_one_or_none()


def has_debug_clients(session: Session) -> bool:
    return session.scalar(select(Client.client_id).where(Client.platform == "debug").limit(1)) is not None


def _loaded(row: Client) -> RegisteredClient:
    try:
        config = _CONFIG.validate_python(row.config)
    except ValidationError as exc:
        raise ClientInvalid(f"stored configuration of {row.client_id!r} is invalid: {exc}") from exc
    return RegisteredClient(client_id=row.client_id, config=config, token_ttl=timedelta(seconds=row.token_ttl_seconds))


def load_registrations(path: Path) -> list[ClientRegistration]:
    """A clients config file: a JSON array of registrations."""
    try:
        document = json.loads(path.read_text())
        return TypeAdapter(list[ClientRegistration]).validate_python(document)
    except (OSError, ValueError) as exc:
        raise ClientInvalid(f"{path}: {exc}") from exc
