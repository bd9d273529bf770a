"""HTTP figures: the service (``attest serve --workers 2``) on one database, each endpoint driven first as
fast as it answers, then at half that rate for its latency percentiles."""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.http_load import Limits, PhaseResult, run_phase
from bench.http_scenarios import Endpoint, Service, endpoints, prepare_service
from bench.servers import Database, Server, postgres_database, service_server, sqlite_database

Progress = Callable[[str], None]


@dataclass(frozen=True)
class HttpPlan:
    """How hard and how long: ``users`` concurrent connections; per endpoint a warm-up, a phase at most
    ``phase`` long as fast as the server answers, and one as long at half the rate it reached."""

    users: int
    warmup_seconds: float
    phase: Limits
    workers: int = 2
    client: str = "raw"


@dataclass(frozen=True)
class HttpRow:
    database: str
    endpoint: str
    path: str
    users: int
    peak: PhaseResult
    half: PhaseResult | None


@dataclass(frozen=True)
class Deployment:
    kind: str
    database: Database
    service: Service
    server: Server


@dataclass(frozen=True)
class _CpuSample:
    """CPU seconds so far of the load generator (this process), and per process of the server and of
    the database's backends."""

    generator: float
    server: dict[int, float]
    database: dict[int, float] | None

    @classmethod
    def take(cls, deployment: Deployment) -> _CpuSample:
        return cls(time.process_time(), deployment.server.cpu_by_process(), deployment.database.cpu_by_process())

    def until(self, later: _CpuSample, requests: int) -> tuple[dict[str, float], int | None]:
        """CPU milliseconds per request from this sample to ``later``, and the database connections
        opened meanwhile. A process that ended in between loses its last moments (PostgreSQL backends
        of connections the pool closed): the database figure is a lower bound then."""

        def spent(before: dict[int, float], after: dict[int, float]) -> float:
            return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

        figures = {
            "generator": 1000 * (later.generator - self.generator) / requests,
            "server": 1000 * spent(self.server, later.server) / requests,
        }
        opened = None
        if self.database is not None and later.database is not None:
            figures["database"] = 1000 * spent(self.database, later.database) / requests
            opened = len(set(later.database) - set(self.database))
        return {name: round(value, 3) for name, value in figures.items()}, opened

    def worker_split(self, later: _CpuSample) -> tuple[int, ...]:
        """Each server process's share of the server's CPU from this sample to ``later`` (percent,
        largest first; processes under 1 %, such as the supervisor, left out)."""
        spent = {pid: seconds - self.server.get(pid, 0.0) for pid, seconds in later.server.items()}
        total = sum(spent.values())
        if total <= 0:
            return ()
        shares = sorted((round(100 * value / total) for value in spent.values()), reverse=True)
        return tuple(share for share in shares if share >= 1)


def _database(kind: str, directory: Path) -> AbstractContextManager[Database]:
    return postgres_database() if kind == "postgresql" else sqlite_database(directory)


@contextmanager
def deployed(kind: str, plan: HttpPlan, *, cores: set[int] | None = None) -> Iterator[Deployment]:
    """A fresh database of ``kind`` ("sqlite" or "postgresql"), migrated and seeded with the clients,
    and the server starting on it (restricted to ``cores`` until :meth:`Server.allow_cores`)."""
    with tempfile.TemporaryDirectory(prefix="attest-bench-") as directory:
        workdir = Path(directory)
        with _database(kind, workdir) as database:
            service = prepare_service(database.url, workdir)
            try:
                with service_server(service.environment, workdir, workers=plan.workers, cores=cores) as server:
                    service.url = server.url
                    yield Deployment(kind, database, service, server)
            finally:
                service.close()


def measure_http(deployment: Deployment, plan: HttpPlan, *, progress: Progress | None = None) -> Iterator[HttpRow]:
    """Wait for the server, set up what each endpoint needs, and measure each endpoint in turn."""
    say = progress or (lambda _: None)
    deployment.server.wait_ready()
    say(f"  {deployment.kind}: server ready at {deployment.server.url}")
    chosen = endpoints()
    for endpoint in chosen:
        endpoint.setup(deployment.service, plan.users)
    say(f"  {deployment.kind}: devices and accounts set up")
    for endpoint in chosen:
        row = _measure_endpoint(endpoint, deployment, plan)
        say(f"  {deployment.kind}: {endpoint.name}: {row.peak.requests_per_s:,.0f} req/s")
        yield row


def _measure_endpoint(endpoint: Endpoint, deployment: Deployment, plan: HttpPlan) -> HttpRow:
    users, url = plan.users, deployment.server.url

    def phase(limits: Limits, rate: float | None = None) -> PhaseResult:
        per_user = max(1, math.ceil(limits.max_requests / users))
        streams = endpoint.streams(deployment.service, users, per_user)
        before = _CpuSample.take(deployment)
        result = asyncio.run(run_phase(url, streams, limits, rate=rate, client=plan.client))
        if result.requests:
            after = _CpuSample.take(deployment)
            result.cpu_ms_per_request, result.connections_opened = before.until(after, result.requests)
            result.worker_cpu_split = before.worker_split(after)
        return result

    # Warm-up: every worker's connections, caches and prepared statements; and an estimate of the rate,
    # so that about as many inputs are prepared as the phase can use.
    warm = phase(Limits(plan.warmup_seconds, users * 25))
    expected = 4 * warm.requests_per_s * plan.phase.seconds + 10 * users
    peak = phase(Limits(plan.phase.seconds, min(plan.phase.max_requests, math.ceil(expected))))
    half = None
    if peak.requests > 0:
        rate = peak.requests_per_s / 2
        half = phase(
            Limits(plan.phase.seconds, min(plan.phase.max_requests, math.ceil(rate * plan.phase.seconds) + users)),
            rate=rate,
        )
    return HttpRow(deployment.kind, endpoint.name, endpoint.path, users, peak, half)
