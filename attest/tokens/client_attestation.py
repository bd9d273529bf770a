"""Issuing the Client Attestation JWT (draft-ietf-oauth-attestation-based-client-auth-10 section 4).

We are the Client Attester: once a device's Android Key Attestation or Apple App Attest verified,
we bind its key (``cnf.jwk``, RFC 7800) to the client's ``client_id`` and sign. The verdict goes
into one private claim, ``attestation`` (RFC 7519 section 4.3), with a small fixed vocabulary and
no device identifiers (draft section 11.1: attestations must not become a tracking handle).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from attest.tokens.clock import require_aware, to_numeric_date
from attest.tokens.cnf import load_public_jwk
from attest.tokens.errors import SigningKeyNotActive, TokenError, VerdictInvalid
from attest.tokens.jws import encode_jwt
from attest.tokens.keys import KeyState, SigningKey

#: JOSE ``typ`` of a Client Attestation JWT (draft section 4; explicit typing per RFC 8725 section 3.11).
CLIENT_ATTESTATION_TYP = "oauth-client-attestation+jwt"

#: The private claim that carries the :class:`AttestationVerdict`.
VERDICT_CLAIM = "attestation"

PLATFORMS: frozenset[str] = frozenset({"android", "apple", "debug"})
SECURITY_LEVELS: frozenset[str] = frozenset({"software", "tee", "strongbox", "secure_enclave"})
ENVIRONMENTS: frozenset[str] = frozenset({"production", "development"})
#: Device levels of a Play Integrity verdict: the strongest deviceRecognitionVerdict label it carried.
PLAY_INTEGRITY_DEVICE_LEVELS: frozenset[str] = frozenset({"none", "basic", "device", "strong", "virtual"})


@dataclass(frozen=True)
class PlayIntegrityClaim:
    """What a verified Google Play Integrity verdict established, carried as ``attestation.play_integrity``.

    Attributes:
        device: the strongest label of ``deviceRecognitionVerdict``: "strong" (MEETS_STRONG_INTEGRITY),
            "device" (MEETS_DEVICE_INTEGRITY), "basic" (MEETS_BASIC_INTEGRITY), "virtual"
            (MEETS_VIRTUAL_INTEGRITY alone), or "none". The client's policy required at least its level.
        app_recognized: ``appRecognitionVerdict`` was PLAY_RECOGNIZED (the binary Google Play distributes).
        licensed: ``appLicensingVerdict``: True for LICENSED, False for UNLICENSED, None (left out of
            the claim) when Play did not evaluate it.
    """

    device: str
    app_recognized: bool
    licensed: bool | None = None

    def __post_init__(self) -> None:
        if self.device not in PLAY_INTEGRITY_DEVICE_LEVELS:
            raise VerdictInvalid(
                f"play_integrity.device {self.device!r} is not one of {sorted(PLAY_INTEGRITY_DEVICE_LEVELS)}"
            )
        if not isinstance(self.app_recognized, bool):
            raise VerdictInvalid("play_integrity.app_recognized must be a boolean")
        if self.licensed is not None and not isinstance(self.licensed, bool):
            raise VerdictInvalid("play_integrity.licensed must be a boolean")

    def to_claim(self) -> dict[str, Any]:
        claim: dict[str, Any] = {"device": self.device, "app_recognized": self.app_recognized}
        if self.licensed is not None:
            claim["licensed"] = self.licensed
        return claim

    @classmethod
    def from_claim(cls, value: object) -> PlayIntegrityClaim:
        if not isinstance(value, Mapping):
            raise VerdictInvalid("attestation.play_integrity is not a JSON object")
        device, app_recognized = value.get("device"), value.get("app_recognized")
        if not isinstance(device, str):
            raise VerdictInvalid("attestation.play_integrity.device is not a string")
        if not isinstance(app_recognized, bool):
            raise VerdictInvalid("attestation.play_integrity.app_recognized is not a boolean")
        return cls(device=device, app_recognized=app_recognized, licensed=value.get("licensed"))


@dataclass(frozen=True)
class AttestationVerdict:
    """What the attester checked, as carried in the ``attestation`` claim.

    Attributes:
        platform: "android", "apple", or "debug" (a development build; never trust it in production).
        security_level: where the device key lives: "software", "tee", "strongbox" (Android),
            "secure_enclave" (Apple), or None when the platform does not say.
        environment: "production" or "development" (App Attest environment, or the Android build
            the policy accepted), or None.
        app_checked: the app identity (package and signer, or App ID) matched our policy.
        revocation_checked: a fresh revocation status list was consulted.
        play_integrity: Android only: what a Google Play Integrity verdict, bound to the same
            challenge as the key attestation, established; None (left out of the claim) when no
            verdict was checked.
    """

    platform: str
    security_level: str | None
    environment: str | None
    app_checked: bool
    revocation_checked: bool
    play_integrity: PlayIntegrityClaim | None = None

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise VerdictInvalid(f"platform {self.platform!r} is not one of {sorted(PLATFORMS)}")
        if self.security_level is not None and self.security_level not in SECURITY_LEVELS:
            raise VerdictInvalid(f"security_level {self.security_level!r} is not one of {sorted(SECURITY_LEVELS)}")
        if self.environment is not None and self.environment not in ENVIRONMENTS:
            raise VerdictInvalid(f"environment {self.environment!r} is not one of {sorted(ENVIRONMENTS)}")
        if not isinstance(self.app_checked, bool) or not isinstance(self.revocation_checked, bool):
            raise VerdictInvalid("app_checked and revocation_checked must be booleans")
        if self.play_integrity is not None and not isinstance(self.play_integrity, PlayIntegrityClaim):
            raise VerdictInvalid("play_integrity must be a PlayIntegrityClaim")

    def to_claim(self) -> dict[str, Any]:
        """The claim value; members that are None are left out."""
        claim: dict[str, Any] = {"platform": self.platform}
        if self.security_level is not None:
            claim["security_level"] = self.security_level
        if self.environment is not None:
            claim["environment"] = self.environment
        claim["app_checked"] = self.app_checked
        claim["revocation_checked"] = self.revocation_checked
        if self.play_integrity is not None:
            claim["play_integrity"] = self.play_integrity.to_claim()
        return claim

    @classmethod
    def from_claim(cls, value: object) -> AttestationVerdict:
        """Read the claim back; :class:`VerdictInvalid` when it is not our documented shape. Members
        added by later versions are ignored (RFC 7519 section 4: claims not understood are ignored)."""
        if not isinstance(value, Mapping):
            raise VerdictInvalid("the attestation claim is not a JSON object")
        for name in ("platform", "app_checked", "revocation_checked"):
            if name not in value:
                raise VerdictInvalid(f"the attestation claim has no {name!r}")
        platform, security_level, environment = (
            value.get("platform"),
            value.get("security_level"),
            value.get("environment"),
        )
        for name, member in (("platform", platform), ("security_level", security_level), ("environment", environment)):
            if member is not None and not isinstance(member, str):
                raise VerdictInvalid(f"attestation.{name} is not a string")
        play_integrity = value.get("play_integrity")
        return cls(
            platform=str(platform),
            security_level=security_level,
            environment=environment,
            app_checked=value["app_checked"],
            revocation_checked=value["revocation_checked"],
            play_integrity=None if play_integrity is None else PlayIntegrityClaim.from_claim(play_integrity),
        )


def issue_client_attestation(
    *,
    key: SigningKey,
    issuer: str,
    client_id: str,
    cnf_jwk: Mapping[str, Any],
    verdict: AttestationVerdict,
    ttl: timedelta,
    now: datetime,
    jti: str | None = None,
    not_before: datetime | None = None,
) -> str:
    """A signed Client Attestation JWT (compact serialization).

    Header: ``typ`` (draft section 4), ``alg``, ``kid``. Claims: ``iss``, ``sub`` = ``client_id``
    (section 4), ``iat``, ``exp`` = ``now + ttl``, ``nbf`` when ``not_before`` is given, ``jti``
    (random unless given), ``cnf: {"jwk": ...}`` (RFC 7800 section 3.2) and the verdict under
    :data:`VERDICT_CLAIM`. The ``cnf_jwk`` is carried as given once it is a well-formed public key,
    including ML-DSA ``AKP`` keys that JOSE libraries may not know yet.
    """
    require_aware(now)
    if key.state is not KeyState.ACTIVE:
        raise SigningKeyNotActive(f"key {key.kid} is {key.state.value}; only the ACTIVE key signs")
    if ttl <= timedelta(0):
        raise TokenError(f"ttl must be positive, got {ttl}")
    for name, value in (("issuer", issuer), ("client_id", client_id)):
        if not isinstance(value, str) or not value:
            raise TokenError(f"{name} must be a non-empty string")
    load_public_jwk(cnf_jwk)  # JwkPrivate/JwkMalformed unless a well-formed public key
    cnf = dict(cnf_jwk)

    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": client_id,
        "iat": to_numeric_date(now),
        "exp": to_numeric_date(now + ttl),
        "jti": jti if jti is not None else secrets.token_urlsafe(16),
        "cnf": {"jwk": cnf},
        VERDICT_CLAIM: verdict.to_claim(),
    }
    if not_before is not None:
        claims["nbf"] = to_numeric_date(require_aware(not_before, "not_before"))
    return encode_jwt(claims, key, typ=CLIENT_ATTESTATION_TYP)
