"""One benchmark command: library throughput next to its signature floor and its peers, and the HTTP
service under load on SQLite and PostgreSQL.

    .venv/bin/python -m bench                   # the full run (a few minutes), as a table
    .venv/bin/python -m bench --quick --json    # under a minute, one JSON object on stdout

Library figures run pinned to one core; each operation, its raw floor (the signature checks alone, with
``cryptography``) and its peer (pyattest, bare ``webauthn``) take turns in short rounds and keep their best
round. HTTP figures start ``attest serve --workers 2`` on a fresh database per kind (PostgreSQL on
127.0.0.1:5432, user postgres, or ``ATTEST_BENCH_POSTGRES_URL``; dropped afterwards) and drive each
endpoint from a bounded load generator on loopback. Progress goes to stderr. See bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import ExitStack
from typing import Any

from bench.http_bench import HttpPlan, HttpRow, deployed, measure_http
from bench.http_load import Limits
from bench.library import Row, measure_library
from bench.report import document, machine, print_tables
from bench.servers import postgres_version
from bench.timing import Budget, allowed_cores, idlest_core, one_core


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short rounds and phases, one database: under a minute")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    parser.add_argument("--seconds", type=float, help="measuring time per library figure (default 3, quick 0.4)")
    parser.add_argument("--http-seconds", type=float, help="length of each HTTP phase (default 10, quick 2)")
    parser.add_argument("--no-http", action="store_true", help="library figures only")
    parser.add_argument("--no-library", action="store_true", help="HTTP figures only")
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql", "both"],
        help="where the HTTP service stores its state (default both; quick: postgresql, or sqlite without one)",
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections of the load generator")
    parser.add_argument(
        "--client", choices=["raw", "httpx"], default="raw", help="the load generator's HTTP client (default raw)"
    )
    return parser.parse_args(argv)


_STARTED = time.perf_counter()


def _progress(message: str) -> None:
    load = os.getloadavg()[0]
    print(f"[{time.perf_counter() - _STARTED:5.1f} s, load {load:4.2f}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    started = time.perf_counter()
    postgres = postgres_version()
    databases = (
        [] if args.no_http else _databases(args.database, quick=args.quick, postgres_reachable=postgres is not None)
    )
    seconds = args.seconds if args.seconds is not None else (0.4 if args.quick else 3.0)
    http_seconds = args.http_seconds if args.http_seconds is not None else (2.0 if args.quick else 10.0)
    settings: dict[str, Any] = {
        "quick": args.quick,
        "seconds_per_library_figure": seconds,
        "http_phase_seconds": http_seconds,
        "databases": databases,
        "connections": args.connections,
        "client": args.client,
        "server_workers": 2,
    }
    machine_before = machine(postgres)
    plan = HttpPlan(
        users=args.connections,
        warmup_seconds=0.3 if args.quick else 2.0,
        phase=Limits(http_seconds, max_requests=int(http_seconds * 3000)),
        client=args.client,
    )
    cores = allowed_cores()
    core = idlest_core(cores) if not args.no_library else None
    rows: list[Row] = []
    http: list[HttpRow] = []
    with ExitStack() as first:
        # Quick: the first server starts (imports, workers) on the other cores while the library is
        # measured on this one, and gets every core back before its load. Not in the full run: on a
        # busy machine the scheduler moves foreign work onto the library's core meanwhile.
        early = None
        if databases and args.quick:
            spare = cores - {core} if core is not None and len(cores) > 1 else None
            _progress(f"starting the service on {databases[0]}")
            early = first.enter_context(deployed(databases[0], plan, cores=spare))
        if core is not None:
            budget = Budget.for_seconds(seconds, round_seconds=0.1 if args.quick else 0.2)
            with one_core(core):
                _progress(f"library figures on core {core}, {budget.rounds} rounds of {budget.round_seconds} s")
                for row in measure_library(budget, variants=not args.quick):
                    _progress(f"  {row.name}: {row.ops_per_s:,.0f}/s (floor {row.floor_ops_per_s:,.0f}/s)")
                    rows.append(row)
        if early is not None:
            early.server.allow_cores(cores)
            _progress(f"HTTP on {early.kind}")
            http.extend(measure_http(early, plan, progress=_progress))
    for kind in databases[1:] if early is not None else databases:
        _progress(f"HTTP on {kind}")
        with deployed(kind, plan) as deployment:
            http.extend(measure_http(deployment, plan, progress=_progress))

    settings["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    machine_info = {**machine_before, "load_average_after": [round(value, 2) for value in os.getloadavg()]}
    if args.json:
        json.dump(document(rows, http, machine_info, settings), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_tables(rows, http, machine_info, settings)
    return 0


def _databases(choice: str | None, *, quick: bool, postgres_reachable: bool) -> list[str]:
    if choice == "both":
        return ["sqlite", "postgresql"]
    if choice is not None:
        return [choice]
    if quick:
        return ["postgresql"] if postgres_reachable else ["sqlite"]
    return ["sqlite", "postgresql"] if postgres_reachable else ["sqlite"]


if __name__ == "__main__":
    sys.exit(main())
