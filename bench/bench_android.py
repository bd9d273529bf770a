"""Android Key Attestation throughput on one core, on a real chain (fixtures/android).

    .venv/bin/python bench/bench_android.py [--seconds 3]

Prints verifications per second cold (every signature checked) and with verified intermediates
cached (`IntermediateCache`), next to the raw floor: just the chain's signature checks with
`cryptography`, which no verifier can beat.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from attest.android import AndroidPolicy, IntermediateCache, parse_status_list, verify_android_attestation
from attest.android.chain import google_hardware_attestation_roots

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "android"
SAMPLE = "caiman/sdk36/TEE_EC_RKP"
AT = datetime(2025, 9, 30, tzinfo=UTC)


def rate(operation: Callable[[], object], seconds: float) -> float:
    operation()  # warm up
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(50):
            operation()
        count += 50
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    pem = (FIXTURES / f"{SAMPLE}.pem").read_bytes()
    certificates = [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(pem)]
    challenge = base64.b64decode(json.loads((FIXTURES / f"{SAMPLE}.json").read_text())["attestationChallenge"])
    policy = AndroidPolicy(challenge=challenge, app=None)
    status_list = parse_status_list((FIXTURES / "status-list-sample.json").read_bytes())
    google_hardware_attestation_roots()

    def cold() -> object:
        return verify_android_attestation(certificates, policy, at=AT, status_list=status_list)

    cache = IntermediateCache()

    def cached() -> object:
        return verify_android_attestation(
            certificates, policy, at=AT, status_list=status_list, intermediate_cache=cache
        )

    parsed = [x509.load_der_x509_certificate(der) for der in certificates]

    def signatures_only() -> None:
        for child, issuer in itertools.pairwise(parsed):
            key = issuer.public_key()
            assert child.signature_hash_algorithm is not None
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(child.signature_hash_algorithm))
            elif isinstance(key, rsa.RSAPublicKey):
                key.verify(
                    child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), child.signature_hash_algorithm
                )

    def leaf_signature_only() -> None:
        key = parsed[1].public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        assert parsed[0].signature_hash_algorithm is not None
        key.verify(parsed[0].signature, parsed[0].tbs_certificate_bytes, ec.ECDSA(parsed[0].signature_hash_algorithm))

    rows = [
        ("android chain, cold", rate(cold, args.seconds), rate(signatures_only, args.seconds)),
        ("android chain, cached intermediates", rate(cached, args.seconds), rate(leaf_signature_only, args.seconds)),
    ]
    print(f"Android Key Attestation, {SAMPLE} ({len(certificates)} certificates), one core")
    print(f"{'operation':40} {'ops/s':>10} {'floor ops/s':>12} {'floor/ours':>11}")
    for name, ours, floor in rows:
        print(f"{name:40} {ours:10.0f} {floor:12.0f} {floor / ours:11.2f}")


if __name__ == "__main__":
    main()
