"""Running a target under atheris (libFuzzer for Python).

Only this module imports atheris, and only when a target runs as ``__main__``: the targets import
without it, so the normal test suite exercises them without the fuzzing engine installed.
"""

from __future__ import annotations

import gc
import shlex
import sys
import types
from collections.abc import Callable, Iterable

#: Packages whose Python code gives coverage feedback. The targets' own framing code runs as
#: ``__main__``; asn1crypto and joserfc are the pure-Python parsers behind the receipt and JWS checks.
DEFAULT_PACKAGES = ("__main__", "fuzz", "attest", "asn1crypto", "joserfc")


def fuzz(test_one_input: Callable[[bytes], None], packages: Iterable[str] = DEFAULT_PACKAGES) -> None:
    """Instrument ``packages`` and hand ``test_one_input`` to libFuzzer with this process's arguments
    (corpus directories, ``-max_total_time=``, ``-artifact_prefix=``, or crash files to replay)."""
    import atheris  # type: ignore[import-untyped]  # only when fuzzing; see the module docstring

    instrument(atheris, tuple(packages))
    atheris.Setup(libfuzzer_argv(sys.argv), test_one_input)
    atheris.Fuzz()


def libfuzzer_argv(argv: list[str]) -> list[str]:
    """``argv`` with argv[0] replaced by the shell command that starts this target again.

    libFuzzer's ``-fork``, ``-merge`` and ``-minimize_crash`` re-run argv[0] through the shell; run
    with ``python -m fuzz.fuzz_<target>``, argv[0] is the module's file, which is not executable."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    if spec is None or not argv:
        return argv
    return [f"{shlex.quote(sys.executable)} -m {shlex.quote(spec.name)}", *argv[1:]]


def instrument(atheris: types.ModuleType, packages: tuple[str, ...]) -> int:
    """Add coverage instrumentation to every loaded Python function of ``packages``.

    atheris' ``instrument_imports`` only sees modules imported inside it, and ``instrument_all``
    instruments the whole interpreter (slow, noisy feedback); this is the targeted middle."""
    count = 0
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and _belongs(getattr(obj, "__module__", None), packages):
            atheris.instrument_func(obj)
            count += 1
    sys.stderr.write(f"INFO: instrumented {count} functions of {', '.join(packages)}\n")
    return count


def _belongs(module: object, packages: tuple[str, ...]) -> bool:
    if not isinstance(module, str) or module not in sys.modules:
        return False
    return any(module == package or module.startswith(package + ".") for package in packages)
