"""Loading the real App Attest samples of fixtures/apple (see its PROVENANCE.md)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

APPLE_FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "apple"


def iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def pem_key(pem: str) -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


@cache
def manifest() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((APPLE_FIXTURES / "samples.json").read_text())
    return document


@dataclass(frozen=True)
class AttestationSample:
    name: str
    source: str
    data: bytes
    key_id: bytes
    client_data: bytes
    app_id: str
    environment: str
    at: datetime
    public_key_pem: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class AssertionSample:
    name: str
    source: str
    data: bytes
    client_data: bytes
    app_id: str
    public_key: ec.EllipticCurvePublicKey
    stored_counter: int
    expected_counter: int
    key_id: bytes


@dataclass(frozen=True)
class ReceiptSample:
    name: str
    source: str
    data: bytes
    app_id: str
    environment: str
    at: datetime
    public_key: ec.EllipticCurvePublicKey
    properties: dict[str, Any]
    raw: dict[str, Any]


def attestation_samples() -> list[AttestationSample]:
    return [
        AttestationSample(
            name=item["name"],
            source=item["source"],
            data=b64(item["attestation_b64"]),
            key_id=b64(item["key_id_b64"]),
            client_data=b64(item["client_data_b64"]),
            app_id=item["app_id"],
            environment=item["environment"],
            at=iso(item["verify_at"]),
            public_key_pem=item["public_key_pem"],
            raw=item,
        )
        for item in manifest()["attestations"]
    ]


def assertion_samples() -> list[AssertionSample]:
    return [
        AssertionSample(
            name=item["name"],
            source=item["source"],
            data=b64(item["assertion_b64"]),
            client_data=b64(item["client_data_b64"]),
            app_id=item["app_id"],
            public_key=pem_key(item["public_key_pem"]),
            stored_counter=item["stored_counter"],
            expected_counter=item["expected_counter"],
            key_id=b64(item["key_id_b64"]),
        )
        for item in manifest()["assertions"]
    ]


def receipt_samples() -> list[ReceiptSample]:
    return [
        ReceiptSample(
            name=item["name"],
            source=item["source"],
            data=b64(item["receipt_b64"]),
            app_id=item["app_id"],
            environment=item["environment"],
            at=iso(item["verify_at"]),
            public_key=pem_key(item["public_key_pem"]),
            properties=item["properties"],
            raw=item,
        )
        for item in manifest()["receipts"]
    ]


def sample(name: str) -> AttestationSample:
    return next(s for s in attestation_samples() if s.name == name)


def source_text(name: str) -> str:
    return (APPLE_FIXTURES / name).read_text()
