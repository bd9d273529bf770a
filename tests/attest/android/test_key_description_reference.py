"""The single-pass KeyDescription decoder against the element-based reference: on real samples,
factory-made lists and hostile mutations of both, the same value or the same rejection."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest.android.key_description import KeyDescription, parse_key_description
from attest.errors import ExtensionMalformed
from tests.attest.android import factory as f
from tests.attest.android import key_description_reference as reference
from tests.attest.android.fixture_files import DECODED_SAMPLES, chain_der
from tests.attest.android.test_key_description import leaf_extension
from tests.attest.android.test_properties import mutated

SAMPLES = [leaf_extension(chain_der(sample)[0]) for sample in DECODED_SAMPLES]
FACTORY = [
    f.KeyDescriptionSpec().to_der(),
    f.KeyDescriptionSpec().with_root_of_trust(verified_boot_state=9).to_der(),
]
SETTINGS = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decoded(decode: object, payload: bytes) -> KeyDescription | str:
    try:
        result = decode(payload)  # type: ignore[operator]
    except ExtensionMalformed as error:
        return error.code
    assert isinstance(result, KeyDescription)
    return result


def assert_agree(payload: bytes) -> None:
    assert decoded(parse_key_description, payload) == decoded(reference.parse_key_description, payload)


@pytest.mark.parametrize("payload", SAMPLES + FACTORY)
def test_samples_agree(payload: bytes) -> None:
    assert_agree(payload)
    assert_agree(payload)  # the second time from the decoded-list caches


@SETTINGS
@given(st.sampled_from(SAMPLES + FACTORY).flatmap(mutated))
def test_mutations_agree(payload: bytes) -> None:
    assert_agree(payload)


@SETTINGS
@given(st.binary(max_size=256))
def test_random_bytes_agree(payload: bytes) -> None:
    assert_agree(payload)


def test_a_malformed_list_is_rejected_every_time() -> None:
    """The decoded-list caches keep values only: a rejected list is rejected again."""
    bad = f.KeyDescriptionSpec().with_root_of_trust(verified_boot_state=9).to_der()
    for _ in range(2):
        with pytest.raises(ExtensionMalformed):
            parse_key_description(bad)
