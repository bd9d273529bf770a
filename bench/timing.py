"""Operations per second, measured so that figures of one run compare fairly.

Contenders of one figure (ours, the raw floor, a peer) take turns in short rounds and the best round of
each is kept (as ``timeit`` keeps the minimum): a noisy neighbour on a shared machine then slows every
contender of the run alike instead of whichever happened to be running. Library figures run pinned to
one core (:func:`one_core`).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Budget:
    """How long to measure: ``rounds`` turns of about ``round_seconds`` per contender."""

    rounds: int
    round_seconds: float

    @classmethod
    def for_seconds(cls, seconds: float, *, round_seconds: float = 0.2) -> Budget:
        """About ``seconds`` of measuring per contender, in rounds of ``round_seconds``."""
        return cls(rounds=max(2, round(seconds / round_seconds)), round_seconds=round_seconds)


def rates(operations: Mapping[str, Callable[[], object]], budget: Budget) -> dict[str, float]:
    """Operations per second of each operation: rounds in which the operations take turns, the best
    round of each kept. Every operation runs once first (warm-up, and a failure surfaces before timing)."""
    for operation in operations.values():
        operation()
    best = dict.fromkeys(operations, 0.0)
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # a collection landing in one contender's round would skew that round alone
    try:
        for _ in range(budget.rounds):
            for label, operation in operations.items():
                best[label] = max(best[label], _one_round(operation, budget.round_seconds))
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


def _one_round(operation: Callable[[], object], seconds: float) -> float:
    count, batch = 0, 1
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            operation()
        count += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed
        # Grow the batch so that reading the clock costs nothing next to the operations.
        batch = min(batch * 2, 64)


def allowed_cores() -> set[int]:
    """The cores this process may run on (all of them where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def idlest_core(cores: set[int], *, sample_seconds: float = 0.3) -> int:
    """The core of ``cores`` that was idle longest over a short sample (/proc/stat), so that the
    library figures run next to as little foreign work as the machine allows."""
    before = _idle_ticks()
    time.sleep(sample_seconds)
    after = _idle_ticks()
    return max(sorted(cores), key=lambda core: after.get(core, 0) - before.get(core, 0))


def _idle_ticks() -> dict[int, int]:
    ticks: dict[int, int] = {}
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return ticks
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            ticks[int(name[3:])] = int(fields[3]) + int(fields[4])  # idle + iowait
    return ticks


@contextmanager
def one_core(core: int) -> Iterator[None]:
    """Pin this process to ``core`` for the duration (the library figures are per core), then restore
    the previous affinity (child processes started later, such as HTTP servers, inherit it)."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)
