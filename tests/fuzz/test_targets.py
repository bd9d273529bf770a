"""The fuzz targets of fuzz/ are wired: each imports without atheris, every committed seed is what
fuzz/make_corpus.py builds and passes its target (at least one through every check), generated
and mutated inputs raise only the errors the target documents, and the crash reproducers of
fuzz/crashes/ are replayed. The fuzzing itself is ``fuzz/run.py`` (needs atheris)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz import make_corpus

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "fuzz"
TARGETS = sorted(path.stem.removeprefix("fuzz_") for path in FUZZ.glob("fuzz_*.py"))

#: Reproducers of crashes not fixed yet: replayed as strict expected failures, so that the fix shows
#: up as an unexpected pass (then delete the entry: the file stays as a regression input).
#: Crash reproducers whose bug is still open (strict expected failures). All found so far are fixed:
#: TypeError from BIT STRING name attributes (android chain), RecursionError from deep JSON (Apple client
#: data, status list), OverflowError from huge NumericDates and joserfc's key_ops refusal (client_auth).
OPEN_CRASHES: dict[str, type[Exception]] = {}


def target(name: str) -> ModuleType:
    return importlib.import_module(f"fuzz.fuzz_{name}")


def seeds(name: str) -> list[Path]:
    return sorted((FUZZ / "corpus" / name).iterdir())


@cache
def seed_bytes(name: str) -> tuple[bytes, ...]:
    return tuple(path.read_bytes() for path in seeds(name))


def test_targets_corpora_and_builders_match() -> None:
    assert TARGETS
    assert sorted(path.name for path in (FUZZ / "corpus").iterdir()) == TARGETS
    assert sorted(make_corpus.BUILDERS) == TARGETS


@pytest.mark.parametrize("name", TARGETS)
def test_committed_seeds_are_what_make_corpus_builds(name: str) -> None:
    built = make_corpus.BUILDERS[name]()
    assert {path.name: path.read_bytes() for path in seeds(name)} == built, "run fuzz/make_corpus.py"


def test_targets_import_without_atheris() -> None:
    modules = ", ".join(f"fuzz.fuzz_{name}" for name in TARGETS)
    code = f"import sys; sys.modules['atheris'] = None; import {modules}"  # None: importing atheris fails
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)  # noqa: S603


@pytest.mark.parametrize("name", TARGETS)
def test_seeds_pass_and_one_gets_through_every_check(name: str) -> None:
    module = target(name)
    verified = []
    for path in seeds(name):
        data = path.read_bytes()
        module.TestOneInput(data)
        try:
            result = module.check(data)
        except module.EXPECTED_ERRORS:
            continue
        if result is not None:
            verified.append(path.name)
    assert verified, f"no seed of {name} passes every check: its context (time, challenge, key ...) is miswired"


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        action = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
        position = draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))
        if action == "flip" and data:
            data[position] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif action == "set" and data:
            data[position] = draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF]))
        elif action == "truncate":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete" and data:
            del data[position]
    return bytes(data)


@pytest.mark.parametrize("name", TARGETS)
@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # a wiring check: the same inputs every run (fuzz/run.py explores)
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_generated_and_mutated_inputs(name: str, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(seed_bytes(name)))
    target(name).TestOneInput(data.draw(st.one_of(st.binary(max_size=512), mutated(seed))))


def _reproducers() -> list[object]:
    params: list[object] = []
    for path in sorted(FUZZ.glob("crashes/*/*")):
        if path.name == "README.md":
            continue
        key = f"{path.parent.name}/{path.name}"
        marks = []
        if key in OPEN_CRASHES:
            marks.append(pytest.mark.xfail(strict=True, raises=OPEN_CRASHES[key], reason="open crash: fuzz/crashes"))
        params.append(pytest.param(path, id=key, marks=marks))
    return params


@pytest.mark.parametrize("path", _reproducers())
def test_crash_reproducers(path: Path) -> None:
    target(path.parent.name).TestOneInput(path.read_bytes())
