"""Where the time goes: CPU profiles of the library operations and of the service's request handling.

    .venv/bin/python -m bench.profiling library ["Android chain cached" ...] [--calls 2000]
    .venv/bin/python -m bench.profiling http ["Apple assertion -> JWT" ...] [--database postgresql]

For each operation: its CPU time per call without the profiler, then a profile with CPU time as the
clock (waiting on the database costs nothing there), summed by package (our modules, SQLAlchemy,
psycopg, FastAPI, OpenSSL through ``cryptography`` ...), and the functions with the most own time.

HTTP profiles run the application in this process on a real database, with the endpoints called
inline instead of in the thread pool, so that one profiler sees the whole request: what is measured is
the application's work per request, without uvicorn's HTTP parsing and the kernel's networking. A
one-worker server on the same database serves the setup (App Attest keys, passkeys) first.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import re
import sys
import sysconfig
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from bench.http_client import Request

ROOT = Path(__file__).resolve().parents[1]
_P = ParamSpec("_P")
_T = TypeVar("_T")
_SITE = re.compile(r"[/\\]site-packages[/\\]([^/\\]+)")
_STDLIB = sysconfig.get_paths()["stdlib"]


def package_of(filename: str, function: str) -> str:
    """The package a profile entry belongs to: ``attest.<subpackage>``, ``fido``, a dependency, the
    standard library, or the native code behind a builtin (named by the type it is a method of)."""
    if filename == "~":
        for marker, name in (
            ("cryptography", "cryptography (OpenSSL)"),
            ("_rust", "cryptography (OpenSSL)"),
            ("_hashlib", "hashlib (OpenSSL)"),
            ("pydantic_core", "pydantic"),
            ("sqlite3", "sqlite3 (native)"),
            ("cbor2", "cbor2"),
            ("psycopg", "psycopg"),
            ("select", "waiting (select/poll)"),
        ):
            if marker in function:
                return name
        return "Python builtins"
    site = _SITE.search(filename)
    if site is not None:
        name = site.group(1).removesuffix(".py")
        return {"starlette": "fastapi/starlette", "fastapi": "fastapi/starlette", "psycopg_binary": "psycopg"}.get(
            name, name
        )
    path = Path(filename)
    if path.is_relative_to(ROOT):
        parts = path.relative_to(ROOT).parts
        if parts[0] == "attest" and len(parts) > 1:
            return f"attest.{parts[1].removesuffix('.py')}"
        if parts[0] in ("bench", "tests"):
            return "benchmark harness"
        return parts[0].removesuffix(".py")
    if filename.startswith(_STDLIB):
        return f"stdlib {Path(filename).relative_to(_STDLIB).parts[0].removesuffix('.py')}"
    return "other"


def report(label: str, profile: cProfile.Profile, calls: int, cpu_per_call: float, *, top: int) -> str:
    """CPU per call, the profile's CPU by package, and the functions with the most own time."""
    stats = pstats.Stats(profile)
    entries: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, function), (_, _, own, _, _) in entries.items():
        by_package[package_of(filename, function)] += own
    total = sum(by_package.values()) or 1.0
    lines = [
        f"== {label}: {1e3 * cpu_per_call:.3f} ms CPU per call without the profiler "
        f"({1 / cpu_per_call:,.0f}/s of one core); profile over {calls} calls",
        "   CPU by package (share of the profiled CPU time):",
    ]
    for package, seconds in sorted(by_package.items(), key=lambda item: -item[1])[:14]:
        lines.append(f"     {100 * seconds / total:5.1f}%  {package}")
    lines.append("   functions with the most own CPU time (own ms per call, cumulative ms per call):")
    ranked = sorted(entries.items(), key=lambda item: -item[1][2])[:top]
    for (filename, line, function), (_, count, own, cumulative, _) in ranked:
        where = _short(filename, line, function)
        lines.append(f"     {1e3 * own / calls:7.3f} {1e3 * cumulative / calls:8.3f}  {count / calls:6.1f}x  {where}")
    ours = [item for item in entries.items() if package_of(item[0][0], item[0][2]).startswith(("attest", "fido"))]
    lines.append("   our functions by cumulative CPU time (ms per call):")
    for (filename, line, function), (_, count, _, cumulative, _) in sorted(ours, key=lambda item: -item[1][3])[:top]:
        lines.append(f"     {1e3 * cumulative / calls:8.3f}  {count / calls:6.1f}x  {_short(filename, line, function)}")
    return "\n".join(lines) + "\n"


def _short(filename: str, line: int, function: str) -> str:
    if filename == "~":
        return function
    site = _SITE.search(filename)
    if site is not None:
        filename = filename[site.start(1) :]
    elif Path(filename).is_relative_to(ROOT):
        filename = str(Path(filename).relative_to(ROOT))
    return f"{filename}:{line} {function}"


def profile_calls(run: Callable[[], object], calls: int) -> tuple[cProfile.Profile, float]:
    """A CPU-clock profile of ``calls`` runs, and the CPU time per run measured without the profiler."""
    for _ in range(min(50, calls)):
        run()
    start = time.process_time()
    for _ in range(calls):
        run()
    cpu_per_call = (time.process_time() - start) / calls
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for _ in range(calls):
        run()
    profile.disable()
    return profile, cpu_per_call


# --- library -------------------------------------------------------------------------------------------------


def profile_library(names: Iterable[str], calls: int, top: int) -> None:
    from bench.library import library_cases

    wanted = set(names)
    for case in library_cases(variants=True):
        if wanted and case.name not in wanted:
            continue
        with case.context():
            profile, cpu = profile_calls(case.ours, calls)
        sys.stdout.write(report(case.name, profile, calls, cpu, top=top))


# --- the service ---------------------------------------------------------------------------------------------


def _run_endpoints_inline() -> None:
    """FastAPI runs ``def`` endpoints and dependencies in a thread pool; here they run in the calling
    thread, so that the profiler sees them."""
    import fastapi.dependencies.utils
    import fastapi.routing

    async def inline(function: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        return function(*args, **kwargs)

    fastapi.routing.run_in_threadpool = inline  # type: ignore[attr-defined,assignment]
    fastapi.dependencies.utils.run_in_threadpool = inline  # type: ignore[attr-defined,assignment]


async def _call(app: Any, request: Request, port: int) -> int:
    """One request through the ASGI application; its status."""
    headers = [
        (b"host", f"127.0.0.1:{port}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(request.body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in request.headers),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", port),
    }
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": request.body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect before the answer
        raise AssertionError("unreachable")

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


def _one_request(
    loop: asyncio.AbstractEventLoop, app: Any, requests: Iterator[Request], port: int, name: str
) -> Callable[[], None]:
    def one() -> None:
        status = loop.run_until_complete(_call(app, next(requests), port))
        if not 200 <= status < 300:
            raise RuntimeError(f"{name}: status {status}")

    return one


def profile_http(names: Iterable[str], kind: str, calls: int, top: int) -> None:
    from attest.server.asgi import build_app
    from attest.server.settings import Settings
    from bench.http_bench import HttpPlan, deployed
    from bench.http_load import Limits
    from bench.http_scenarios import endpoints

    _run_endpoints_inline()
    wanted = set(names)
    plan = HttpPlan(users=1, warmup_seconds=0, phase=Limits(0, 0), workers=1)
    with deployed(kind, plan) as deployment:
        deployment.server.wait_ready()
        port = int(deployment.server.url.rsplit(":", 1)[1])
        chosen = [endpoint for endpoint in endpoints() if not wanted or endpoint.name in wanted]
        for endpoint in chosen:
            endpoint.setup(deployment.service, 1)
        values: dict[str, Any] = {
            name.removeprefix("ATTEST_").lower(): value for name, value in deployment.service.environment.items()
        }
        app = build_app(Settings(_env_file=None, **values))  # type: ignore[call-arg]
        loop = asyncio.new_event_loop()
        try:
            for endpoint in chosen:
                # Warm-up, the unprofiled figure and the profile each take their own requests.
                requests = next(iter(endpoint.streams(deployment.service, 1, 2 * calls + 50)))
                one = _one_request(loop, app, requests, port, endpoint.name)
                profile, cpu = profile_calls(one, calls)
                sys.stdout.write(report(f"{endpoint.name} on {kind} (in-process)", profile, calls, cpu, top=top))
        finally:
            loop.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profiling", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["library", "http"])
    parser.add_argument("names", nargs="*", help="operations or endpoints (default: all)")
    parser.add_argument("--calls", type=int, help="calls per profile (default: library 2000, http 300)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--top", type=int, default=15, help="functions listed per profile")
    args = parser.parse_args(argv)
    if args.what == "library":
        profile_library(args.names, args.calls or 2000, args.top)
    else:
        profile_http(args.names, args.database, args.calls or 300, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
