"""``attest serve --workers N``: N uvicorn worker processes, each with its own listening socket.

uvicorn's own ``--workers`` shares one listening socket between its workers: the first worker to wake
accepts every connection waiting, so a burst of keep-alive connections (a load balancer's pool, a load
test) can end up on one worker, which runs Python on one core (one GIL) while the others idle
(bench/RESULTS.md: 724 req/s with every connection on one worker). Here every worker listens on a socket
of its own bound to the same address with ``SO_REUSEPORT``, and the kernel assigns each new connection
to one of them by a hash of its addresses (Linux socket(7)).

The sockets are bound here, before any worker starts, so that an address in use is an error at once.
A worker that exits while the service runs is started again on its socket; one that exits within
:data:`STARTUP_GRACE` seconds of its start stops the service (it would only fail again). SIGINT and
SIGTERM stop the workers (each finishes its requests, as uvicorn does on SIGTERM) and then this process;
a worker whose supervisor died (SIGKILL) stops by itself within a second or two.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.context import SpawnProcess
from types import FrameType

log = logging.getLogger("attest.server")

#: A worker that exits sooner than this after its start is taken to be unable to start.
STARTUP_GRACE = 5.0
#: How long a stopping worker has to finish its requests before it is killed.
STOP_TIMEOUT = 30.0

_SPAWN = multiprocessing.get_context("spawn")


@dataclass
class _Worker:
    sock: socket.socket
    process: SpawnProcess
    started: float


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` with ``SO_REUSEPORT``, listening: one per worker."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise OSError("SO_REUSEPORT is not available here: run one worker per process behind a load balancer")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def serve_workers(host: str, port: int, workers: int) -> int:
    """Run ``workers`` worker processes until SIGINT or SIGTERM (0), or until a worker fails to start (1)."""
    first = listening_socket(host, port)
    port = first.getsockname()[1]  # the one the kernel chose, for port 0
    sockets = [first]
    try:
        sockets.extend(listening_socket(host, port) for _ in range(workers - 1))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    running = [_start(sock) for sock in sockets]
    log.info("serving on %s:%d with %d worker processes", host, port, workers)
    status = 0
    try:
        while not stopping:
            wait([worker.process.sentinel for worker in running], timeout=0.5)
            for index, worker in enumerate(running):
                if stopping or worker.process.is_alive():
                    continue
                code = worker.process.exitcode
                if time.monotonic() - worker.started < STARTUP_GRACE:
                    log.error("worker %d exited with %s right after its start; stopping", worker.process.pid, code)
                    stopping, status = True, 1
                    break
                log.warning("worker %d exited with %s; starting another", worker.process.pid, code)
                running[index] = _start(worker.sock)
    finally:
        _stop_all(running)
        for sock in sockets:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _start(sock: socket.socket) -> _Worker:
    process = _SPAWN.Process(target=run_worker, args=(sock,), name="attest-worker")
    process.start()
    return _Worker(sock, process, time.monotonic())


def _stop_all(running: list[_Worker]) -> None:
    for worker in running:
        if worker.process.is_alive():
            worker.process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for worker in running:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.is_alive():
            log.error("worker %d did not stop within %.0f s; killing it", worker.process.pid, STOP_TIMEOUT)
            worker.process.kill()
            worker.process.join()


def run_worker(sock: socket.socket) -> None:
    """One worker process: the service's app (from the ``ATTEST_*`` environment) served by uvicorn on
    ``sock``, logging JSON like the supervisor.

    The worker leaves the supervisor's process group, so that a Ctrl-C in a terminal reaches the
    supervisor alone, which then stops each worker once (uvicorn takes a second signal as "abort the
    requests in flight"). It stops itself when the supervisor is gone: a worker left behind would go on
    taking its share of the port's connections, beside any new supervisor's workers."""
    import uvicorn

    from attest.server.log_format import configure_json_logging

    os.setpgrp()
    _stop_when_orphaned(os.getppid())
    configure_json_logging()
    config = uvicorn.Config("attest.server.asgi:app_from_environment", factory=True, log_config=None)
    uvicorn.Server(config).run(sockets=[sock])


def _stop_when_orphaned(supervisor: int, interval: float = 1.0) -> None:
    """Send this process SIGTERM once its parent is no longer ``supervisor`` (polled every ``interval`` s)."""

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(interval)
        log.error("the supervisor (process %d) is gone; stopping", supervisor)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()
