"""KeyDescription decoding against Google's own decoding of real device samples, and strict DER."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from attest.android.key_description import (
    KEY_DESCRIPTION_OID,
    AuthorizationList,
    SecurityLevel,
    VerifiedBootState,
    _authorization_list_of,
    parse_key_description,
)
from attest.android.key_description_json import key_description_as_json
from attest.errors import ExtensionMalformed
from tests.attest.android.fixture_files import ANDROID_FIXTURES, DECODED_SAMPLES, chain_der, expected_json, sample_name


def leaf_extension(der: bytes) -> bytes:
    extension = x509.load_der_x509_certificate(der).extensions.get_extension_for_oid(
        x509.ObjectIdentifier(KEY_DESCRIPTION_OID)
    )
    assert isinstance(extension.value, x509.UnrecognizedExtension)
    return extension.value.value


def test_every_sample_is_covered() -> None:
    assert len(DECODED_SAMPLES) == 16


@pytest.mark.parametrize("sample", DECODED_SAMPLES, ids=sample_name)
def test_decoding_matches_googles_json(sample: Path) -> None:
    decoded = key_description_as_json(parse_key_description(leaf_extension(chain_der(sample)[0])))
    expected = expected_json(sample)
    for authorizations in ("softwareEnforced", "hardwareEnforced"):
        # Google prints areTagsOrdered only in some files; ours says it only when false.
        assert expected[authorizations].pop("areTagsOrdered", True) is True
    assert decoded == expected


def test_attestation_versions_of_the_samples() -> None:
    versions = {
        parse_key_description(leaf_extension(chain_der(sample)[0])).attestation_version for sample in DECODED_SAMPLES
    }
    assert versions == {3, 300, 400, 500}


def test_allow_while_on_body_is_decoded() -> None:
    description = parse_key_description(leaf_extension(chain_der("allow_while_on_body")[0]))
    assert description.software_enforced.allow_while_on_body or description.hardware_enforced.allow_while_on_body


def test_ber_boolean_device_locked_is_read_as_locked() -> None:
    """A real device encodes deviceLocked as BOOLEAN 0x01 (BER); Google reads it as true."""
    description = parse_key_description(leaf_extension(chain_der("invalid/malformed_rot_device_locked")[0]))
    root = description.hardware_enforced.root_of_trust
    assert root is not None
    assert root.device_locked is True
    assert root.verified_boot_state is VerifiedBootState.VERIFIED
    assert description.attestation_version == 3
    assert description.attestation_security_level is SecurityLevel.TRUSTED_ENVIRONMENT


def test_out_of_order_tags_are_recorded_not_fatal() -> None:
    description = parse_key_description(leaf_extension(chain_der("invalid/tags_not_in_ascending_order")[0]))
    assert description.software_enforced.tags_in_ascending_order is True
    assert description.hardware_enforced.tags_in_ascending_order is False
    assert key_description_as_json(description)["hardwareEnforced"]["areTagsOrdered"] is False


def test_ml_dsa_variant_and_module_hash() -> None:
    description = parse_key_description(leaf_extension(chain_der("tokay/sdk37/TEE_MLDSA_RKP")[0]))
    assert description.attestation_version == 500
    assert description.hardware_enforced.algorithm == 4
    assert description.hardware_enforced.ml_dsa_variant == 1
    assert description.software_enforced.module_hash == base64.b64decode("FaidWkxztCor58kSH+BtPV6/tFSP0MSgkePA7fFzTfw=")


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (b"", "empty"),
        (b"\x30\x00", "empty sequence"),
        (b"\x04\x03abc", "not a sequence"),
        (b"\x30\x80\x02\x01\x01\x00\x00", "indefinite length"),
        (b"\x30\x81\x03\x02\x01\x01", "non-minimal length"),
        (b"\x30\x03\x02\x01\x01\x00", "trailing byte"),
        (b"\x30\x05\x02\x01", "truncated"),
    ],
)
def test_structurally_malformed_input_is_rejected(payload: bytes, what: str) -> None:
    with pytest.raises(ExtensionMalformed):
        parse_key_description(payload)


def test_fixture_folder_has_provenance() -> None:
    assert (ANDROID_FIXTURES / "PROVENANCE.md").is_file()


def test_the_decoders_constructor_equals_init() -> None:
    """``_authorization_list_of`` (the decoder's way to build a list without 48 setattr calls) gives what
    ``AuthorizationList(**values)`` gives, for every field alone and all together."""
    sample: dict[str, Any] = {field.name: ("value", field.name) for field in dataclasses.fields(AuthorizationList)}
    for name, value in sample.items():
        built = _authorization_list_of({name: value})
        assert built == AuthorizationList(**{name: value})
        assert hash(built) == hash(AuthorizationList(**{name: value}))
        assert getattr(built, name) == value
    assert _authorization_list_of(sample) == AuthorizationList(**sample)
    assert _authorization_list_of({}) == AuthorizationList()
    with pytest.raises(dataclasses.FrozenInstanceError):
        _authorization_list_of({}).os_version = 1  # type: ignore[misc]
