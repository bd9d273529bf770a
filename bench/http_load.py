"""A bounded load generator: a fixed number of virtual users on keep-alive connections, each sending the
requests of its own stream (an App Attest device must send its assertions in counter order), until a
deadline or a total request count is reached, whichever comes first.

Two kinds of phase:

* at most (closed loop): every user sends its next request as soon as the previous one answered; the
  throughput is the server's maximum at that concurrency;
* paced (open loop): users send on a fixed schedule that adds up to a given rate; a latency is counted
  from the moment the request was due, not from when it was sent, so that a stalled server shows in the
  percentiles instead of slowing the generator down (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from bench.http_client import CLIENTS, Connection, Request

#: A request that takes longer than this counts as an error.
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Limits:
    """What bounds a phase: its duration and its total request count."""

    seconds: float
    max_requests: int


@dataclass
class PhaseResult:
    """What one phase measured: ``requests`` and ``latencies`` are those answered with 2xx, ``errors``
    counts the other answers and the requests that failed."""

    requests: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    #: The offered rate of a paced phase (None: as fast as the server answers).
    offered_per_s: float | None = None
    #: Set when a user ran out of prepared requests before the deadline.
    exhausted: bool = False
    #: CPU milliseconds per answered request of the load generator, the server's workers and the
    #: database server's backends (where measured).
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    #: Database connections (PostgreSQL backends) opened during the phase; None for SQLite.
    connections_opened: int | None = None
    #: Each server process's share of the server's CPU in the phase, in percent, largest first: with one
    #: GIL per worker, a worker can use one core at most, and keep-alive connections stay with the
    #: worker that accepted them, so an uneven split caps the rate below what the cores allow.
    worker_cpu_split: tuple[int, ...] = ()

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    def percentile_ms(self, fraction: float) -> float | None:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(fraction * len(ordered)))
        return 1000 * ordered[rank - 1]


async def run_phase(
    base_url: str,
    streams: Sequence[Iterator[Request]],
    limits: Limits,
    *,
    rate: float | None = None,
    client: str = "raw",
) -> PhaseResult:
    """One phase with ``len(streams)`` users; ``rate`` paces them (requests per second, all users
    together), None lets them go as fast as the server answers."""
    result = PhaseResult(offered_per_s=rate)
    connections: list[Connection] = [CLIENTS[client](base_url) for _ in streams]
    budget = [limits.max_requests]
    start = time.perf_counter()
    deadline = start + limits.seconds
    users = len(streams)
    try:
        await asyncio.gather(
            *(
                _user(
                    connection, stream, result, budget, start, deadline, None if rate is None else (index, users, rate)
                )
                for index, (connection, stream) in enumerate(zip(connections, streams, strict=True))
            )
        )
    finally:
        result.elapsed = time.perf_counter() - start
        await asyncio.gather(*(connection.close() for connection in connections))
    return result


async def _user(
    connection: Connection,
    stream: Iterator[Request],
    result: PhaseResult,
    budget: list[int],
    start: float,
    deadline: float,
    pace: tuple[int, int, float] | None,
) -> None:
    sent = 0
    while budget[0] > 0:
        if pace is None:
            due = time.perf_counter()
        else:
            index, users, rate = pace
            due = start + (index + sent * users) / rate
            if due >= deadline:
                return
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        if time.perf_counter() >= deadline:
            return
        request = next(stream, None)
        if request is None:
            result.exhausted = True
            return
        budget[0] -= 1
        sent += 1
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                status = await connection.send(request)
        except (OSError, EOFError, TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            result.errors += 1
            result.statuses["failed"] += 1
            continue
        latency = time.perf_counter() - due
        result.statuses[str(status)] += 1
        if 200 <= status < 300:
            result.requests += 1
            result.latencies.append(latency)
        else:
            result.errors += 1
