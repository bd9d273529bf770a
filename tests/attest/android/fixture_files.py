"""Loading the real Android samples of fixtures/android (see its PROVENANCE.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

ANDROID_FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "android"

#: Every captured chain with Google's decoding beside it.
DECODED_SAMPLES = sorted(path.with_suffix("") for path in ANDROID_FIXTURES.glob("*/sdk*/*.json"))


def chain_der(name: str | Path) -> list[bytes]:
    """The chain of fixtures/android/NAME.pem as DER, leaf first."""
    path = ANDROID_FIXTURES / f"{name}.pem" if isinstance(name, str) else name.with_suffix(".pem")
    return [
        cert.public_bytes(serialization.Encoding.DER) for cert in x509.load_pem_x509_certificates(path.read_bytes())
    ]


def expected_json(name: str | Path) -> dict[str, Any]:
    """Google's decoding of NAME's KeyDescription (JSON with // comment lines)."""
    path = ANDROID_FIXTURES / f"{name}.json" if isinstance(name, str) else name.with_suffix(".json")
    text = re.sub(r"^\s*//.*$", "", path.read_text(), flags=re.MULTILINE)
    document: dict[str, Any] = json.loads(text)
    return document


def sample_name(path: Path) -> str:
    return str(path.relative_to(ANDROID_FIXTURES))
