"""The captured WebAuthn responses of fixtures/webauthn (see its PROVENANCE.md), and our verdict on each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fido import base64url
from fido.relying_party import ANDROID_ORIGIN_PREFIX, RelyingParty

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "webauthn"

#: The error code each rejected file must produce (every other file must verify).
EXPECTED_ERRORS: dict[str, str] = {
    "auth-ec2-localhost-tampered": "webauthn.signature",
    "auth-wrong-public-key": "webauthn.signature",
    "auth-uv-required-not-verified": "webauthn.user_verification",
    "reg-fido-u2f-tokenbinding-not-supported": "webauthn.token_binding",
    "reg-packed-yubikey-firefox-tampered": "webauthn.attestation",
    "reg-tpm-surface-pro-4-tampered": "webauthn.attestation",
}


@dataclass(frozen=True)
class Sample:
    name: str
    document: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.document["kind"])

    @property
    def credential(self) -> dict[str, Any]:
        credential: dict[str, Any] = self.document["credential"]
        return credential

    @property
    def challenge(self) -> bytes:
        value = base64url.decode(self.document["expected_challenge_b64url"], max_bytes=1024)
        assert value is not None
        return value

    @property
    def rp(self) -> RelyingParty:
        origin: str = self.document["expected_origin"]
        android = origin.startswith(ANDROID_ORIGIN_PREFIX)
        return RelyingParty.configure(
            rp_id=self.document["expected_rp_id"],
            name="fixture",
            web_origins=[] if android else [origin],
            apk_key_hashes=[origin] if android else [],
        )

    @property
    def at(self) -> datetime:
        """``verify_at``, or now where the file sets none (its certificates are valid today)."""
        value = self.document["verify_at"]
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else datetime.now(UTC)

    @property
    def require_user_verification(self) -> bool:
        return bool(self.document["require_user_verification"])

    @property
    def expected(self) -> dict[str, Any]:
        expected: dict[str, Any] = self.document["expected"]
        return expected


def samples(kind: str) -> list[Sample]:
    return [
        Sample(path.stem, json.loads(path.read_text()))
        for path in sorted(FIXTURES.glob("*.json"))
        if json.loads(path.read_text())["kind"] == kind
    ]
