"""``attest serve --workers N`` (attest/server/workers.py): a listening socket per worker, restarts of a
worker that dies, a clean stop on SIGTERM, and a clear error when the address is taken."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.attest.server.processes import free_port


def children(pid: int) -> set[int]:
    """The worker processes of the supervisor ``pid`` (multiprocessing's resource tracker left out)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in command and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def listening_sockets(port: int) -> int:
    """How many sockets listen on 127.0.0.1:``port`` (state 0A in /proc/net/tcp)."""
    local = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == local and line.split()[3] == "0A")


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def serve(tmp_path: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "ATTEST_DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}",
        "ATTEST_STATE_DIR": str(tmp_path / "state"),
    }
    command = "from attest.cli import main; raise SystemExit(main())"
    return subprocess.Popen(  # noqa: S603 -- our own interpreter and module
        [sys.executable, "-c", command, "serve", "--port", str(port), "--workers", str(workers)],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    process = serve(tmp_path, port, workers=2)
    try:
        wait_for(lambda: healthy(f"http://127.0.0.1:{port}") and len(children(process.pid)) == 2)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in children(process.pid):
            os.kill(pid, signal.SIGKILL)


def test_each_worker_listens_on_its_own_socket(service: tuple[subprocess.Popen[bytes], int]) -> None:
    _, port = service
    assert listening_sockets(port) == 2
    for _ in range(20):  # a new connection each time: the kernel picks a socket per connection
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"Connection": "close"}).status_code == 200


def test_a_worker_that_dies_is_started_again(service: tuple[subprocess.Popen[bytes], int]) -> None:
    process, port = service
    time.sleep(5.5)  # past the startup grace: a later exit is restarted, not fatal
    victim = min(children(process.pid))
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in children(process.pid) and len(children(process.pid)) == 2)
    wait_for(lambda: listening_sockets(port) == 2)
    assert healthy(f"http://127.0.0.1:{port}")
    assert process.poll() is None


def test_sigterm_stops_the_workers_and_the_supervisor(service: tuple[subprocess.Popen[bytes], int]) -> None:
    process, port = service
    workers = children(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=40) == 0
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), timeout=10)
    assert listening_sockets(port) == 0


def test_an_address_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = serve(tmp_path, port, workers=2)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in stderr.decode()


def test_workers_stop_when_the_supervisor_is_killed(service: tuple[subprocess.Popen[bytes], int]) -> None:
    """A worker left behind would go on taking its share of the port's connections."""
    process, port = service
    workers = children(process.pid)
    process.kill()
    process.wait()
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), timeout=30)
    assert listening_sockets(port) == 0


def test_workers_leave_the_supervisors_process_group(service: tuple[subprocess.Popen[bytes], int]) -> None:
    """So that a Ctrl-C in a terminal reaches the supervisor alone, which stops each worker once."""
    process, _ = service
    for pid in children(process.pid):
        assert os.getpgid(pid) != os.getpgid(process.pid)
