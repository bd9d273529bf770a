"""Coverage-guided fuzz targets (atheris) for every parser and verifier that reads untrusted bytes.

One module per entry point, ``fuzz_<target>.py``, each with ``TestOneInput(data: bytes)``: it feeds
the bytes to the public function and lets only the errors that function documents pass
(:class:`attest.errors.AttestationError` and its subclasses; :class:`attest.der.DerError` for the
DER reader). Anything else escapes and is a crash. ``check(data)`` is the same call returning the
verified result, for the wiring test (``tests/fuzz/test_targets.py``).

Run one target (libFuzzer writes new inputs into the *first* directory, so give it a scratch one):
``mkdir -p /tmp/der && .venv/bin/python -m fuzz.fuzz_der /tmp/der fuzz/corpus/der``; all of them,
bounded in time: ``.venv/bin/python fuzz/run.py --seconds 10``. Replay an input: ``.venv/bin/python -m
fuzz.fuzz_der FILE``. Seeds: ``fuzz/make_corpus.py``. Crash reproducers: ``fuzz/crashes/<target>/``.
"""
