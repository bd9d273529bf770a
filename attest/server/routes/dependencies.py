"""Shared request dependencies."""

from __future__ import annotations

from fastapi import Request

from attest.server.audit import RequestAudit
from attest.server.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def request_id_of(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


def request_audit(request: Request, runtime: Runtime, *, event: str, client_id: str, platform: str) -> RequestAudit:
    return RequestAudit(
        runtime.sessions, runtime.now(), event, client_id, platform, request_id_of(request), runtime.metrics
    )
