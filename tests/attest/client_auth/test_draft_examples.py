"""Golden tests: the example tokens printed in draft-ietf-oauth-attestation-based-client-auth-10
(fixtures/oauth/abca-draft-10-examples.json, see fixtures/oauth/PROVENANCE.md).

The example attestation's signature cannot be checked (the draft does not publish kid "11"), so it
is used for parsing and the claim rules; the example PoP verifies with its ``cnf.jwk``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from attest.client_auth import errors
from attest.client_auth.attestation import (
    VerifiedAttestation,
    check_attestation_claims,
    check_attestation_signature,
    read_client_attestation,
)
from attest.client_auth.policy import ClientAttestationPolicy
from attest.client_auth.pop import verify_attestation_pop
from attest.jwk import jwk_thumbprint
from tests.attest.client_auth.factory import DeviceKey, make_policy

EXAMPLES = json.loads(
    (Path(__file__).parents[3] / "fixtures" / "oauth" / "abca-draft-10-examples.json").read_text("utf-8")
)
IAT = datetime.fromtimestamp(1772487595, UTC)
NEAR_IAT = IAT + timedelta(seconds=20)
AS = "https://as.example.com"
CHALLENGE = "5c1a9e10-29ff-4c2b-ae73-57c0957c09c4"
CLIENT = "https://client.example.com"


class OneChallenge:
    def __init__(self, value: str) -> None:
        self.value = value

    def check(self, value: str, *, now: datetime) -> bool:
        return value == self.value


def example_policy(**overrides: Any) -> ClientAttestationPolicy:
    settings: dict[str, Any] = {
        "attester_issuer": None,
        "challenge_checker": OneChallenge(CHALLENGE),
        "require_challenge": True,
    }
    settings.update(overrides)
    return make_policy(**settings)


def example_attestation(now: datetime = NEAR_IAT, client_id: str | None = CLIENT) -> VerifiedAttestation:
    policy = example_policy()
    jws = read_client_attestation(EXAMPLES["attestation"], policy)
    return check_attestation_claims(jws, policy, now=now, client_id=client_id)


# --- the Client Attestation JWT example: parsing and claim rules ------------------------------


def test_example_attestation_header_and_claims() -> None:
    jws = read_client_attestation(EXAMPLES["attestation"], example_policy())
    assert dict(jws.header) == {"typ": "oauth-client-attestation+jwt", "alg": "ES256", "kid": "11"}

    verified = example_attestation()
    assert verified.client_id == CLIENT
    assert verified.issuer is None
    assert verified.cnf_jwk["x"] == "VcKVNBZ4IaBAYW3jxM4w3TJFVA7myeUGQyGt-g_yvpQ"
    assert verified.cnf_jkt == jwk_thumbprint(verified.cnf_jwk)
    assert verified.issued_at == IAT
    assert verified.expires_at == datetime.fromtimestamp(2529866394, UTC)
    assert verified.verdict is None


def test_example_attestation_signature_key_is_not_published() -> None:
    policy = example_policy()
    jws = read_client_attestation(EXAMPLES["attestation"], policy)
    with pytest.raises(errors.AttestationUnknownKid):
        check_attestation_signature(jws, policy, now=NEAR_IAT)


def test_example_attestation_claim_rules() -> None:
    with pytest.raises(errors.SubMismatch):
        example_attestation(client_id="s6BhdRkqt3")
    with pytest.raises(errors.AttestationExpired):
        example_attestation(now=datetime.fromtimestamp(2529866394 + 3600, UTC))
    with pytest.raises(errors.AttestationNotYetValid):  # iat lies in the future
        example_attestation(now=IAT - timedelta(hours=1))
    policy = example_policy(attester_issuer="https://attester.example.com")
    jws = read_client_attestation(EXAMPLES["attestation"], policy)
    with pytest.raises(errors.AttestationIssuer):  # the example carries no iss
        check_attestation_claims(jws, policy, now=NEAR_IAT, client_id=CLIENT)
    policy = example_policy(max_attestation_age=timedelta(days=1))
    with pytest.raises(errors.AttestationStale) as stale:
        check_attestation_claims(jws, policy, now=IAT + timedelta(days=2), client_id=CLIENT)
    assert stale.value.oauth_error == "use_fresh_attestation"


# --- the Client Attestation PoP JWT example: verifies with the attestation's cnf key ----------


def test_example_pop_verifies_with_cnf_key() -> None:
    pop = verify_attestation_pop(EXAMPLES["pop"], example_attestation(), example_policy(), now=NEAR_IAT)
    assert pop.jti == "d25d00ab-552b-46fc-ae19-98f440f25064"
    assert pop.challenge == CHALLENGE
    assert pop.issued_at == IAT


def test_example_pop_other_audience() -> None:
    with pytest.raises(errors.PopAudience):
        verify_attestation_pop(
            EXAMPLES["pop"], example_attestation(), example_policy(audience="https://rs.example.com"), now=NEAR_IAT
        )


def test_example_pop_other_challenge() -> None:
    policy = example_policy(challenge_checker=OneChallenge("another-challenge"))
    with pytest.raises(errors.PopChallenge) as rejected:
        verify_attestation_pop(EXAMPLES["pop"], example_attestation(), policy, now=NEAR_IAT)
    assert rejected.value.oauth_error == "use_attestation_challenge"


def test_example_pop_other_key() -> None:
    other = DeviceKey().jwk
    attestation = dataclasses.replace(example_attestation(), cnf_jwk=other, cnf_jkt=jwk_thumbprint(other))
    with pytest.raises(errors.PopSignature):
        verify_attestation_pop(EXAMPLES["pop"], attestation, example_policy(), now=NEAR_IAT)


def test_example_pop_replayed_jti() -> None:
    policy = example_policy()
    verify_attestation_pop(EXAMPLES["pop"], example_attestation(), policy, now=NEAR_IAT)
    with pytest.raises(errors.PopReplay):
        verify_attestation_pop(EXAMPLES["pop"], example_attestation(), policy, now=NEAR_IAT + timedelta(seconds=1))


def test_example_pop_far_from_iat() -> None:
    with pytest.raises(errors.PopIat):
        verify_attestation_pop(EXAMPLES["pop"], example_attestation(), example_policy(), now=IAT + timedelta(hours=1))
