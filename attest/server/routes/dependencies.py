"""Shared request dependencies."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request

from attest.server.audit import RequestAudit
from attest.server.rate_limit import Limit
from attest.server.runtime import Runtime


async def runtime_of(request: Request) -> Runtime:
    """The app's runtime. ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency
    in the thread pool, a hand-off to another thread and back on every request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def request_id_of(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


def request_audit(request: Request, runtime: Runtime, *, event: str, client_id: str, platform: str) -> RequestAudit:
    return RequestAudit(
        runtime.sessions, runtime.now(), event, client_id, platform, request_id_of(request), runtime.metrics
    )


def client_address(request: Request) -> str:
    """The peer address (uvicorn resolves X-Forwarded-For only for its trusted proxies)."""
    return request.client.host if request.client is not None else "unknown"


def limit_per_address(request: Request, runtime: Runtime, scope: str) -> None:
    """Count the request against the per-address limit of ``scope`` (raises ``rate_limited``)."""
    per_minute = runtime.settings.rate_limit_per_address
    if per_minute > 0:
        runtime.rate_limiter.hit(
            Limit(scope, per_minute, timedelta(minutes=1)), client_address(request), now=runtime.now()
        )
