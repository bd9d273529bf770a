"""Service settings, from environment variables (prefix ``ATTEST_``) or a ``.env`` file.

Development is the default: SQLite in the working directory, a generated signing-key encryption key,
console email, revocation best-effort. Production refuses to start unless every safety-relevant
setting is explicit (:meth:`Settings.production_problems`): a configured key-encryption key, no SQLite
unless allowed, revocation required, mail over SMTP with TLS (RFC 8314) and https links. Test-only knobs
(extra trust anchors, a fixed clock) are refused outright in production.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from attest.android.revocation import GOOGLE_STATUS_LIST_URL, RevocationMode
from fido.mail.smtp import is_loopback_host
from fido.relying_party import apk_key_hash_origin, check_rp_id, is_insecure, web_origin

#: The shortest bearer token ``/metrics`` accepts (``secrets.token_urlsafe(32)`` gives 43 characters).
METRICS_TOKEN_MIN_LENGTH = 32
#: The b64token syntax of a bearer token (RFC 6750 section 2.1).
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every setting of the service. Field names map to ``ATTEST_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="ATTEST_", env_file=".env", extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///./attest.db"
    #: Production must opt in to SQLite explicitly (a single-host deployment).
    allow_sqlite_in_production: bool = False
    #: Our issuer URL: ``iss`` of the tokens we sign and the base of our metadata.
    issuer: str = "http://127.0.0.1:8000"
    #: 32 bytes, base64: encrypts signing keys at rest (AES-256-GCM). Development generates one into
    #: ``state_dir`` on first start; production refuses to start without it.
    signing_key_encryption_key: str | None = None
    #: Where development keeps generated secrets.
    state_dir: Path = Path(".attest")
    signing_alg: str = "ES256"

    token_ttl: timedelta = timedelta(minutes=10)
    max_token_ttl: timedelta = timedelta(hours=24)
    challenge_ttl: timedelta = timedelta(minutes=5)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    #: Web origins allowed to call the API from a browser (comma-separated); empty: no CORS at all.
    cors_origins: str = ""
    #: Serve Prometheus metrics at /metrics.
    metrics_enabled: bool = True
    #: The bearer token /metrics requires (``Authorization: Bearer <token>``: Prometheus' ``authorization``
    #: scrape setting), at least 32 characters; unset: /metrics is public (development only: production
    #: refuses metrics without it). The figures show traffic and rejection volumes by error code.
    metrics_token: SecretStr | None = None
    #: Requests per minute from one client address to the challenge and attest endpoints (0: no limit).
    rate_limit_per_address: int = Field(default=120, ge=0)
    #: Debug-attest attempts per minute for one debug client (guards its secret against guessing).
    rate_limit_debug_per_client: int = Field(default=30, ge=0)
    #: Requests one worker process handles at once (its thread pool); also the size of its database
    #: connection pool, so that a request never waits for, nor opens, a connection under load. Few is
    #: fast: a worker runs Python on one core at a time (one GIL), its requests wait on the database only
    #: briefly, and every further thread in flight adds GIL hand-offs and context switches (bench/RESULTS.md:
    #: 16 threads served about a third fewer requests than 4). Requests that wait on Google's Play
    #: Integrity decode hold a thread meanwhile: raise it where most Android clients use the remote decode.
    worker_threads: int = Field(default=4, ge=1, le=256)
    #: Delete expired challenges and passkey ceremonies in the background (attest/server/housekeeping.py);
    #: false: only ``attest db purge`` does, e.g. from cron.
    purge_enabled: bool = True
    #: How often each worker process purges.
    purge_interval: timedelta = Field(default=timedelta(minutes=10), gt=timedelta(0), le=timedelta(days=1))
    #: How long audit events are kept (ISO 8601, e.g. P400D; at least a day); unset: forever.
    audit_retention: timedelta | None = Field(default=None, ge=timedelta(days=1))
    #: How long a worker keeps a registered client's configuration before reading it again (seconds;
    #: 0: on every request). A change made with ``attest clients`` reaches every worker within this time.
    client_cache_seconds: float = Field(default=5.0, ge=0, le=300)

    revocation: RevocationMode = RevocationMode.BEST_EFFORT
    status_list_url: str = GOOGLE_STATUS_LIST_URL
    #: A local status-list file (e.g. mirrored by a job); used instead of the URL when set.
    status_list_file: Path | None = None
    status_list_max_age: timedelta = timedelta(hours=24)

    # --- passkeys (fido/): the WebAuthn relying party -----------------------------------------
    #: The RP ID: the domain passkeys are bound to (WebAuthn Level 3 section 5.1.2).
    rp_id: str = "localhost"
    #: The name authenticators and browsers show when a passkey is created.
    rp_name: str = "attest"
    #: Web origins where ceremonies may run (comma-separated, exact). Empty: http://localhost:<the
    #: port the service is served on>, for development.
    rp_origins: str = ""
    #: SHA-256 of the signing certificates of our Android apps (comma-separated; base64url or colon
    #: hex): each allows the origin ``android:apk-key-hash:<base64url>`` of Credential Manager.
    android_apk_key_hashes: str = ""
    #: "none": any authenticator; "direct": only attestations that chain to a trust anchor.
    webauthn_attestation: Literal["none", "direct"] = "none"
    #: PEM roots for "direct" attestation by packed, tpm and fido-u2f authenticators (the roots of
    #: android-key, android-safetynet and apple ship with py_webauthn).
    webauthn_trust_anchors_file: Path | None = None
    #: Require user verification (PIN, biometric) in every ceremony.
    webauthn_require_user_verification: bool = True
    webauthn_ceremony_ttl: timedelta = Field(default=timedelta(minutes=5), gt=timedelta(0), le=timedelta(minutes=30))
    passkey_session_ttl: timedelta = Field(default=timedelta(hours=12), gt=timedelta(0))
    #: Lifetime of the signed login result handed to the authorization server.
    login_token_ttl: timedelta = Field(default=timedelta(minutes=2), gt=timedelta(0), le=timedelta(minutes=10))

    # --- email: verification and account recovery (fido/email_verification.py, fido/recovery.py) ------
    #: "console" prints every mail to standard output (development only); "smtp" delivers them.
    email_backend: Literal["console", "smtp"] = "console"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    #: Never logged or printed (SecretStr); sent only over TLS, or to a relay on this host.
    smtp_password: SecretStr | None = None
    #: "starttls" (RFC 3207, usually port 587), "implicit" (RFC 8314 section 3.3, usually 465), or "none"
    #: (a relay on this host; refused in production for any other host).
    smtp_tls: Literal["starttls", "implicit", "none"] = "starttls"
    #: PEM CA certificates for the SMTP server's certificate (a private relay); default: the system's.
    smtp_ca_file: Path | None = None
    smtp_timeout: timedelta = Field(default=timedelta(seconds=30), gt=timedelta(0), le=timedelta(minutes=5))
    #: The From header (RFC 5322 section 3.6.2), e.g. ``Example <no-reply@example.com>``.
    mail_from: str = "attest <no-reply@localhost>"
    #: Base of the links in mails (``<public_url>/passkeys/recover#token=...``): where users open the pages.
    public_url: str = "http://localhost:8000"
    #: Send the outbox from every worker process (a background thread); false: only `attest mail send-pending`.
    mail_sender_enabled: bool = True
    #: How often the sender looks for mails queued by other workers or due for a retry.
    mail_send_interval: timedelta = Field(default=timedelta(seconds=5), gt=timedelta(0))
    #: Mails per hour to one address (recovery, verification): stops mail bombing and code farming.
    rate_limit_mail_per_email: int = Field(default=5, ge=0)
    #: Requests per hour from one client address to each recovery and email endpoint.
    rate_limit_recovery_per_address: int = Field(default=30, ge=0)
    #: `POST /v1/recovery/start` and `/verify` answer no sooner than this, whether or not the address has an
    #: account (fido/recovery_routes.py): the answer's timing must not tell them apart.
    recovery_response_floor: timedelta = Field(default=timedelta(milliseconds=250), ge=timedelta(0))

    # --- test knobs: refused in production ---------------------------------------------------
    #: PEM file of extra trust anchors (a test CA) added to the Android and Apple roots.
    test_trust_anchors_file: Path | None = None
    #: Verify and sign as of this instant instead of the real clock (replaying captured samples).
    fixed_time: datetime | None = None

    @field_validator("metrics_token")
    @classmethod
    def _long_metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        if len(value.get_secret_value()) < METRICS_TOKEN_MIN_LENGTH:
            raise ValueError(f"ATTEST_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN_LENGTH} characters")
        if not _BEARER_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("ATTEST_METRICS_TOKEN must be a bearer token: letters, digits and -._~+/ (RFC 6750)")
        return value

    @field_validator("signing_key_encryption_key")
    @classmethod
    def _key_is_32_bytes(cls, value: str | None) -> str | None:
        if value is not None and len(decode_key(value)) != 32:
            raise ValueError("signing_key_encryption_key must be 32 bytes, base64")
        return value

    @field_validator("fixed_time")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("fixed_time must carry a timezone")
        return value

    @field_validator("rp_id")
    @classmethod
    def _rp_id(cls, value: str) -> str:
        return check_rp_id(value)

    @field_validator("rp_origins")
    @classmethod
    def _rp_origins(cls, value: str) -> str:
        return ",".join(web_origin(origin) for origin in value.split(",") if origin.strip())

    @field_validator("android_apk_key_hashes")
    @classmethod
    def _apk_key_hashes(cls, value: str) -> str:
        return ",".join(apk_key_hash_origin(item) for item in value.split(",") if item.strip())

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        _name, address = parseaddr(value)
        if address.count("@") != 1 or any(ord(c) < 32 or c == "\x7f" for c in value):
            raise ValueError("mail_from must be an address, optionally with a display name: Name <a@b.example>")
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        text = value.strip().rstrip("/")
        if "?" in text or "#" in text:
            raise ValueError("public_url must be an http(s) URL without query or fragment")
        web_origin(_origin_of(text))  # an http(s) scheme, a host, no credentials
        return text

    @model_validator(mode="after")
    def _smtp_credentials_in_pairs(self) -> Settings:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("set both ATTEST_SMTP_USERNAME and ATTEST_SMTP_PASSWORD, or neither")
        return self

    @property
    def rp_origin_list(self) -> list[str]:
        return [origin for origin in self.rp_origins.split(",") if origin]

    @property
    def apk_key_hash_list(self) -> list[str]:
        return [origin for origin in self.android_apk_key_hashes.split(",") if origin]

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def production_problems(self) -> list[str]:
        """Why these settings must not run in production (empty when they may)."""
        if not self.is_production:
            return []
        problems = []
        if self.signing_key_encryption_key is None:
            problems.append("ATTEST_SIGNING_KEY_ENCRYPTION_KEY is not set (no configured key store)")
        if self.uses_sqlite and not self.allow_sqlite_in_production:
            problems.append("SQLite in production needs ATTEST_ALLOW_SQLITE_IN_PRODUCTION=true")
        if self.test_trust_anchors_file is not None:
            problems.append("ATTEST_TEST_TRUST_ANCHORS_FILE is a test setting")
        if self.fixed_time is not None:
            problems.append("ATTEST_FIXED_TIME is a test setting")
        if self.metrics_enabled and self.metrics_token is None:
            problems.append("ATTEST_METRICS_ENABLED needs ATTEST_METRICS_TOKEN in production (or disable metrics)")
        if self.revocation is not RevocationMode.REQUIRED:
            problems.append("production requires ATTEST_REVOCATION=required")
        if not self.issuer.startswith("https://"):
            problems.append("ATTEST_ISSUER must be an https:// URL in production")
        if any(origin == "*" or not origin.startswith("https://") for origin in self.cors_origin_list):
            problems.append("ATTEST_CORS_ORIGINS must list https:// origins in production (no wildcard)")
        insecure = [origin for origin in self.rp_origin_list if is_insecure(origin)]
        if insecure:
            problems.append(f"ATTEST_RP_ORIGINS must be https:// in production (or localhost): {', '.join(insecure)}")
        if self.email_backend == "console":
            problems.append("ATTEST_EMAIL_BACKEND=console prints recovery codes; production needs smtp")
        if self.email_backend == "smtp" and self.smtp_tls == "none" and not is_loopback_host(self.smtp_host):
            problems.append("ATTEST_SMTP_TLS=none is allowed only for a relay on this host (localhost)")
        if not self.public_url.startswith("https://"):
            problems.append("ATTEST_PUBLIC_URL must be an https:// URL in production (recovery links carry secrets)")
        elif self.rp_origin_list and web_origin(_origin_of(self.public_url)) not in self.rp_origin_list:
            problems.append("ATTEST_PUBLIC_URL must be on one of ATTEST_RP_ORIGINS (its pages register passkeys)")
        return problems


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def decode_key(value: str) -> bytes:
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("not base64") from exc
