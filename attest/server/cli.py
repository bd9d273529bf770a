"""`attest serve`, `attest db upgrade|purge`, `attest clients ...`, `attest keys ...`, `attest app-attest-keys ...`,
`attest mail send-pending`.

They read the same settings as the service (``ATTEST_*`` environment variables or ``.env``)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from attest.cli_output import UsageError
from attest.errors import AttestationError
from attest.server.app_attest_keys import AppAttestKeyRecord, list_app_attest_keys, revoke_app_attest_key
from attest.server.audit import RequestAudit
from attest.server.clients import (
    AndroidClientConfig,
    AppleClientConfig,
    ClientRegistration,
    DebugClientConfig,
    add_client,
    list_clients,
    load_registrations,
    remove_client,
)
from attest.server.db.engine import make_engine, make_sessionmaker
from attest.server.log_format import configure_json_logging
from attest.server.runtime import build_runtime, prepare_database
from attest.server.settings import Settings, decode_key
from attest.server.signing_keys import KeyEncryption, load_key_ring, rotate_key_ring


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="migrate the database and start the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes, each on its own SO_REUSEPORT socket (Linux)"
    )
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations and create the signing keys").set_defaults(handler=_db_upgrade)
    db.add_parser(
        "purge",
        help="delete challenges and passkey ceremonies expired for over an hour, and audit events past "
        "ATTEST_AUDIT_RETENTION (the service does it every ATTEST_PURGE_INTERVAL)",
    ).set_defaults(handler=_db_purge)

    clients = commands.add_parser("clients", help="registered clients").add_subparsers(
        dest="clients_command", required=True
    )
    add = clients.add_parser("add", help="register or replace a client")
    add.add_argument("client_id")
    add.add_argument("--platform", choices=["android", "apple", "debug"], required=True)
    add.add_argument("--package", action="append", default=[], help="Android package name (repeatable)")
    add.add_argument("--signer-digest", action="append", default=[], help="Android signing-cert SHA-256, hex")
    add.add_argument("--min-security-level", choices=["tee", "strongbox"], default="tee")
    add.add_argument("--allow-unverified-boot", action="store_true", help="accept unlocked test devices")
    add.add_argument("--app-id", action="append", default=[], help="Apple App ID TEAMID.bundle.id (repeatable)")
    add.add_argument("--environment", choices=["production", "development"], default="production")
    add.add_argument("--debug-secret", help="the debug client's secret (16 characters or more)")
    add.add_argument("--token-ttl", type=int, default=600, help="token lifetime in seconds")
    add.set_defaults(handler=_clients_add)
    clients.add_parser("list", help="list clients").set_defaults(handler=_clients_list)
    remove = clients.add_parser("remove", help="remove a client")
    remove.add_argument("client_id")
    remove.set_defaults(handler=_clients_remove)
    load = clients.add_parser("load", help="register the clients of a JSON config file")
    load.add_argument("file", type=Path)
    load.set_defaults(handler=_clients_load)

    keys = commands.add_parser("keys", help="token signing keys").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("rotate", help="activate the published next key, publish a new one").set_defaults(
        handler=_keys_rotate
    )
    keys.add_parser("list", help="list signing keys and their states").set_defaults(handler=_keys_list)

    app_attest = commands.add_parser("app-attest-keys", help="attested App Attest keys").add_subparsers(
        dest="app_attest_command", required=True
    )
    listing = app_attest.add_parser("list", help="list attested keys (JSON lines), oldest first")
    listing.add_argument("--client", help="only this client's keys")
    listing.set_defaults(handler=_app_attest_keys_list)
    revoke = app_attest.add_parser("revoke", help="refuse every further assertion of a key, at once")
    revoke.add_argument("key_id", help="the key id, base64 (as the app reports it)")
    revoke.set_defaults(handler=_app_attest_keys_revoke)

    mail = commands.add_parser("mail", help="the mail outbox").add_subparsers(dest="mail_command", required=True)
    mail.add_parser(
        "send-pending", help="send the queued mails that are due, once (exit 1 if any is left to retry or failed)"
    ).set_defaults(handler=_mail_send_pending)


#: An App Attest key id is the SHA-256 of the key's public point (App Attest, "Verify the attestation" step 5).
APP_ATTEST_KEY_ID_BYTES = 32


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise UsageError(f"invalid settings: {exc}") from exc


def _now(settings: Settings) -> datetime:
    return settings.fixed_time or datetime.now(UTC)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()
    configure_json_logging()
    prepare_database(settings)
    if args.workers > 1:
        from attest.server.workers import serve_workers

        try:
            return serve_workers(args.host, args.port, args.workers)
        except OSError as exc:
            raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    from attest.server.asgi import build_app

    uvicorn.run(build_app(settings), host=args.host, port=args.port, log_config=None)
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    prepare_database(_settings())
    print("database is up to date; signing keys are in place")
    return 0


def _db_purge(args: argparse.Namespace) -> int:
    from attest.server.housekeeping import purge_expired

    settings = _settings()
    engine = make_engine(settings.database_url)
    prepare_database(settings, engine=engine)
    purged = purge_expired(make_sessionmaker(engine), now=_now(settings), audit_retention=settings.audit_retention)
    print(purged.describe())
    return 0


def _clients_add(args: argparse.Namespace) -> int:
    settings = _settings()
    config: AndroidClientConfig | AppleClientConfig | DebugClientConfig
    try:
        if args.platform == "android":
            config = AndroidClientConfig(
                packages=tuple(args.package),
                signer_digests=tuple(args.signer_digest),
                min_security_level=args.min_security_level,
                require_verified_boot=not args.allow_unverified_boot,
                require_locked_bootloader=not args.allow_unverified_boot,
            )
        elif args.platform == "apple":
            config = AppleClientConfig(app_ids=tuple(args.app_id), environment=args.environment)
        else:
            config = DebugClientConfig()
        registration = ClientRegistration(
            client_id=args.client_id, config=config, token_ttl_seconds=args.token_ttl, debug_secret=args.debug_secret
        )
    except ValidationError as exc:
        raise UsageError(_validation_message(exc)) from exc
    _register([registration], settings)
    print(f"client {args.client_id} registered ({args.platform})")
    return 0


def _clients_load(args: argparse.Namespace) -> int:
    settings = _settings()
    try:
        registrations = load_registrations(args.file)
    except AttestationError as exc:
        raise UsageError(exc.message) from exc
    _register(registrations, settings)
    print(f"{len(registrations)} clients registered")
    return 0


def _register(registrations: list[ClientRegistration], settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    prepare_database(settings, engine=engine)
    try:
        with make_sessionmaker(engine).begin() as session:
            for registration in registrations:
                add_client(session, registration, now=_now(settings), production=settings.is_production)
    except AttestationError as exc:
        raise UsageError(exc.message) from exc


def _clients_list(args: argparse.Namespace) -> int:
    settings = _settings()
    engine = make_engine(settings.database_url)
    prepare_database(settings, engine=engine)
    with make_sessionmaker(engine)() as session:
        for client in list_clients(session):
            config = client.config.model_dump(mode="json")
            print(json.dumps({"client_id": client.client_id, "token_ttl": client.token_ttl.total_seconds(), **config}))
    return 0


def _clients_remove(args: argparse.Namespace) -> int:
    settings = _settings()
    engine = make_engine(settings.database_url)
    prepare_database(settings, engine=engine)
    with make_sessionmaker(engine).begin() as session:
        removed = remove_client(session, args.client_id)
    if not removed:
        sys.stderr.write(f"attest: no client {args.client_id!r}\n")
        return 1
    print(f"client {args.client_id} removed")
    return 0


def _app_attest_keys_list(args: argparse.Namespace) -> int:
    settings = _settings()
    engine = make_engine(settings.database_url)
    prepare_database(settings, engine=engine)
    with make_sessionmaker(engine)() as session:
        for record in list_app_attest_keys(session, client_id=args.client):
            print(json.dumps(_record_json(record)))
    return 0


def _app_attest_keys_revoke(args: argparse.Namespace) -> int:
    key_id = _app_attest_key_id(args.key_id)
    settings = _settings()
    engine = make_engine(settings.database_url)
    prepare_database(settings, engine=engine)
    sessions = make_sessionmaker(engine)
    now = _now(settings)
    audit: RequestAudit | None = None
    with sessions.begin() as session:
        revocation = revoke_app_attest_key(session, key_id, now=now)
        if revocation is not None and revocation.newly_revoked:
            # No key id in the audit trail (no device identifiers): the client and the time.
            audit = RequestAudit(sessions, now, "appattest.key_revoked", revocation.record.client_id, "apple", None)
            audit.record_in(session, "info")
    if revocation is None:
        sys.stderr.write(f"attest: no App Attest key {args.key_id!r}\n")
        return 1
    if audit is not None:
        audit.publish("info")
    record = revocation.record
    assert record.revoked_at is not None
    print(f"App Attest key {record.key_id} of client {record.client_id} revoked at {record.revoked_at.isoformat()}")
    return 0


def _app_attest_key_id(value: str) -> bytes:
    """A key id as the app reports it (base64 of 32 bytes; base64url accepted too)."""
    try:
        key_id = decode_key(value)
    except ValueError:
        raise UsageError(f"the key id {value!r} is not base64") from None
    if len(key_id) != APP_ATTEST_KEY_ID_BYTES:
        raise UsageError(f"the key id is {len(key_id)} bytes, an App Attest key id is {APP_ATTEST_KEY_ID_BYTES}")
    return key_id


def _record_json(record: AppAttestKeyRecord) -> dict[str, object]:
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in ((field.name, getattr(record, field.name)) for field in fields(record))
    }


def _keys_rotate(args: argparse.Namespace) -> int:
    settings = _settings()
    engine = make_engine(settings.database_url)
    prepare_database(settings, engine=engine)
    with make_sessionmaker(engine).begin() as session:
        ring = rotate_key_ring(
            session,
            KeyEncryption.from_settings(settings),
            now=_now(settings),
            max_token_lifetime=settings.max_token_ttl,
        )
    next_key = ring.next_key()
    print(f"active key {ring.active().kid}; next key {next_key.kid if next_key else '-'} published")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    settings = _settings()
    engine = make_engine(settings.database_url)
    prepare_database(settings, engine=engine)
    with make_sessionmaker(engine)() as session:
        ring = load_key_ring(session, KeyEncryption.from_settings(settings))
    for key in ring.keys if ring else ():
        print(f"{key.kid}  {key.alg}  {key.state.value}  created {key.created_at.isoformat()}")
    return 0


def _mail_send_pending(args: argparse.Namespace) -> int:
    settings = _settings()
    prepare_database(settings)
    try:
        runtime = build_runtime(settings)
    except AttestationError as exc:
        raise UsageError(exc.message) from exc
    report = runtime.mail.send_pending(runtime.sessions, now=runtime.now())
    print(f"mail: {report.sent} sent, {report.retrying} left to retry, {report.failed} refused or expired")
    return 0 if report.retrying == 0 and report.failed == 0 else 1


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'value'}: {error['msg']}" for error in exc.errors()[:5]
    )
