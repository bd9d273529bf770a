"""ASGI entry points: ``build_app(settings)``, and the factory uvicorn workers call."""

from __future__ import annotations

from fastapi import FastAPI

from attest.server.app import create_app
from attest.server.runtime import build_runtime
from attest.server.settings import Settings


def build_app(settings: Settings) -> FastAPI:
    return create_app(build_runtime(settings))


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory attest.server.asgi:app_from_environment`` (one per worker process)."""
    return build_app(Settings())
