"""``POST /v1/attest/android`` end to end over HTTP, on SQLite and PostgreSQL: real device chains at
their capture time, factory chains under a test root, and the token checked by our own validator."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey

from attest.client_auth import (
    AttestationRequest,
    ClientAttestationPolicy,
    InMemoryReplayStore,
    StaticJwksSource,
    validate_client_attestation,
)
from attest.server.clients import AndroidClientConfig, ClientRegistration
from tests.attest.android import factory as f
from tests.attest.android.fixture_files import chain_der, expected_json
from tests.attest.server.service import Service, start_service

CAIMAN = "caiman/sdk36/TEE_EC_RKP"
CAIMAN_AT = datetime(2025, 9, 30, 12, tzinfo=UTC)
GOOGLE_SIGNER = "10:39:38:ee:45:37:e5:9e:8e:e7:92:f6:54:50:4f:b8:34:6f:c6:b3:46:d0:bb:c4:41:5f:c3:39:fc:fc:8e:c1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def android_client(client_id: str, package: str, digest: str, **config: Any) -> ClientRegistration:
    return ClientRegistration(
        client_id=client_id,
        config=AndroidClientConfig(packages=(package,), signer_digests=(digest,), **config),
        token_ttl_seconds=300,
    )


@pytest.fixture
def real_device_service(database_url: str, tmp_path: Path) -> Service:
    service = start_service(database_url, tmp_path, fixed_time=CAIMAN_AT)
    service.register(android_client("caiman-app", "com.google.android.attestation", GOOGLE_SIGNER))
    return service


def attest(service: Service, client_id: str, challenge: str, chain: list[bytes] | tuple[bytes, ...]) -> Any:
    return service.http.post(
        "/v1/attest/android",
        json={"client_id": client_id, "challenge": challenge, "certificate_chain": [b64(c) for c in chain]},
    )


def test_real_pixel_chain_gets_a_client_attestation(real_device_service: Service) -> None:
    service = real_device_service
    raw = base64.b64decode(expected_json(CAIMAN)["attestationChallenge"])
    challenge = service.seed_challenge(raw, "caiman-app")
    response = attest(service, "caiman-app", challenge, chain_der(CAIMAN))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expires_in"] == 300
    claims = jwt.decode(body["client_attestation"], _jwks_keyset(service)).claims
    assert claims["sub"] == "caiman-app"
    assert claims["iss"] == "https://attest.test"
    assert claims["cnf"]["jwk"]["kty"] == "EC"
    assert claims["attestation"]["platform"] == "android"
    assert claims["attestation"]["security_level"] == "tee"
    assert claims["attestation"]["app_checked"] is True
    assert claims["attestation"]["revocation_checked"] is True
    assert claims["exp"] - claims["iat"] == 300

    replay = attest(service, "caiman-app", challenge, chain_der(CAIMAN))
    assert replay.status_code == 400
    assert replay.json()["code"] == "challenge.used"


def test_real_unlocked_device_is_rejected_with_its_code(database_url: str, tmp_path: Path) -> None:
    service = start_service(database_url, tmp_path, fixed_time=datetime(2024, 9, 20, tzinfo=UTC))
    service.register(
        android_client(
            "akita-app",
            "com.google.wireless.android.security.attestationverifier.collector",
            GOOGLE_SIGNER,
        )
    )
    response = attest(
        service, "akita-app", service.seed_challenge(b"challenge", "akita-app"), chain_der("akita/sdk34/TEE_EC_NONE")
    )
    assert response.status_code == 403
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["code"] == "device.boot_state"
    assert problem["type"] == "urn:attest:problem:device.boot_state"
    assert problem["status"] == 403
    assert "UNVERIFIED" in problem["detail"]


# --- factory chains under a test root (accepted only because these are test settings) ----------

PKI = f.TestPki(name="service")


@pytest.fixture
def factory_service(database_url: str, tmp_path: Path) -> Service:
    service = start_service(
        database_url, tmp_path, fixed_time=f.FACTORY_NOW, test_anchor_certificates=[PKI.root_certificate()]
    )
    service.register(android_client("example-app", f.DEFAULT_PACKAGE_NAME, f.DEFAULT_SIGNER_DIGEST.hex()))
    return service


def factory_chain(challenge: str, **changes: Any) -> f.AndroidTestChain:
    raw = base64.urlsafe_b64decode(challenge + "=" * (-len(challenge) % 4))
    spec = f.KeyDescriptionSpec(attestation_challenge=raw)
    return PKI.chain(spec.to_der(), **changes)


def test_full_flow_token_and_proof_of_possession(factory_service: Service) -> None:
    """Challenge -> attest -> Client Attestation JWT -> PoP signed with the attested key -> validator."""
    service = factory_service
    challenge = service.challenge("example-app")
    chain = factory_chain(challenge)
    response = attest(service, "example-app", challenge, chain.certificates)
    assert response.status_code == 200, response.text
    token = response.json()["client_attestation"]

    leaf_key = chain.leaf_private_key
    assert isinstance(leaf_key, ec.EllipticCurvePrivateKey)
    now = f.FACTORY_NOW
    pop = jwt.encode(
        {"typ": "oauth-client-attestation-pop+jwt", "alg": "ES256"},
        {"aud": "https://as.example", "jti": "pop-1", "iat": int(now.timestamp())},
        ECKey.import_key(leaf_key),
    )
    policy = ClientAttestationPolicy(
        audience="https://as.example",
        jwks=StaticJwksSource(service.http.get("/.well-known/jwks.json").json()),
        replay_store=InMemoryReplayStore(),
        attester_issuer="https://attest.test",
    )
    request = AttestationRequest.from_headers(
        [("OAuth-Client-Attestation", token), ("OAuth-Client-Attestation-PoP", pop)],
        method="POST",
        url="https://as.example/token",
        client_id="example-app",
    )
    validated = validate_client_attestation(request, policy, now=now)
    assert validated.client_id == "example-app"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"extend_below": True}, "chain.extended"),
        ({"corrupt_leaf_signature": True}, "chain.signature"),
        ({"intermediate_is_ca": False}, "chain.issuer_not_ca"),
    ],
)
def test_attacks_are_rejected_over_http(factory_service: Service, changes: dict[str, Any], code: str) -> None:
    challenge = factory_service.challenge("example-app")
    response = attest(factory_service, "example-app", challenge, factory_chain(challenge, **changes).certificates)
    assert response.status_code == 403
    assert response.json()["code"] == code


def test_wrong_app_and_wrong_challenge(factory_service: Service) -> None:
    service = factory_service
    challenge = service.challenge("example-app")
    other_app = f.KeyDescriptionSpec(attestation_challenge=base64.urlsafe_b64decode(challenge + "=")).with_software(
        attestation_application_id=f.AttestationApplicationIdSpec(
            packages=(("com.evil.app", 1),), signature_digests=(f.DEFAULT_SIGNER_DIGEST,)
        )
    )
    response = attest(service, "example-app", challenge, PKI.chain(other_app.to_der()).certificates)
    assert response.json()["code"] == "app.package_not_allowed"

    challenge = service.challenge("example-app")
    response = attest(service, "example-app", challenge, PKI.chain(f.DEFAULT_EXTENSION).certificates)
    assert response.status_code == 403
    assert response.json()["code"] == "challenge.mismatch"


def test_challenge_rules(factory_service: Service) -> None:
    service = factory_service
    service.register(android_client("other-app", "com.other", "00" * 32))
    challenge = service.challenge("other-app")
    response = attest(service, "example-app", challenge, factory_chain(challenge).certificates)
    assert response.json()["code"] == "challenge.unknown"  # issued to another client

    response = attest(service, "example-app", "A" * 43, factory_chain("A" * 43).certificates)
    assert response.json()["code"] == "challenge.unknown"

    challenge = service.challenge("example-app", purpose="assertion")
    response = attest(service, "example-app", challenge, factory_chain(challenge).certificates)
    assert response.json()["code"] == "challenge.unknown"  # issued for another purpose


def test_expired_challenge(database_url: str, tmp_path: Path) -> None:
    service = start_service(
        database_url, tmp_path, fixed_time=f.FACTORY_NOW, test_anchor_certificates=[PKI.root_certificate()]
    )
    service.register(android_client("example-app", f.DEFAULT_PACKAGE_NAME, f.DEFAULT_SIGNER_DIGEST.hex()))
    challenge = service.challenge("example-app")
    later = start_service(
        database_url,
        tmp_path,
        fixed_time=f.FACTORY_NOW + timedelta(minutes=6),
        test_anchor_certificates=[PKI.root_certificate()],
    )
    response = attest(later, "example-app", challenge, factory_chain(challenge).certificates)
    assert response.status_code == 400
    assert response.json()["code"] == "challenge.expired"


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        (
            {"client_id": "example-app", "challenge": "x", "certificate_chain": ["not base64!"]},
            "request.malformed",
            400,
        ),
        ({"client_id": "example-app", "challenge": "x", "certificate_chain": "MIIB"}, "request.malformed", 400),
        ({"client_id": "example-app", "challenge": 5, "certificate_chain": ["MIIB"]}, "request.malformed", 400),
        ({"client_id": "example-app", "certificate_chain": ["MIIB"]}, "request.malformed", 400),
        (
            {"client_id": "example-app", "challenge": "x", "certificate_chain": ["MIIB"], "extra": 1},
            "request.malformed",
            400,
        ),
        ({"client_id": "nobody", "challenge": "x", "certificate_chain": ["MIIB"]}, "client.unknown", 401),
        ({"client_id": "example-app", "challenge": "x", "certificate_chain": ["MIIB"] * 9}, "request.malformed", 400),
    ],
)
def test_bad_requests_get_problem_details(factory_service: Service, body: Any, code: str, status: int) -> None:
    response = factory_service.http.post("/v1/attest/android", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


def test_garbage_certificates_are_4xx(factory_service: Service) -> None:
    challenge = factory_service.challenge("example-app")
    response = attest(factory_service, "example-app", challenge, [b"\x30\x03\x02\x01\x01", b"junk"])
    assert response.status_code == 403
    assert response.json()["code"] == "chain.malformed"


def test_unparseable_json_and_oversized_bodies(factory_service: Service) -> None:
    response = factory_service.http.post(
        "/v1/attest/android", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "request.malformed"
    response = factory_service.http.post(
        "/v1/attest/android", content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request.too_large"

    def chunks() -> Any:
        for _ in range(100):
            yield b" " * 1024

    response = factory_service.http.post(
        "/v1/attest/android", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_platform_mismatch(factory_service: Service) -> None:
    from attest.server.clients import AppleClientConfig

    factory_service.register(
        ClientRegistration(client_id="ios-app", config=AppleClientConfig(app_ids=("ABCDE12345.com.example.app",)))
    )
    response = factory_service.http.post(
        "/v1/attest/android", json={"client_id": "ios-app", "challenge": "x", "certificate_chain": ["MIIB"]}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "client.platform_mismatch"


def _jwks_keyset(service: Service) -> Any:
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(service.http.get("/.well-known/jwks.json").json())


def test_audit_log_records_verdicts(factory_service: Service) -> None:
    from sqlalchemy import select

    from attest.server.db.models import AuditEvent

    challenge = factory_service.challenge("example-app")
    attest(factory_service, "example-app", challenge, factory_chain(challenge).certificates)
    challenge = factory_service.challenge("example-app")
    attest(
        factory_service, "example-app", challenge, factory_chain(challenge, corrupt_leaf_signature=True).certificates
    )
    with factory_service.session() as session:
        events = [(e.event, e.outcome, e.code) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events == [("attest.android", "valid", None), ("attest.android", "invalid", "chain.signature")]


def test_revocation_over_http(database_url: str, tmp_path: Path) -> None:
    listed = tmp_path / "status.json"
    listed.write_text('{"entries": {"abcdef0123": {"status": "REVOKED", "reason": "KEY_COMPROMISE"}}}')
    service = start_service(
        database_url,
        tmp_path,
        fixed_time=f.FACTORY_NOW,
        test_anchor_certificates=[PKI.root_certificate()],
        status_list_file=listed,
    )
    service.register(android_client("example-app", f.DEFAULT_PACKAGE_NAME, f.DEFAULT_SIGNER_DIGEST.hex()))
    challenge = service.challenge("example-app")
    chain = factory_chain(challenge, serial_numbers={f.Role.ATTESTATION_CA: 0xABCDEF0123})
    response = attest(service, "example-app", challenge, chain.certificates)
    assert (response.status_code, response.json()["code"]) == (403, "chain.revoked")


def test_revocation_required_without_a_list_fails_closed(database_url: str, tmp_path: Path) -> None:
    service = start_service(
        database_url,
        tmp_path,
        fixed_time=f.FACTORY_NOW,
        test_anchor_certificates=[PKI.root_certificate()],
        status_list_file=tmp_path / "missing.json",
    )
    service.register(android_client("example-app", f.DEFAULT_PACKAGE_NAME, f.DEFAULT_SIGNER_DIGEST.hex()))
    challenge = service.challenge("example-app")
    response = attest(service, "example-app", challenge, factory_chain(challenge).certificates)
    assert (response.status_code, response.json()["code"]) == (503, "revocation.unavailable")


def test_a_rejected_chain_spends_its_challenge(factory_service: Service) -> None:
    challenge = factory_service.challenge("example-app")
    rejected = attest(
        factory_service, "example-app", challenge, factory_chain(challenge, corrupt_leaf_signature=True).certificates
    )
    assert rejected.json()["code"] == "chain.signature"
    retry = attest(factory_service, "example-app", challenge, factory_chain(challenge).certificates)
    assert (retry.status_code, retry.json()["code"]) == (400, "challenge.used")


def test_unknown_clients_and_challenges_are_audited(factory_service: Service) -> None:
    from sqlalchemy import select

    from attest.server.db.models import AuditEvent

    challenge = factory_service.challenge("example-app")
    assert attest(factory_service, "nobody", challenge, factory_chain(challenge).certificates).status_code == 401
    assert attest(factory_service, "example-app", "A" * 43, factory_chain("A" * 43).certificates).status_code == 400
    with factory_service.session() as session:
        events = [(e.client_id, e.outcome, e.code) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events == [("nobody", "invalid", "client.unknown"), ("example-app", "invalid", "challenge.unknown")]
