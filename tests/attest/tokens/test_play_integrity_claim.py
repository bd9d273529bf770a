"""``attestation.play_integrity``: optional, documented, and absent from tokens that carry no verdict."""

from __future__ import annotations

from typing import Any

import pytest

from attest.tokens import AttestationVerdict, PlayIntegrityClaim
from attest.tokens.errors import VerdictInvalid

BASE = AttestationVerdict("android", "tee", None, app_checked=True, revocation_checked=True)


def test_absent_by_default_so_existing_tokens_do_not_change() -> None:
    assert "play_integrity" not in BASE.to_claim()
    assert AttestationVerdict.from_claim(BASE.to_claim()).play_integrity is None


def test_round_trip() -> None:
    full = AttestationVerdict(
        "android", "strongbox", None, True, True, play_integrity=PlayIntegrityClaim("strong", True, True)
    )
    assert full.to_claim()["play_integrity"] == {"device": "strong", "app_recognized": True, "licensed": True}
    assert AttestationVerdict.from_claim(full.to_claim()) == full
    unevaluated = PlayIntegrityClaim("device", app_recognized=False)
    assert unevaluated.to_claim() == {"device": "device", "app_recognized": False}
    assert PlayIntegrityClaim.from_claim({**unevaluated.to_claim(), "later_member": 1}) == unevaluated


@pytest.mark.parametrize(
    "member",
    [
        "strong",
        [],
        {},
        {"device": "excellent", "app_recognized": True},
        {"device": 1, "app_recognized": True},
        {"device": "device"},
        {"device": "device", "app_recognized": "yes"},
        {"device": "device", "app_recognized": True, "licensed": "LICENSED"},
    ],
)
def test_malformed_members_are_refused(member: Any) -> None:
    with pytest.raises(VerdictInvalid):
        AttestationVerdict.from_claim({**BASE.to_claim(), "play_integrity": member})


def test_constructor_checks() -> None:
    with pytest.raises(VerdictInvalid):
        PlayIntegrityClaim("meets_device_integrity", True)
    with pytest.raises(VerdictInvalid):
        AttestationVerdict("android", "tee", None, True, True, play_integrity={"device": "device"})  # type: ignore[arg-type]
