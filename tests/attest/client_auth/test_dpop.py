"""DPoP proofs (RFC 9449 section 4.3) and DPoP combined mode (draft section 5.2 and section 7.3)."""

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
    verify_dpop_proof,
)
from attest.client_auth.dpop import access_token_hash, normalize_htu
from attest.client_auth.errors import ClientAuthError
from attest.client_auth.policy import ClientAttestationPolicy
from tests.attest.client_auth.factory import (
    NOW,
    TOKEN_URL,
    Attester,
    Challenges,
    DeviceKey,
    b64,
    hs256_signer,
    make_dpop,
    make_policy,
    no_signature,
)

RESOURCE_URL = "https://rs.example.com/api/users/list"


def combined(
    attestation: str,
    dpop: str,
    *,
    method: str = "POST",
    url: str = TOKEN_URL,
    **extra: Any,
) -> AttestationRequest:
    return AttestationRequest.from_headers(
        [("OAuth-Client-Attestation", attestation), ("DPoP", dpop)], method=method, url=url, **extra
    )


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


def test_combined_mode(attester: Attester, device: DeviceKey) -> None:
    client = validate(combined(attester.issue(device), make_dpop(device)), make_policy(attester))
    assert client.pop_method == DPOP_COMBINED
    assert client.pop is None
    assert client.dpop is not None
    assert client.dpop.jkt == client.instance_jkt


def test_combined_mode_ml_dsa(attester: Attester) -> None:
    device = DeviceKey.ml_dsa()
    policy = make_policy(attester, dpop_algs=frozenset({"ES256", "ML-DSA-44"}))
    assert validate(combined(attester.issue(device), make_dpop(device)), policy).dpop is not None


def test_dpop_key_must_be_the_cnf_key(attester: Attester, device: DeviceKey) -> None:
    error = reject(
        combined(attester.issue(device), make_dpop(DeviceKey())), make_policy(attester), errors.DpopCnfMismatch
    )
    assert error.oauth_error == "invalid_client_attestation"


def test_jwk_compared_by_thumbprint(attester: Attester, device: DeviceKey) -> None:
    # Extra members and member order do not change the key (section 7.3 step 4).
    jwk = {"y": device.jwk["y"], "x": device.jwk["x"], "crv": "P-256", "kty": "EC", "kid": "device", "use": "sig"}
    validate(combined(attester.issue(device), make_dpop(device, header={"jwk": jwk})), make_policy(attester))


@pytest.mark.parametrize("htm", ["GET", "post", "PUT"])
def test_wrong_htm(attester: Attester, device: DeviceKey, htm: str) -> None:
    reject(combined(attester.issue(device), make_dpop(device, htm=htm)), make_policy(attester), errors.DpopHtm)


@pytest.mark.parametrize(
    "htu",
    [
        "https://as.example.com/token2",
        "https://as.example.com/",
        "http://as.example.com/token",
        "https://evil.example/token",
    ],
)
def test_wrong_htu(attester: Attester, device: DeviceKey, htu: str) -> None:
    reject(combined(attester.issue(device), make_dpop(device, htu=htu)), make_policy(attester), errors.DpopHtu)


@pytest.mark.parametrize(
    "htu",
    [
        "https://as.example.com/token?x=1",
        "https://as.example.com/token#frag",
        "HTTPS://AS.Example.COM/token",
        "https://as.example.com:443/token",
        "https://as.example.com/a/../token",
        "https://as.example.com/%74oken",
    ],
)
def test_htu_is_normalized(attester: Attester, device: DeviceKey, htu: str) -> None:
    validate(combined(attester.issue(device), make_dpop(device, htu=htu)), make_policy(attester))


def test_request_url_query_is_ignored(attester: Attester, device: DeviceKey) -> None:
    req = combined(attester.issue(device), make_dpop(device), url=TOKEN_URL + "?grant_type=x")
    validate(req, make_policy(attester))


def test_normalize_htu() -> None:
    assert normalize_htu("https://Example.com") == "https://example.com/"
    assert normalize_htu("http://example.com:80/a/./b/../c/") == "http://example.com/a/c/"
    assert normalize_htu("https://example.com:8443/%7euser/%2f") == "https://example.com:8443/~user/%2F"
    assert normalize_htu("https://[::1]:8443/x") == "https://[::1]:8443/x"
    assert normalize_htu("/relative") is None
    assert normalize_htu("ftp://example.com/") is None
    assert normalize_htu("https://user@example.com/") is None
    assert normalize_htu("https://example.com:99999/") is None


def test_ath_for_resource_requests(attester: Attester, device: DeviceKey) -> None:
    policy = make_policy(attester, audience="https://rs.example.com")
    token = attester.issue(device)
    access_token = "mF_9.B5f-4.1JqM"
    ok = make_dpop(device, htm="GET", htu=RESOURCE_URL, access_token=access_token)
    validate(combined(token, ok, method="GET", url=RESOURCE_URL, access_token=access_token), policy)
    missing = make_dpop(device, htm="GET", htu=RESOURCE_URL)
    reject(
        combined(token, missing, method="GET", url=RESOURCE_URL, access_token=access_token),
        policy,
        errors.DpopAthMissing,
    )
    wrong = make_dpop(device, htm="GET", htu=RESOURCE_URL, access_token="another-token")
    reject(combined(token, wrong, method="GET", url=RESOURCE_URL, access_token=access_token), policy, errors.DpopAth)
    garbage = make_dpop(device, htm="GET", htu=RESOURCE_URL, claims={"ath": "é"})
    reject(combined(token, garbage, method="GET", url=RESOURCE_URL, access_token=access_token), policy, errors.DpopAth)


def test_access_token_hash() -> None:
    # RFC 9449 section 7.1 example.
    assert (
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
        == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


def test_access_token_key_binding(device: DeviceKey) -> None:
    policy = make_policy()
    proof = make_dpop(device, htm="GET", htu=RESOURCE_URL)
    with pytest.raises(errors.DpopKeyBinding):
        verify_dpop_proof(proof, policy, method="GET", url=RESOURCE_URL, now=NOW, access_token_jkt="someone-else")


def test_nonce(attester: Attester, device: DeviceKey) -> None:
    policy = make_policy(attester, dpop_nonce_checker=Challenges({"n-1"}), require_dpop_nonce=True)
    token = attester.issue(device)
    missing = reject(combined(token, make_dpop(device)), policy, errors.DpopNonceMissing)
    assert missing.oauth_error == "use_dpop_nonce"
    wrong = reject(combined(token, make_dpop(device, nonce="n-2")), policy, errors.DpopNonce)
    assert wrong.oauth_error == "use_dpop_nonce"
    client = validate(combined(token, make_dpop(device, nonce="n-1")), policy)
    assert client.dpop is not None
    assert client.dpop.nonce == "n-1"


def test_replay(attester: Attester, device: DeviceKey) -> None:
    policy = make_policy(attester)
    token, proof = attester.issue(device), make_dpop(device)
    validate(combined(token, proof), policy)
    reject(combined(token, proof), policy, errors.DpopReplay)


@pytest.mark.parametrize("offset", [timedelta(minutes=-10), timedelta(minutes=3)])
def test_iat_window(attester: Attester, device: DeviceKey, offset: timedelta) -> None:
    reject(combined(attester.issue(device), make_dpop(device, iat=NOW + offset)), make_policy(attester), errors.DpopIat)


@pytest.mark.parametrize("typ", ["JWT", "oauth-client-attestation-pop+jwt"])
def test_typ(attester: Attester, device: DeviceKey, typ: str) -> None:
    reject(
        combined(attester.issue(device), make_dpop(device, header={"typ": typ})), make_policy(attester), errors.DpopTyp
    )


def test_alg_none_and_mac(attester: Attester, device: DeviceKey) -> None:
    token, policy = attester.issue(device), make_policy(attester)
    reject(combined(token, make_dpop(device, header={"alg": "none"}, signer=no_signature)), policy, errors.DpopAlg)
    mac = make_dpop(device, header={"alg": "HS256"}, signer=hs256_signer(b"k"))
    reject(combined(token, mac), policy, errors.DpopAlg)


def test_jwk_header(attester: Attester, device: DeviceKey) -> None:
    token, policy = attester.issue(device), make_policy(attester)
    assert device.ec_key is not None
    d = device.ec_key.private_numbers().private_value.to_bytes(32, "big")
    private = make_dpop(device, header={"jwk": {**device.jwk, "d": b64(d)}})
    reject(combined(token, private), policy, errors.DpopJwk)
    reject(combined(token, make_dpop(device, header={"jwk": "nope"})), policy, errors.DpopJwk)
    no_jwk = make_dpop(device, header={"jwk": None})
    reject(combined(token, no_jwk), policy, errors.DpopJwk)


def test_signature_by_another_key(attester: Attester, device: DeviceKey) -> None:
    proof = make_dpop(device, signer=DeviceKey().sign)
    reject(combined(attester.issue(device), proof), make_policy(attester), errors.DpopSignature)


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat"])
def test_required_claims(attester: Attester, device: DeviceKey, claim: str) -> None:
    reject(
        combined(attester.issue(device), make_dpop(device, drop_claims=(claim,))),
        make_policy(attester),
        errors.DpopClaims,
    )


def test_multiple_dpop_headers(attester: Attester, device: DeviceKey) -> None:
    proof = make_dpop(device)
    reject(combined(attester.issue(device), f"{proof},{proof}"), make_policy(attester), errors.DpopMultiple)


def test_combined_mode_not_accepted(attester: Attester, device: DeviceKey) -> None:
    policy = make_policy(attester, pop_methods=frozenset({ATTESTATION_POP_JWT}))
    reject(combined(attester.issue(device), make_dpop(device)), policy, errors.PopMethodNotAccepted)
