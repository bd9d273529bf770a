"""Hostile input: random and mutated DER may only ever produce typed errors."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest.android import (
    AndroidPolicy,
    IntermediateCache,
    RevocationMode,
    parse_key_description,
    verify_android_attestation,
)
from attest.android.key_description import KEY_DESCRIPTION_OID
from attest.errors import AttestationError, ExtensionMalformed
from tests.attest.android.fixture_files import chain_der

CHAIN = chain_der("caiman/sdk36/TEE_EC_RKP")
LEAF_EXTENSION = (
    x509.load_der_x509_certificate(CHAIN[0])
    .extensions.get_extension_for_oid(x509.ObjectIdentifier(KEY_DESCRIPTION_OID))
    .value.value  # type: ignore[attr-defined]
)
POLICY = AndroidPolicy(challenge=b"challenge", app=None, revocation=RevocationMode.OFF)
AT = datetime(2025, 9, 30, tzinfo=UTC)
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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


@PROPERTY_SETTINGS
@given(st.binary(max_size=512))
def test_random_bytes_as_key_description(payload: bytes) -> None:
    with contextlib.suppress(ExtensionMalformed):
        parse_key_description(payload)


@PROPERTY_SETTINGS
@given(mutated(LEAF_EXTENSION))
def test_mutated_key_description(payload: bytes) -> None:
    with contextlib.suppress(ExtensionMalformed):
        parse_key_description(payload)


CACHE = IntermediateCache()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(CHAIN) - 1), st.data(), st.booleans())
def test_mutated_certificates_in_a_real_chain(index: int, data: st.DataObject, cached: bool) -> None:
    """Every certificate of a real chain mutated, with and without the intermediate cache."""
    chain = list(CHAIN)
    chain[index] = data.draw(mutated(chain[index]))
    with contextlib.suppress(AttestationError):
        verify_android_attestation(chain, POLICY, at=AT, intermediate_cache=CACHE if cached else None)


@PROPERTY_SETTINGS
@given(st.lists(st.binary(max_size=64), max_size=10))
def test_random_chains(chain: list[bytes]) -> None:
    with contextlib.suppress(AttestationError):
        verify_android_attestation(chain, POLICY, at=AT)
