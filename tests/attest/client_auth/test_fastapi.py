"""The FastAPI dependency, the error responses, and the published metadata.

(No `from __future__ import annotations` here: FastAPI must see the `Annotated` dependency of the
routes defined inside `make_app` as real objects, not strings.)
"""

from datetime import datetime
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from attest.client_auth import (
    ATTESTATION_POP_JWT,
    ClientAttestationPolicy,
    ValidatedClient,
    challenge_response,
    client_attestation_metadata,
    client_attestation_pop_methods_supported,
)
from attest.client_auth.fastapi import RequireClientAttestation, install_problem_handler
from tests.attest.client_auth.factory import (
    CLIENT_ID,
    NOW,
    Attester,
    Challenges,
    DeviceKey,
    make_dpop,
    make_policy,
    make_pop,
)

APP_URL = "http://testserver/token"


def make_app(policy: ClientAttestationPolicy, **options: Any) -> TestClient:
    app = FastAPI()
    install_problem_handler(app)
    require_client = RequireClientAttestation(
        policy,
        clock=lambda: NOW,
        challenge_issuer=lambda now: f"challenge-at-{int(now.timestamp())}",
        dpop_nonce_issuer=lambda now: "fresh-nonce",
        **options,
    )

    @app.post("/token")
    def token(client: Annotated[ValidatedClient, Depends(require_client)]) -> dict[str, str]:
        return {"client_id": client.client_id, "method": client.pop_method, "jkt": client.instance_jkt}

    @app.get("/resource")
    def resource(client: Annotated[ValidatedClient, Depends(require_client)]) -> dict[str, str]:
        return {"client_id": client.client_id}

    return TestClient(app)


def test_pop_jwt_request() -> None:
    attester, device = Attester(), DeviceKey()
    client = make_app(make_policy(attester))
    response = client.post(
        "/token",
        headers={"OAuth-Client-Attestation": attester.issue(device), "OAuth-Client-Attestation-PoP": make_pop(device)},
        data={"grant_type": "authorization_code", "client_id": CLIENT_ID},
    )
    assert response.status_code == 200, response.text
    assert response.json()["client_id"] == CLIENT_ID
    assert response.json()["method"] == ATTESTATION_POP_JWT


def test_combined_mode_request_with_access_token() -> None:
    attester, device = Attester(), DeviceKey()
    client = make_app(make_policy(attester))
    proof = make_dpop(device, htm="GET", htu="http://testserver/resource", access_token="at-123")
    response = client.get(
        "/resource?page=2",
        headers={"OAuth-Client-Attestation": attester.issue(device), "DPoP": proof, "Authorization": "DPoP at-123"},
    )
    assert response.status_code == 200, response.text
    proof = make_dpop(device, htm="GET", htu="http://testserver/resource", access_token="other")
    response = client.get(
        "/resource",
        headers={"OAuth-Client-Attestation": attester.issue(device), "DPoP": proof, "Authorization": "DPoP at-123"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "dpop.ath"


def test_missing_attestation_is_a_problem_response() -> None:
    response = make_app(make_policy()).post("/token", data={"client_id": CLIENT_ID})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_client_attestation"')
    body = response.json()
    assert body["code"] == "client_attestation.missing"
    assert body["error"] == "invalid_client_attestation"
    assert body["status"] == 401


def test_client_id_mismatch() -> None:
    attester, device = Attester(), DeviceKey()
    response = make_app(make_policy(attester)).post(
        "/token",
        headers={"OAuth-Client-Attestation": attester.issue(device), "OAuth-Client-Attestation-PoP": make_pop(device)},
        data={"client_id": "another-client"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "client_attestation.sub_mismatch"


def test_repeated_client_id() -> None:
    attester, device = Attester(), DeviceKey()
    response = make_app(make_policy(attester)).post(
        "/token",
        headers={
            "OAuth-Client-Attestation": attester.issue(device),
            "OAuth-Client-Attestation-PoP": make_pop(device),
            "Content-Type": "application/x-www-form-urlencoded",
        },
        content=f"client_id={CLIENT_ID}&client_id=other",
    )
    assert response.status_code == 401
    assert response.json()["code"] == "client_attestation.sub_mismatch"


def test_use_attestation_challenge_sends_a_fresh_challenge() -> None:
    attester, device = Attester(), DeviceKey()
    policy = make_policy(attester, challenge_checker=Challenges(set()), require_challenge=True)
    response = make_app(policy).post(
        "/token",
        headers={"OAuth-Client-Attestation": attester.issue(device), "OAuth-Client-Attestation-PoP": make_pop(device)},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "use_attestation_challenge"
    assert response.headers["oauth-client-attestation-challenge"] == f"challenge-at-{int(NOW.timestamp())}"


def test_use_dpop_nonce_sends_a_fresh_nonce() -> None:
    attester, device = Attester(), DeviceKey()
    policy = make_policy(attester, dpop_nonce_checker=Challenges(set()), require_dpop_nonce=True)
    response = make_app(policy).post(
        "/token", headers={"OAuth-Client-Attestation": attester.issue(device), "DPoP": make_dpop(device, htu=APP_URL)}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('DPoP error="use_dpop_nonce"')
    assert response.headers["dpop-nonce"] == "fresh-nonce"


def test_public_url_for_proxies() -> None:
    attester, device = Attester(), DeviceKey()
    client = make_app(make_policy(attester), public_url=lambda request: "https://as.example.com/token")
    response = client.post(
        "/token", headers={"OAuth-Client-Attestation": attester.issue(device), "DPoP": make_dpop(device)}
    )
    assert response.status_code == 200, response.text


def test_error_description_is_header_safe() -> None:
    attester = Attester()
    token = attester.forge(claims={"sub": 'evil"\r\nSet-Cookie: x=1'})
    response = make_app(make_policy(attester)).post(
        "/token", headers={"OAuth-Client-Attestation": token, "OAuth-Client-Attestation-PoP": make_pop(DeviceKey())}
    )
    header = response.headers["www-authenticate"]
    assert "\r" not in header
    assert "\n" not in header
    assert header.count('"') == 4


def test_unreachable_jwks_is_503() -> None:
    import httpx

    from attest.client_auth import HttpJwksSource

    source = HttpJwksSource(
        "https://attester.example.com/jwks", transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )
    attester, device = Attester(), DeviceKey()
    response = make_app(make_policy(attester, jwks=source)).post(
        "/token",
        headers={"OAuth-Client-Attestation": attester.issue(device), "OAuth-Client-Attestation-PoP": make_pop(device)},
    )
    assert response.status_code == 503
    assert "www-authenticate" not in response.headers
    assert response.json()["code"] == "client_attestation.jwks_unavailable"


# --- metadata (draft section 8, section 7.6, section 6.3) --------------------------------------


def test_authorization_server_metadata() -> None:
    policy = make_policy()
    metadata = client_attestation_metadata(policy, challenge_endpoint="https://as.example.com/as/challenge")
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "attest_jwt_client_auth",
        "attest_jwt_client_auth_dpop",
    ]
    assert metadata["client_attestation_pop_methods_supported"] == ["attestation_pop_jwt", "dpop_combined"]
    assert metadata["challenge_endpoint"] == "https://as.example.com/as/challenge"
    assert "ES256" in metadata["client_attestation_signing_alg_values_supported"]
    assert "ML-DSA-44" in metadata["client_attestation_pop_signing_alg_values_supported"]
    assert "dpop_signing_alg_values_supported" in metadata
    for algs in (
        metadata["client_attestation_signing_alg_values_supported"],
        metadata["dpop_signing_alg_values_supported"],
    ):
        assert "none" not in algs
        assert not any(alg.startswith("HS") for alg in algs)


def test_resource_server_metadata_and_optional_attestation() -> None:
    policy = make_policy(pop_methods=frozenset({ATTESTATION_POP_JWT}))
    metadata = client_attestation_metadata(policy, attestation_optional=True, authorization_server=False)
    assert "token_endpoint_auth_methods_supported" not in metadata
    assert "dpop_signing_alg_values_supported" not in metadata
    assert "challenge_endpoint" not in metadata
    assert metadata["client_attestation_pop_methods_supported"] == ["attestation_pop_jwt", "none"]
    assert client_attestation_pop_methods_supported(make_policy()) == ["attestation_pop_jwt", "dpop_combined"]


@pytest.mark.parametrize(("challenge", "nonce"), [("c-1", None), (None, "n-1"), ("c-1", "n-1")])
def test_challenge_response(challenge: str | None, nonce: str | None) -> None:
    body, headers = challenge_response(challenge, dpop_nonce=nonce)
    assert headers["Cache-Control"] == "no-store"
    assert body == ({"attestation_challenge": challenge} if challenge else {})
    assert headers.get("DPoP-Nonce") == nonce


def test_time_comes_from_the_clock() -> None:
    attester, device = Attester(), DeviceKey()
    app = make_app(make_policy(attester))
    late = datetime(2030, 1, 1, tzinfo=NOW.tzinfo)
    response = app.post(
        "/token",
        headers={
            "OAuth-Client-Attestation": attester.issue(device, now=late),
            "OAuth-Client-Attestation-PoP": make_pop(device),
        },
    )
    assert response.status_code == 401
    assert response.json()["code"] == "client_attestation.not_yet_valid"
