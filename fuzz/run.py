"""Run the fuzz targets for a bounded time each; exit non-zero on any crash.

    .venv/bin/python fuzz/run.py [--seconds N] [--jobs J] [TARGET ...]

Each target runs in its own process (``python -m fuzz.fuzz_<target>``) under libFuzzer's
``-max_total_time``, ``jobs`` at a time, seeded from ``fuzz/corpus/<target>/`` (read only: new
inputs go to a scratch corpus, kept with ``--work DIR``). A crash (an exception the target does not
document, a failed oracle), a per-input timeout or a memory blow-up makes the run fail: the report
names the target and the input libFuzzer wrote under ``--artifacts`` (default
``test-artifacts/fuzz/<target>/``), with the command that replays it.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUZZ = ROOT / "fuzz"
TARGETS = tuple(sorted(path.stem.removeprefix("fuzz_") for path in FUZZ.glob("fuzz_*.py")))
#: Startup (imports, instrumentation, the seed corpus) and shutdown on top of the fuzzing time.
GRACE_SECONDS = 90
_ARTIFACT = re.compile(r"Test unit written to (\S+)")


@dataclass(frozen=True)
class Outcome:
    target: str
    returncode: int | None  # None: killed after the time bound
    seconds: float
    runs: int | None
    artifacts: tuple[str, ...]
    #: The end of the target's output (libFuzzer's report and the Python traceback of a crash).
    tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.artifacts


def run_target(
    target: str, *, seconds: int, timeout: int, work: Path, artifacts: Path, extra: tuple[str, ...] = ()
) -> Outcome:
    corpus = work / "corpus" / target
    corpus.mkdir(parents=True, exist_ok=True)
    crash_dir = artifacts / target
    crash_dir.mkdir(parents=True, exist_ok=True)
    log = work / f"{target}.log"
    command = [
        sys.executable,
        "-m",
        f"fuzz.fuzz_{target}",
        str(corpus),  # first corpus directory: where libFuzzer writes new inputs
        str(FUZZ / "corpus" / target),  # the committed seeds, only read
        f"-max_total_time={seconds}",
        f"-timeout={timeout}",
        "-rss_limit_mb=2048",
        f"-artifact_prefix={crash_dir}/",
        "-print_final_stats=1",
        *extra,
    ]
    max_len = declared_max_len(target)
    if max_len is not None:
        command.append(f"-max_len={max_len}")
    dictionary = FUZZ / "dicts" / f"{target}.dict"
    if dictionary.exists():
        command.append(f"-dict={dictionary}")
    before = set(crash_dir.iterdir())
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module, no shell
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode: int | None = process.wait(timeout=seconds + GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            returncode = None
    text = log.read_text("utf-8", "replace")
    # The final stats, or in -fork mode the last progress line ("#1041156: cov: ...").
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text) or re.findall(r"^#(\d+):", text, re.MULTILINE)
    # Every file libFuzzer wrote under the prefix: in -fork mode the crashing children report them,
    # not the parent log.
    written = sorted(str(path) for path in set(crash_dir.iterdir()) - before)
    return Outcome(
        target=target,
        returncode=returncode,
        seconds=time.monotonic() - started,
        runs=int(runs[-1]) if runs else None,
        artifacts=tuple(dict.fromkeys([*_ARTIFACT.findall(text), *written])),
        tail="\n".join(text.splitlines()[-60:]),
    )


def declared_max_len(target: str) -> int | None:
    """The target module's top-level ``MAX_LEN = <int expression>``, read without importing it; None
    leaves libFuzzer's default (the largest seed)."""
    tree = ast.parse((FUZZ / f"fuzz_{target}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "MAX_LEN" for t in node.targets):
            value = _constant(node.value)
            return value if isinstance(value, int) else None
    return None


def _constant(node: ast.expr) -> object:
    """A literal integer, or a product of two (``16 * 1024``)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        left, right = _constant(node.left), _constant(node.right)
        if isinstance(left, int) and isinstance(right, int):
            return left * right
    return None


def report(outcome: Outcome) -> None:
    runs = f"{outcome.runs} inputs" if outcome.runs is not None else "no stats"
    if outcome.ok:
        print(f"ok    {outcome.target}: {runs} in {outcome.seconds:.0f} s", flush=True)
        return
    why = "did not finish in time" if outcome.returncode is None else f"exit status {outcome.returncode}"
    print(f"CRASH {outcome.target}: {why}, {runs} in {outcome.seconds:.0f} s", flush=True)
    for artifact in outcome.artifacts:
        print(f"      input: {artifact}")
        print(f"      replay: {_shown(Path(sys.executable))} -m fuzz.fuzz_{outcome.target} {artifact}")
    print("\n".join(f"      | {line}" for line in outcome.tail.splitlines()), flush=True)


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (``.venv/bin/python``)."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=f"default: all of {', '.join(TARGETS)}")
    parser.add_argument("--seconds", type=int, default=10, help="fuzzing time per target (default 10)")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take (default 10)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="targets run at once (default: CPUs)")
    parser.add_argument("--work", type=Path, help="keep the scratch corpora and logs here (default: a temp dir)")
    parser.add_argument(
        "--libfuzzer",
        action="append",
        default=[],
        metavar="FLAG",
        help="extra libFuzzer flag, e.g. --libfuzzer=-fork=2",
    )
    parser.add_argument("--artifacts", type=Path, default=ROOT / "test-artifacts" / "fuzz", help="crash inputs")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    if args.seconds < 1 or args.jobs < 1 or args.timeout < 1:
        parser.error("--seconds, --timeout and --jobs must be positive")
    targets = args.targets or list(TARGETS)
    work = args.work or Path(tempfile.mkdtemp(prefix="attest-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"fuzzing {len(targets)} target(s) for {args.seconds} s each, {args.jobs} at a time", flush=True)
    outcomes = []
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            running = [
                pool.submit(
                    run_target,
                    target,
                    seconds=args.seconds,
                    timeout=args.timeout,
                    work=work,
                    artifacts=args.artifacts,
                    extra=tuple(args.libfuzzer),
                )
                for target in targets
            ]
            for future in as_completed(running):
                outcomes.append(future.result())
                report(outcomes[-1])
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    for directory in (args.artifacts / target for target in targets):
        with contextlib.suppress(OSError):  # keep only the directories that hold a crash
            directory.rmdir()
    failed = sorted(outcome.target for outcome in outcomes if not outcome.ok)
    if failed:
        print(f"FAILED: {', '.join(failed)}", flush=True)
        return 1
    print("no crashes", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
