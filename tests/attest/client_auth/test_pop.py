"""Client Attestation PoP JWT rules (draft section 5.1 and section 7.2) and the request-level
dispatch of section 7, on tokens we sign ourselves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from attest.client_auth import (
    ATTESTATION_POP_JWT,
    DPOP_COMBINED,
    AttestationRequest,
    ValidatedClient,
    errors,
    validate_client_attestation,
)
from attest.client_auth.errors import ClientAuthError
from attest.client_auth.policy import ClientAttestationPolicy
from tests.attest.client_auth.factory import (
    CLIENT_ID,
    NOW,
    TOKEN_URL,
    Attester,
    Challenges,
    DeviceKey,
    hs256_signer,
    make_dpop,
    make_policy,
    make_pop,
    no_signature,
)


def request(attestation: str, pop: str | None = None, dpop: str | None = None, **extra: Any) -> AttestationRequest:
    headers = [("OAuth-Client-Attestation", attestation)]
    if pop is not None:
        headers.append(("oauth-client-attestation-pop", pop))
    if dpop is not None:
        headers.append(("DPoP", dpop))
    return AttestationRequest.from_headers(headers, method="POST", url=TOKEN_URL, **extra)


def validate(req: AttestationRequest, policy: ClientAttestationPolicy) -> ValidatedClient:
    return validate_client_attestation(req, policy, now=NOW)


def reject(
    req: AttestationRequest, policy: ClientAttestationPolicy, expected: type[ClientAuthError]
) -> ClientAuthError:
    with pytest.raises(expected) as caught:
        validate(req, policy)
    return caught.value


@pytest.fixture
def attester() -> Attester:
    return Attester()


@pytest.fixture
def device() -> DeviceKey:
    return DeviceKey()


def test_attestation_with_pop(attester: Attester, device: DeviceKey) -> None:
    client = validate(request(attester.issue(device), make_pop(device), client_id=CLIENT_ID), make_policy(attester))
    assert client.client_id == CLIENT_ID
    assert client.pop_method == ATTESTATION_POP_JWT
    assert client.pop is not None
    assert client.dpop is None
    assert client.instance_jkt == client.attestation.cnf_jkt


def test_ml_dsa_instance_key(attester: Attester) -> None:
    device = DeviceKey.ml_dsa()
    client = validate(request(attester.issue(device), make_pop(device)), make_policy(attester))
    assert client.attestation.cnf_jwk["alg"] == "ML-DSA-44"
    with pytest.raises(errors.PopSignature):
        validate(
            request(attester.issue(device), make_pop(device, signer=DeviceKey.ml_dsa().sign)), make_policy(attester)
        )


def test_missing_and_multiple_headers(attester: Attester, device: DeviceKey) -> None:
    policy = make_policy(attester)
    reject(AttestationRequest.from_headers([], method="POST", url=TOKEN_URL), policy, errors.AttestationMissing)
    token = attester.issue(device)
    reject(request(token), policy, errors.PopMissing)
    twice = AttestationRequest.from_headers(
        [
            ("OAuth-Client-Attestation", token),
            ("OAuth-Client-Attestation", token),
            ("OAuth-Client-Attestation-PoP", make_pop(device)),
        ],
        method="POST",
        url=TOKEN_URL,
    )
    reject(twice, policy, errors.AttestationMultiple)
    reject(request(f"{token}, {token}", make_pop(device)), policy, errors.AttestationMultiple)
    reject(request(token, f"{make_pop(device)},{make_pop(device)}"), policy, errors.PopMultiple)


def test_pop_signed_by_another_key(attester: Attester, device: DeviceKey) -> None:
    reject(request(attester.issue(device), make_pop(DeviceKey())), make_policy(attester), errors.PopSignature)


def test_pop_alg_none_and_mac(attester: Attester, device: DeviceKey) -> None:
    token = attester.issue(device)
    policy = make_policy(attester)
    reject(request(token, make_pop(device, header={"alg": "none"}, signer=no_signature)), policy, errors.PopAlg)
    mac = make_pop(device, header={"alg": "HS256"}, signer=hs256_signer(device.jwk["x"].encode()))
    reject(request(token, mac), policy, errors.PopAlg)
    # ES384 is allowed, but not with a P-256 cnf key.
    reject(request(token, make_pop(device, header={"alg": "ES384"})), policy, errors.PopAlg)


@pytest.mark.parametrize("typ", ["JWT", "oauth-client-attestation+jwt", "dpop+jwt"])
def test_pop_typ(attester: Attester, device: DeviceKey, typ: str) -> None:
    reject(request(attester.issue(device), make_pop(device, header={"typ": typ})), make_policy(attester), errors.PopTyp)


@pytest.mark.parametrize(
    "aud", ["https://other.example.com", "https://as.example.com/", ["https://as.example.com", "x"]]
)
def test_pop_wrong_audience(attester: Attester, device: DeviceKey, aud: Any) -> None:
    with pytest.raises((errors.PopAudience, errors.PopClaims)):
        validate(request(attester.issue(device), make_pop(device, aud=aud)), make_policy(attester))


def test_pop_audience_as_single_element_array(attester: Attester, device: DeviceKey) -> None:
    validate(request(attester.issue(device), make_pop(device, aud=["https://as.example.com"])), make_policy(attester))


@pytest.mark.parametrize("claim", ["aud", "jti", "iat"])
def test_pop_required_claims(attester: Attester, device: DeviceKey, claim: str) -> None:
    reject(
        request(attester.issue(device), make_pop(device, drop_claims=(claim,))), make_policy(attester), errors.PopClaims
    )


@pytest.mark.parametrize("offset", [timedelta(minutes=-10), timedelta(minutes=5)])
def test_pop_iat_window(attester: Attester, device: DeviceKey, offset: timedelta) -> None:
    reject(request(attester.issue(device), make_pop(device, iat=NOW + offset)), make_policy(attester), errors.PopIat)


def test_pop_exp_and_nbf_when_present(attester: Attester, device: DeviceKey) -> None:
    policy = make_policy(attester)
    expired = make_pop(device, claims={"exp": int(NOW.timestamp()) - 120})
    reject(request(attester.issue(device), expired), policy, errors.PopExpired)
    early = make_pop(device, claims={"nbf": int(NOW.timestamp()) + 120})
    reject(request(attester.issue(device), early), policy, errors.PopNotYetValid)


def test_pop_replay(attester: Attester, device: DeviceKey) -> None:
    policy = make_policy(attester)
    token, pop = attester.issue(device), make_pop(device, jti="jti-1")
    validate(request(token, pop), policy)
    reject(request(token, pop), policy, errors.PopReplay)
    reject(request(token, make_pop(device, jti="jti-1", iat=NOW - timedelta(seconds=5))), policy, errors.PopReplay)
    # The same jti from another instance key is another proof.
    other = DeviceKey()
    validate(request(attester.issue(other), make_pop(other, jti="jti-1")), policy)


def test_pop_challenge(attester: Attester, device: DeviceKey) -> None:
    checker = Challenges({"c-1"}, single_use=True)
    policy = make_policy(attester, challenge_checker=checker, require_challenge=True)
    token = attester.issue(device)
    missing = reject(request(token, make_pop(device)), policy, errors.PopChallengeMissing)
    assert missing.oauth_error == "use_attestation_challenge"
    wrong = reject(request(token, make_pop(device, challenge="c-2")), policy, errors.PopChallenge)
    assert wrong.oauth_error == "use_attestation_challenge"
    assert validate(request(token, make_pop(device, challenge="c-1")), policy).pop.challenge == "c-1"  # type: ignore[union-attr]
    reject(request(token, make_pop(device, challenge="c-1")), policy, errors.PopChallenge)  # used up


def test_challenge_optional_when_not_required(attester: Attester, device: DeviceKey) -> None:
    policy = make_policy(attester, challenge_checker=Challenges({"c-1"}))
    validate(request(attester.issue(device), make_pop(device)), policy)
    reject(request(attester.issue(device), make_pop(device, challenge="nope")), policy, errors.PopChallenge)


def test_attestation_is_checked_before_the_pop(attester: Attester, device: DeviceKey) -> None:
    expired = attester.issue(device, now=NOW - timedelta(hours=3))
    reject(request(expired, make_pop(device)), make_policy(attester), errors.AttestationExpired)


def test_independent_dpop_beside_pop(attester: Attester, device: DeviceKey) -> None:
    dpop_key = DeviceKey()
    client = validate(request(attester.issue(device), make_pop(device), make_dpop(dpop_key)), make_policy(attester))
    assert client.pop_method == ATTESTATION_POP_JWT
    assert client.dpop is not None
    assert client.dpop.jkt != client.instance_jkt
    # ... but it is still a DPoP proof that must be valid on its own.
    bad = make_dpop(dpop_key, htm="GET")
    reject(request(attester.issue(device), make_pop(device), bad), make_policy(attester), errors.DpopHtm)


def test_pop_method_not_accepted(attester: Attester, device: DeviceKey) -> None:
    policy = make_policy(attester, pop_methods=frozenset({DPOP_COMBINED}))
    reject(request(attester.issue(device), make_pop(device)), policy, errors.PopMethodNotAccepted)
