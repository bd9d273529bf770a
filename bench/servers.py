"""The service under load: a throwaway database (a SQLite file, or a fresh PostgreSQL database that is
dropped afterwards) and the real server, ``attest serve --workers N``, configured through ``ATTEST_*``
environment variables."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

#: The PostgreSQL server the benchmark creates its database on (trust auth, as on the CI machine).
POSTGRES_ADMIN_URL = os.environ.get("ATTEST_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" or "postgresql"
    url: str
    version: str

    def cpu_by_process(self) -> dict[int, float] | None:
        """CPU seconds so far of each process doing the database server's work for this database,
        where it runs apart from the service (PostgreSQL backends); None for SQLite, whose work is
        inside the service's workers."""
        if self.kind != "postgresql":
            return None
        return postgres_backends_cpu(self.url.rsplit("/", 1)[1])


@contextmanager
def sqlite_database(directory: Path) -> Iterator[Database]:
    import sqlite3

    yield Database("sqlite", f"sqlite:///{directory / 'bench.db'}", f"SQLite {sqlite3.sqlite_version}")


@contextmanager
def postgres_database() -> Iterator[Database]:
    """A uniquely named database on :data:`POSTGRES_ADMIN_URL`'s server, dropped on exit."""
    name = f"attest_bench_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        row = admin.execute("SHOW server_version").fetchone()
    version = f"PostgreSQL {row[0] if row else '?'}"
    try:
        yield Database("postgresql", f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}", version)
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version() -> str | None:
    """The server's version, or None when it is unreachable."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            row = admin.execute("SHOW server_version").fetchone()
    except psycopg.OperationalError:
        return None
    return f"PostgreSQL {row[0]}" if row else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A started server: ``wait_ready`` before sending it load."""

    url: str
    process: subprocess.Popen[bytes]
    workers: int
    log: Path
    _known: set[int] = field(default_factory=set)

    def wait_ready(self) -> None:
        """Until every worker has logged its startup (they listen on one port, so an answer from one
        proves nothing about the others) and ``/readyz`` answers."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server at {self.url} exited: {self.log.read_text()[-2000:]}")
            if self.log.read_text().count("Application startup complete") >= self.workers:
                try:
                    if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"the server at {self.url} was not ready within 120 s: {self.log.read_text()[-2000:]}")

    def cpu_by_process(self) -> dict[int, float]:
        """CPU seconds so far of the server and of each of its workers."""
        self._known.update(_process_tree(self.process.pid))
        figures = {pid: process_cpu_seconds(pid) for pid in self._known}
        return {pid: seconds for pid, seconds in figures.items() if seconds is not None}

    def allow_cores(self, cores: set[int]) -> None:
        """Let every thread of the server and of its worker processes run on ``cores``."""
        if not hasattr(os, "sched_setaffinity"):
            return
        for pid in _process_tree(self.process.pid):
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError, ValueError):  # the thread ended meanwhile
                    os.sched_setaffinity(int(task.name), cores)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process (all its threads); None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def postgres_backends_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to ``database`` (found by its process title);
    the server's shared processes (WAL writer, checkpointer) serve every database and are left out."""
    backends = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            title = cmdline.read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres:") and f" {database} ".encode() in title:
            seconds = process_cpu_seconds(int(cmdline.parent.name))
            if seconds is not None:
                backends[int(cmdline.parent.name)] = seconds
    return backends


def _stop(server: Server) -> None:
    """Terminate the server, then whatever is left of its workers (a worker outliving its supervisor
    would keep serving on a dropped database)."""
    descendants = set(_process_tree(server.process.pid)) | server._known
    descendants.discard(server.process.pid)
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = {pid for pid in descendants if _is_zombie(pid) is False}
        if not alive:
            return
        for pid in alive:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM if time.monotonic() < deadline - 5 else signal.SIGKILL)
        time.sleep(0.2)


def _is_zombie(pid: int) -> bool | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return None


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(parents.get(pid, []))
    return tree


@contextmanager
def service_server(
    environment: dict[str, str], workdir: Path, *, workers: int, cores: set[int] | None = None
) -> Iterator[Server]:
    """Start ``attest serve --workers N`` (N uvicorn worker processes, one ``SO_REUSEPORT`` socket each;
    see attest/server/workers.py) with ``environment`` added to ours, on ``cores`` when given (workers
    inherit it); stop it on exit. The server is not ready yet when this yields: call
    :meth:`Server.wait_ready`. It logs as in production: JSON lines on stderr, uvicorn's access log and
    the audit log included."""
    port = free_port()
    log_path = workdir / f"attest-serve-{port}.log"
    log = log_path.open("wb")

    def restrict() -> None:
        if cores is not None:
            os.sched_setaffinity(0, cores)

    process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
        [
            sys.executable,
            "-c",
            "from attest.cli import main; raise SystemExit(main())",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env={**os.environ, **environment},
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=log,
        preexec_fn=restrict if cores is not None else None,
    )
    server = Server(f"http://127.0.0.1:{port}", process, workers, log_path)
    try:
        yield server
    finally:
        _stop(server)
        log.close()
