"""Everything a request handler needs, built once per process from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from attest.android.chain import IntermediateCache, TrustAnchors, google_hardware_attestation_roots
from attest.android.status_list_source import FileStatusListSource, HttpStatusListSource, StatusListSource
from attest.apple.chain import IntermediateCache as AppleIntermediateCache
from attest.apple.chain import TrustAnchor as AppleTrustAnchor
from attest.apple.policy import apple_app_attestation_root
from attest.errors import ConfigurationError
from attest.server.app_attest_keys import AppAttestKeyDirectory
from attest.server.clients import ClientDirectory, has_debug_clients
from attest.server.db.engine import make_engine, make_sessionmaker, one_statement_connections
from attest.server.db.migrate import upgrade
from attest.server.metrics import Metrics
from attest.server.play_integrity import PlayIntegrityDecoders
from attest.server.rate_limit import RateLimiter
from attest.server.settings import Settings
from attest.server.signing_keys import KeyEncryption, KeyRingProvider, ensure_key_ring, has_development_keys
from fido.email_secrets import KEY_PURPOSE as SECRET_KEY_PURPOSE
from fido.email_secrets import SecretHasher
from fido.mail.outbox import KEY_PURPOSE as OUTBOX_KEY_PURPOSE
from fido.mail.outbox import Mailer

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    #: Registered clients, kept for ``settings.client_cache_seconds``.
    clients: ClientDirectory
    keys: KeyRingProvider
    android_anchors: TrustAnchors
    android_intermediates: IntermediateCache
    apple_anchors: tuple[AppleTrustAnchor, ...]
    apple_intermediates: AppleIntermediateCache
    #: Attested App Attest keys this worker has used (their immutable facts; see the class).
    app_attest_keys: AppAttestKeyDirectory
    status_list: StatusListSource
    #: PEM of extra trust anchors (a test CA), added to the Apple root in non-production settings.
    test_anchor_pem: bytes | None
    metrics: Metrics
    #: Each Android client's Play Integrity token decoder, built on first use.
    play_integrity: PlayIntegrityDecoders
    rate_limiter: RateLimiter
    #: The mail outbox and its transport (fido.mail.outbox), for verification and recovery mails.
    mail: Mailer
    #: Keyed hashes of mailed one-time secrets (fido.email_secrets).
    secret_hasher: SecretHasher
    #: On PostgreSQL, autocommit connections for verdicts sent as one statement
    #: (attest.server.verdict_transaction); None elsewhere.
    one_statement_verdicts: Callable[[], Connection] | None = None

    def now(self) -> datetime:
        return self.clock()

    def token_ttl(self, client_ttl: timedelta) -> timedelta:
        return min(client_ttl, self.settings.max_token_ttl)


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    status_list: StatusListSource | None = None,
    engine: Engine | None = None,
    play_integrity_transport: httpx.BaseTransport | None = None,
) -> Runtime:
    """Everything the handlers share. ``play_integrity_transport`` replaces the HTTP transport to
    Google's Play Integrity API and token endpoint (tests)."""
    problems = settings.production_problems()
    if problems:
        raise ConfigurationError("refusing to start in production: " + "; ".join(problems))
    engine = engine or make_engine(settings.database_url, pool_size=settings.worker_threads)
    sessions = make_sessionmaker(engine)
    if settings.is_production:
        _refuse_development_state(sessions)
    if clock is None:
        fixed = settings.fixed_time
        clock = (lambda: fixed) if fixed is not None else system_clock
    test_pem = settings.test_trust_anchors_file.read_bytes() if settings.test_trust_anchors_file else None
    android_anchors = google_hardware_attestation_roots()
    if test_pem is not None:
        extra = TrustAnchors.from_pem_certificates(test_pem)
        android_anchors = TrustAnchors(android_anchors.anchors + extra.anchors)
    if status_list is None:
        status_list = (
            FileStatusListSource(settings.status_list_file, max_age=settings.status_list_max_age, clock=clock)
            if settings.status_list_file is not None
            else HttpStatusListSource(
                settings.status_list_url,
                max_age=settings.status_list_max_age,
                clock=clock,
                refresh_in_background=True,
            )
        )
    encryption = KeyEncryption.from_settings(settings)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        clients=ClientDirectory(sessions, ttl=settings.client_cache_seconds),
        keys=KeyRingProvider(sessions, encryption),
        android_anchors=android_anchors,
        android_intermediates=IntermediateCache(),
        apple_anchors=apple_app_attestation_root() + _ec_anchors(test_pem),
        apple_intermediates=AppleIntermediateCache(),
        app_attest_keys=AppAttestKeyDirectory(),
        status_list=status_list,
        test_anchor_pem=test_pem,
        metrics=Metrics(),
        play_integrity=PlayIntegrityDecoders(production=settings.is_production, transport=play_integrity_transport),
        rate_limiter=RateLimiter(sessions),
        mail=Mailer.from_settings(settings, encryption.derive(OUTBOX_KEY_PURPOSE)),
        secret_hasher=SecretHasher(encryption.derive(SECRET_KEY_PURPOSE)),
        one_statement_verdicts=one_statement_connections(engine),
    )


def _ec_anchors(pem: bytes | None) -> tuple[AppleTrustAnchor, ...]:
    """The ECDSA certificates of a test-anchor file, as App Attest anchors (Apple's roots are ECDSA)."""
    if pem is None:
        return ()
    return tuple(
        AppleTrustAnchor.from_certificate(certificate)
        for certificate in x509.load_pem_x509_certificates(pem)
        if isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
    )


def _refuse_development_state(sessions: sessionmaker[Session]) -> None:
    """Production must not run with anything a development start left in the database."""
    with sessions() as session:
        if has_development_keys(session):
            raise ConfigurationError(
                "refusing to start in production: the database holds signing keys generated by a development "
                "start (encrypted with a generated key); remove them and run `attest db upgrade` with "
                "ATTEST_SIGNING_KEY_ENCRYPTION_KEY set"
            )
        if has_debug_clients(session):
            raise ConfigurationError("refusing to start in production: debug clients are registered")


def prepare_database(settings: Settings, *, engine: Engine | None = None, now: datetime | None = None) -> None:
    """Migrate the schema and create the signing key ring on first start (run once, before workers)."""
    engine = engine or make_engine(settings.database_url)
    upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        ensure_key_ring(
            session,
            KeyEncryption.from_settings(settings),
            now=now or settings.fixed_time or system_clock(),
            alg=settings.signing_alg,
        )


def pem_of(anchors: TrustAnchors) -> bytes:
    return b"".join(
        serialization.load_der_public_key(anchor.public_key_der).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for anchor in anchors.anchors
    )
