"""FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from attest import __version__


def create_app() -> FastAPI:
    """Build the service. Routes are added per resource as they land."""
    app = FastAPI(title="attest", version=__version__)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    return app
