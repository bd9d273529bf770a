"""Real server processes (uvicorn) for tests that need several workers on one database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server_processes(count: int, environment: dict[str, str], workdir: Path) -> Iterator[list[str]]:
    """Start ``count`` uvicorn processes of the service with ``environment``; yield their base URLs."""
    with server_process_handles(count, environment, workdir) as handles:
        yield [url for url, _ in handles]


@contextmanager
def server_process_handles(
    count: int, environment: dict[str, str], workdir: Path
) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """Like :func:`server_processes`, with each process (to kill one in a fault test)."""
    processes: list[subprocess.Popen[bytes]] = []
    urls = []
    env = {**os.environ, **environment}
    try:
        for _ in range(count):
            port = free_port()
            processes.append(
                subprocess.Popen(  # noqa: S603 -- our own interpreter and module
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        "attest.server.asgi:app_from_environment",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                    ],
                    env=env,
                    cwd=workdir,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            _wait_until_up(url, process)
        yield list(zip(urls, processes, strict=True))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"server at {url} exited: {stderr[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start within {timeout}s")
