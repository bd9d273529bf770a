"""FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from attest import __version__
from attest.server.housekeeping import PurgeLoop
from attest.server.metrics import LatencyMiddleware
from attest.server.middleware import BodyLimitMiddleware, RequestIdMiddleware, SecurityHeadersMiddleware
from attest.server.openapi import install_problem_openapi
from attest.server.problems import install_problem_handlers
from attest.server.routes import android, apple, challenge, debug, health, keys
from attest.server.runtime import Runtime
from fido import recovery_routes
from fido import routes as fido_routes
from fido.mail.outbox import SenderLoop


def create_app(runtime: Runtime) -> FastAPI:
    """The service for ``runtime`` (see :func:`attest.server.runtime.build_runtime`)."""
    app = FastAPI(
        title="attest",
        version=__version__,
        description="Device attestation (Android Key Attestation, Apple App Attest) and Client Attestation JWTs.",
        lifespan=_lifespan(runtime),
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    install_problem_openapi(app)
    for router in (health.router, challenge.router, android.router, apple.router, keys.router):
        app.include_router(router)
    app.include_router(fido_routes.router)  # passkeys: the API and its pages (fido/routes.py)
    app.include_router(recovery_routes.router)  # email verification and account recovery (fido/recovery_routes.py)
    if not runtime.settings.is_production:
        app.include_router(debug.router)
    if runtime.settings.metrics_enabled:
        token = runtime.settings.metrics_token
        exposition = (
            runtime.metrics.guarded_exposition(token.get_secret_value())
            if token is not None
            else runtime.metrics.exposition
        )
        app.add_route("/metrics", exposition, methods=["GET"], include_in_schema=False)
    # Outermost last: request id, then security headers, CORS, timing, and the body limit innermost.
    app.add_middleware(BodyLimitMiddleware, limit=runtime.settings.max_body_bytes)
    app.add_middleware(LatencyMiddleware, metrics=runtime.metrics)
    if runtime.settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=runtime.settings.cors_origin_list,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["content-type", "x-request-id"],
            allow_credentials=True,
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware, hsts=runtime.settings.issuer.startswith("https://"))
    app.add_middleware(RequestIdMiddleware)
    return app


def _lifespan(runtime: Runtime) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """While the app is served, its thread pool is sized to ``worker_threads``, and two loops run in threads of
    this process: the mail outbox's sender (fido.mail.outbox; off with ``ATTEST_MAIL_SENDER_ENABLED=false``,
    then ``attest mail send-pending`` sends) and the purge of expired rows (attest.server.housekeeping; off
    with ``ATTEST_PURGE_ENABLED=false``, then ``attest db purge`` purges)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The handlers run in AnyIO's thread pool: as many at once as the database pool has connections.
        anyio.to_thread.current_default_thread_limiter().total_tokens = runtime.settings.worker_threads
        sender = None
        if runtime.settings.mail_sender_enabled:
            interval = runtime.settings.mail_send_interval.total_seconds()
            sender = SenderLoop(runtime.mail, runtime.sessions, runtime.clock, interval=interval)
            sender.start()
        purge = None
        if runtime.settings.purge_enabled:
            interval = runtime.settings.purge_interval.total_seconds()
            purge = PurgeLoop(
                runtime.sessions, runtime.clock, interval=interval, audit_retention=runtime.settings.audit_retention
            )
            purge.start()
        try:
            yield
        finally:
            if purge is not None:
                purge.stop()
            if sender is not None:
                sender.stop()

    return lifespan
