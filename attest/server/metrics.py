"""Prometheus metrics: verdicts by event, outcome and error code, and request latency by route.

One registry per application (so tests and several apps in one process never collide). With several
worker processes each keeps its own figures; scrape each worker or run Prometheus' multiprocess mode.
``ATTEST_METRICS_TOKEN`` guards ``/metrics`` with a bearer token (required in production).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from attest.server.errors import MetricsUnauthorized

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.verdicts = Counter(
            "attest_verdicts",
            "Attestation and passkey verdicts, by event, outcome and error code.",
            ("event", "outcome", "code"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "attest_http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ("route", "method", "status"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def verdict(self, event: str, outcome: str, code: str | None) -> None:
        self.verdicts.labels(event=event, outcome=outcome, code=code or "").inc()

    def exposition(self, _request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    def guarded_exposition(self, token: str) -> Callable[[Request], Response]:
        """:meth:`exposition` for requests that carry ``Authorization: Bearer <token>`` (RFC 6750 section
        2.1; compared in constant time); any other request is ``metrics.unauthorized``."""
        expected = f"Bearer {token}".encode()

        def exposition(request: Request) -> Response:
            presented = request.headers.get("authorization", "").encode("latin-1")
            if not hmac.compare_digest(presented, expected):
                raise MetricsUnauthorized("/metrics requires its bearer token")
            return self.exposition(request)

        return exposition


class LatencyMiddleware:
    """Time every HTTP request; label it by the matched route template (never the raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.latency.labels(route=template, method=scope["method"], status=str(status)).observe(
                time.perf_counter() - started
            )
