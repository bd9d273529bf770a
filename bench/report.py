"""The figures of a run: the machine they were taken on, the targets they meet, as a table or as JSON."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench.http_bench import HttpRow
from bench.http_load import PhaseResult
from bench.library import Row

#: The issue's targets.
MAX_RATIO_TO_FLOOR = 2.0
MIN_SPEEDUP_VS_PYATTEST = 20.0
MAX_TIME_VS_BARE_WEBAUTHN = 1.3
HTTP_TARGETS = {"Apple assertion -> JWT": 800.0, "Android attest": 500.0}
MAX_P99_AT_HALF_LOAD_MS = 50.0


# --- the machine -------------------------------------------------------------------------------------


def machine(postgres: str | None) -> dict[str, Any]:
    """What the figures depend on: cores, CPU, Python, OpenSSL, PostgreSQL, the disk's flush latency
    (every committed transaction waits for one) and the load other processes put on the machine."""
    from cryptography.hazmat.backends.openssl import backend

    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cryptography": _version("cryptography"),
        "openssl": backend.openssl_version_text(),
        "postgresql": postgres,
        "fdatasync_ms": round(_fdatasync_ms(), 2),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "platform": platform.platform(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _fdatasync_ms(count: int = 20) -> float:
    with tempfile.NamedTemporaryFile() as handle:
        start = time.perf_counter()
        for _ in range(count):
            os.write(handle.fileno(), b"x" * 512)
            os.fdatasync(handle.fileno())
        return 1000 * (time.perf_counter() - start) / count


# --- targets -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    label: str
    met: bool | None  # None: not measured in this run
    detail: str


def targets(rows: Sequence[Row], http: Sequence[HttpRow]) -> list[Target]:
    found: list[Target] = []
    warm = [row for row in rows if " cold" not in row.name]
    over = [row for row in warm if row.ratio_to_floor > MAX_RATIO_TO_FLOOR]
    found.append(
        Target(
            f"every library operation within {MAX_RATIO_TO_FLOOR:g}x of its signature floor (intermediates cached)",
            not over if warm else None,
            "; ".join(f"{row.name}: {row.ratio_to_floor:.2f}x" for row in over)
            or ("all within" if warm else "not measured"),
        )
    )
    apple = next((row for row in rows if row.name == "App Attest attestation cached"), None)
    speedup = apple.speedup_vs_peer if apple is not None else None
    found.append(
        Target(
            f"App Attest attestation >= {MIN_SPEEDUP_VS_PYATTEST:g}x pyattest",
            None if speedup is None else speedup >= MIN_SPEEDUP_VS_PYATTEST,
            "pyattest not measured" if speedup is None else f"{speedup:.1f}x (cached intermediate)",
        )
    )
    # Our time per verification over bare webauthn's: the inverse of the speedup.
    overheads = {
        row.name: 1 / row.speedup_vs_peer
        for row in rows
        if row.name.startswith("WebAuthn login verify") and row.speedup_vs_peer
    }
    found.append(
        Target(
            f"WebAuthn login verification <= {MAX_TIME_VS_BARE_WEBAUTHN:g}x bare webauthn's time",
            all(value <= MAX_TIME_VS_BARE_WEBAUTHN for value in overheads.values()) if overheads else None,
            ", ".join(f"{name}: {value:.2f}x" for name, value in overheads.items()) or "not measured",
        )
    )
    postgres = {row.endpoint: row for row in http if row.database == "postgresql"}
    for endpoint, minimum in HTTP_TARGETS.items():
        row = postgres.get(endpoint)
        if row is None:
            found.append(Target(f"HTTP {endpoint} on PostgreSQL >= {minimum:g} req/s", None, "not measured"))
            found.append(
                Target(f"HTTP {endpoint}: p99 <= {MAX_P99_AT_HALF_LOAD_MS:g} ms at half load", None, "not measured")
            )
            continue
        rate = row.peak.requests_per_s
        found.append(
            Target(
                f"HTTP {endpoint} on PostgreSQL >= {minimum:g} req/s",
                rate >= minimum and row.peak.errors == 0,
                f"{rate:.0f} req/s, {row.peak.errors} errors",
            )
        )
        p99 = row.half.percentile_ms(0.99) if row.half is not None else None
        found.append(
            Target(
                f"HTTP {endpoint}: p99 <= {MAX_P99_AT_HALF_LOAD_MS:g} ms at half load",
                None if p99 is None else p99 <= MAX_P99_AT_HALF_LOAD_MS,
                "not measured"
                if p99 is None or row.half is None
                else f"{p99:.1f} ms at {row.half.offered_per_s or 0:.0f} req/s offered",
            )
        )
    return found


# --- JSON ------------------------------------------------------------------------------------------------


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def operation_json(row: Row) -> dict[str, Any]:
    return {
        "name": row.name,
        "ops_per_s": _round(row.ops_per_s, 1),
        "floor_ops_per_s": _round(row.floor_ops_per_s, 1),
        "ratio_to_floor": _round(row.ratio_to_floor, 3),
        "peer": row.peer,
        "speedup_vs_peer": _round(row.speedup_vs_peer, 3),
        "peer_ops_per_s": _round(row.peer_ops_per_s, 1),
        "floor": row.floor,
    }


def _phase_json(phase: PhaseResult) -> dict[str, Any]:
    return {
        "requests": phase.requests,
        "requests_per_s": _round(phase.requests_per_s, 1),
        "p50_ms": _round(phase.percentile_ms(0.50), 2),
        "p99_ms": _round(phase.percentile_ms(0.99), 2),
        "errors": phase.errors,
        "statuses": dict(phase.statuses),
        "inputs_exhausted": phase.exhausted,
        "cpu_ms_per_request": phase.cpu_ms_per_request,
        "database_connections_opened": phase.connections_opened,
        "worker_cpu_split": list(phase.worker_cpu_split),
    }


def http_json(row: HttpRow) -> dict[str, Any]:
    half = None
    if row.half is not None:
        half = {"offered_per_s": _round(row.half.offered_per_s, 1), **_phase_json(row.half)}
    return {
        "database": row.database,
        "endpoint": row.endpoint,
        "path": row.path,
        "connections": row.users,
        **_phase_json(row.peak),
        "half_load": half,
    }


def document(
    rows: Sequence[Row], http: Sequence[HttpRow], machine_info: dict[str, Any], settings: dict[str, Any]
) -> dict[str, Any]:
    return {
        "operations": [operation_json(row) for row in rows],
        "http": [http_json(row) for row in http],
        "targets": [{"target": t.label, "met": t.met, "detail": t.detail} for t in targets(rows, http)],
        "machine": machine_info,
        "settings": settings,
    }


# --- the table ---------------------------------------------------------------------------------------------


def _number(value: float | None, pattern: str = "{:,.0f}") -> str:
    return "-" if value is None else pattern.format(value)


def print_tables(
    rows: Sequence[Row], http: Sequence[HttpRow], machine_info: dict[str, Any], settings: dict[str, Any]
) -> None:
    sys.stdout.write(tables(rows, http, machine_info, settings))


def tables(rows: Sequence[Row], http: Sequence[HttpRow], machine_info: dict[str, Any], settings: dict[str, Any]) -> str:
    """The run as text: the machine, the library table, the HTTP table, the targets."""
    parts = [
        f"Machine: {machine_info['nproc']} cores, {machine_info['cpu']}; {machine_info['python']}; "
        f"cryptography {machine_info['cryptography']}, {machine_info['openssl']}; "
        f"{machine_info['postgresql'] or 'PostgreSQL unreachable'}; fdatasync {machine_info['fdatasync_ms']} ms; "
        f"load average {machine_info['load_average']} -> {machine_info.get('load_average_after')}\n",
        f"Settings: {settings}\n\n",
    ]
    if rows:
        parts.append(_library_table(rows))
    if http:
        parts.append(_http_table(http))
    parts.append("Targets\n")
    for target in targets(rows, http):
        mark = "n/a" if target.met is None else ("met" if target.met else "NOT met")
        parts.append(f"  [{mark}] {target.label}: {target.detail}\n")
    return "".join(parts)


def _library_table(rows: Sequence[Row]) -> str:
    header = (
        f"{'operation':<50} {'ours/s':>9} {'floor/s':>9} {'floor/ours':>10}  "
        f"{'peer':<18} {'peer/s':>9} {'ours/peer':>9}  floor is\n"
    )
    lines = [
        "Library, one core (ops/s; floor = the signature checks alone, with cryptography)\n",
        header,
        "-" * (len(header) + 20) + "\n",
    ]
    for row in rows:
        lines.append(
            f"{row.name:<50.50} {_number(row.ops_per_s):>9} {_number(row.floor_ops_per_s):>9} "
            f"{row.ratio_to_floor:>9.2f}x  {row.peer or '-':<18} {_number(row.peer_ops_per_s):>9} "
            f"{_number(row.speedup_vs_peer, '{:.2f}x'):>9}  {row.floor}\n"
        )
    return "".join(lines) + "\n"


def _http_table(http: Sequence[HttpRow]) -> str:
    header = (
        f"{'database':<10} {'endpoint':<24} {'conns':>5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>8} {'errors':>6}"
        f" {'CPU ms/req: server':>18} {'db':>5} {'client':>6}"
        f"  | {'half: req/s':>11} {'p50 ms':>7} {'p99 ms':>8} {'errors':>6}\n"
    )
    lines = [
        "HTTP, attest serve, 2 workers on loopback (max: as fast as answered; half: paced at half that rate, "
        "latency from the due time; CPU per answered request of the server's workers, the database's "
        "backends and the load generator)\n",
        header,
        "-" * len(header) + "\n",
    ]
    for entry in http:
        peak, half = entry.peak, entry.half
        cpu = peak.cpu_ms_per_request
        line = (
            f"{entry.database:<10} {entry.endpoint:<24} {entry.users:>5} {peak.requests_per_s:>7.0f} "
            f"{_number(peak.percentile_ms(0.5), '{:.1f}'):>7} {_number(peak.percentile_ms(0.99), '{:.1f}'):>8} "
            f"{peak.errors:>6} {_number(cpu.get('server'), '{:.2f}'):>18} {_number(cpu.get('database'), '{:.2f}'):>5} "
            f"{_number(cpu.get('generator'), '{:.2f}'):>6}"
        )
        if half is not None:
            line += (
                f"  | {half.offered_per_s or 0:>11.0f} {_number(half.percentile_ms(0.5), '{:.1f}'):>7} "
                f"{_number(half.percentile_ms(0.99), '{:.1f}'):>8} {half.errors:>6}"
            )
        if peak.worker_cpu_split:
            line += f"  (workers' CPU {'/'.join(str(share) for share in peak.worker_cpu_split)} %)"
        if peak.exhausted:
            line += "  (ran out of prepared inputs)"
        if peak.connections_opened:
            line += f"  ({peak.connections_opened} database connections opened)"
        lines.append(line + "\n")
    return "".join(lines) + "\n"
