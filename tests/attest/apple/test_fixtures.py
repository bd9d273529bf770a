"""fixtures/apple/samples.json is a faithful transcription of the real samples beside it."""

from __future__ import annotations

import base64

import cbor2
import pytest

from tests.attest.apple.samples import (
    assertion_samples,
    attestation_samples,
    manifest,
    receipt_samples,
    source_text,
)

_BASE64_MEMBERS = (
    "attestation_b64",
    "assertion_b64",
    "receipt_b64",
    "key_id_b64",
    "client_data_b64",
    "client_data_hash_b64",
    "challenge_b64",
)


def _entries() -> list[dict[str, object]]:
    document = manifest()
    return [*document["attestations"], *document["assertions"], *document["receipts"]]


@pytest.mark.parametrize("entry", _entries(), ids=lambda entry: str(entry["name"]))
def test_every_value_appears_verbatim_in_its_source(entry: dict[str, object]) -> None:
    text = source_text(str(entry["source"]))
    for member in _BASE64_MEMBERS:
        value = entry.get(member)
        if value is not None:
            assert str(value) in text, member
    pem = entry.get("public_key_pem")
    if pem is not None:
        for line in str(pem).splitlines():
            assert line in text
    if entry.get("doc_id") is not None:
        assert str(entry["doc_id"]) in text


def test_counts() -> None:
    assert len(attestation_samples()) == 5
    assert len(assertion_samples()) == 4
    assert len(receipt_samples()) == 13


def test_client_data_hash_is_sha256_of_client_data() -> None:
    import hashlib

    for sample in attestation_samples():
        expected = sample.raw["client_data_hash_b64"]
        if expected is not None:
            assert base64.b64encode(hashlib.sha256(sample.client_data).digest()).decode() == expected


def test_attest_receipts_are_the_ones_inside_the_attestations() -> None:
    embedded = {sample.source: cbor2.loads(sample.data)["attStmt"]["receipt"] for sample in attestation_samples()}
    attest_receipts = [r for r in receipt_samples() if r.properties["type"] == "ATTEST"]
    assert len(attest_receipts) == 4
    for receipt in attest_receipts:
        assert receipt.data == embedded[receipt.source]
