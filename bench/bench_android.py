"""Android Key Attestation throughput on one core, on real chains (fixtures/android).

    .venv/bin/python bench/bench_android.py [--seconds 2]

For each chain: verifications per second cold (every signature checked) and with verified
intermediates cached (`IntermediateCache`), next to the raw floor: just the signature checks that
operation needs, with `cryptography` (cold: every certificate's; cached: the leaf's), which no
verifier can beat. `floor/ours` is how far we are from that limit (1.0 is the limit).
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from attest.android import AndroidPolicy, IntermediateCache, parse_status_list, verify_android_attestation
from attest.android.chain import google_hardware_attestation_roots

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "android"


@dataclass(frozen=True)
class Sample:
    name: str
    what: str
    at: datetime
    locked: bool


SAMPLES = (
    Sample("caiman/sdk36/TEE_EC_RKP", "Pixel 9 Pro, RKP, RSA root, P-384 CAs", datetime(2025, 9, 30, tzinfo=UTC), True),
    Sample("tegu/sdk36/TEE_EC_2026_ROOT", "Pixel 9a, RKP, ECDSA P-384 root", datetime(2026, 3, 1, tzinfo=UTC), True),
    Sample("blueline/sdk28/TEE_RSA_NONE", "Pixel 3, factory, RSA chain", datetime(2026, 11, 24, tzinfo=UTC), False),
)


def rate(operation: Callable[[], object], seconds: float) -> float:
    operation()  # warm up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(20):
            operation()
        count += 20
    return count / (time.perf_counter() - start)


def verify_signature(child: x509.Certificate, issuer_key: object) -> None:
    algorithm = child.signature_hash_algorithm
    assert algorithm is not None
    if isinstance(issuer_key, ec.EllipticCurvePublicKey):
        issuer_key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(algorithm))
    elif isinstance(issuer_key, rsa.RSAPublicKey):
        issuer_key.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)


def measure(sample: Sample, seconds: float) -> list[tuple[str, float, float]]:
    pem = (FIXTURES / f"{sample.name}.pem").read_bytes()
    certificates = [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(pem)]
    expected = json.loads(
        "\n".join(
            line
            for line in (FIXTURES / f"{sample.name}.json").read_text().splitlines()
            if not line.lstrip().startswith("//")
        )
    )
    policy = AndroidPolicy(
        challenge=base64.b64decode(expected["attestationChallenge"]),
        app=None,
        require_verified_boot=sample.locked,
        require_locked_bootloader=sample.locked,
    )
    status_list = parse_status_list((FIXTURES / "status-list-sample.json").read_bytes())
    cache = IntermediateCache()
    parsed = [x509.load_der_x509_certificate(der) for der in certificates]
    keys = [certificate.public_key() for certificate in parsed]

    def cold() -> object:
        return verify_android_attestation(certificates, policy, at=sample.at, status_list=status_list)

    def cached() -> object:
        return verify_android_attestation(
            certificates, policy, at=sample.at, status_list=status_list, intermediate_cache=cache
        )

    def every_signature() -> None:
        for (child, _), (_, issuer_key) in itertools.pairwise(zip(parsed, keys, strict=True)):
            verify_signature(child, issuer_key)

    def leaf_signature() -> None:
        verify_signature(parsed[0], keys[1])

    return [
        ("cold", rate(cold, seconds), rate(every_signature, seconds)),
        ("cached intermediates", rate(cached, seconds), rate(leaf_signature, seconds)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    google_hardware_attestation_roots()
    print("Android Key Attestation verifications per second, one core")
    print(f"{'chain':60} {'mode':22} {'ops/s':>8} {'floor ops/s':>12} {'floor/ours':>11}")
    for sample in SAMPLES:
        for mode, ours, floor in measure(sample, args.seconds):
            label = f"{sample.name} ({sample.what})"
            print(f"{label:60.60} {mode:22} {ours:8.0f} {floor:12.0f} {floor / ours:11.2f}")


if __name__ == "__main__":
    main()
