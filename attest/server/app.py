"""FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from attest import __version__
from attest.server.middleware import BodyLimitMiddleware, RequestIdMiddleware
from attest.server.problems import install_problem_handlers
from attest.server.routes import android, apple, challenge, debug, health, keys
from attest.server.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    """The service for ``runtime`` (see :func:`attest.server.runtime.build_runtime`)."""
    app = FastAPI(
        title="attest",
        version=__version__,
        description="Device attestation (Android Key Attestation, Apple App Attest) and Client Attestation JWTs.",
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    for router in (health.router, challenge.router, android.router, apple.router, keys.router):
        app.include_router(router)
    if not runtime.settings.is_production:
        app.include_router(debug.router)
    app.add_middleware(BodyLimitMiddleware, limit=runtime.settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app
