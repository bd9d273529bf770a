"""Several server processes on one PostgreSQL behave as one: of many concurrent requests for one
single-use challenge, or for one App Attest counter value, exactly one wins."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from attest.jwk import public_key_to_jwk
from attest.server.clients import AppleClientConfig, ClientRegistration, DebugClientConfig, add_client
from attest.server.db.engine import make_engine, make_sessionmaker
from attest.server.runtime import prepare_database
from tests.attest.apple.factory import TEST_APP_ID, AppAttestFactory, make_assertion
from tests.attest.server.processes import server_processes
from tests.attest.server.service import make_settings
from tests.databases import truncate_all

SECRET = "race-debug-secret-0123456789"


@pytest.fixture
def two_servers(postgres_url: str, tmp_path: Path) -> Iterator[list[str]]:
    truncate_all(make_engine(postgres_url))
    settings = make_settings(postgres_url, tmp_path)
    prepare_database(settings)
    with make_sessionmaker(make_engine(postgres_url)).begin() as session:
        add_client(
            session,
            ClientRegistration(client_id="racer", config=DebugClientConfig(), debug_secret=SECRET),
            now=datetime.now(UTC),
            production=False,
        )
    environment = {
        "ATTEST_DATABASE_URL": postgres_url,
        "ATTEST_STATE_DIR": str(tmp_path / "state"),
        "ATTEST_ISSUER": "https://attest.test",
    }
    with server_processes(2, environment, tmp_path) as urls:
        yield urls


def test_one_challenge_raced_by_twenty_requests_on_two_processes(two_servers: list[str]) -> None:
    challenge = httpx.post(f"{two_servers[0]}/v1/challenge", json={"client_id": "racer"}).json()[
        "attestation_challenge"
    ]
    jwk = dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    body = {"client_id": "racer", "challenge": challenge, "debug_secret": SECRET, "jwk": jwk}

    def attempt(index: int) -> httpx.Response:
        return httpx.post(f"{two_servers[index % 2]}/v1/attest/debug", json=body, timeout=30)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(attempt, range(20)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(200) == 1, [r.text for r in responses]
    assert statuses.count(400) == 19
    assert {r.json()["code"] for r in responses if r.status_code == 400} == {"challenge.used"}
    assert base64.urlsafe_b64decode(challenge + "=")


# --- one App Attest counter raced -----------------------------------------------------------------

FACTORY = AppAttestFactory()


@pytest.fixture
def two_apple_servers(postgres_url: str, tmp_path: Path) -> Iterator[list[str]]:
    truncate_all(make_engine(postgres_url))
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(FACTORY.root.public_bytes(serialization.Encoding.PEM))
    settings = make_settings(postgres_url, tmp_path, fixed_time=FACTORY.now, test_trust_anchors_file=anchors)
    prepare_database(settings)
    with make_sessionmaker(make_engine(postgres_url)).begin() as session:
        add_client(
            session,
            ClientRegistration(
                client_id="ios", config=AppleClientConfig(app_ids=(TEST_APP_ID,), environment="development")
            ),
            now=FACTORY.now,
            production=False,
        )
    environment = {
        "ATTEST_DATABASE_URL": postgres_url,
        "ATTEST_STATE_DIR": str(tmp_path / "state"),
        "ATTEST_ISSUER": "https://attest.test",
        "ATTEST_FIXED_TIME": FACTORY.now.isoformat(),
        "ATTEST_TEST_TRUST_ANCHORS_FILE": str(anchors),
    }
    with server_processes(2, environment, tmp_path) as urls:
        yield urls


def test_one_assertion_counter_raced_on_two_processes(two_apple_servers: list[str]) -> None:
    first, second = two_apple_servers
    jwk = dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))

    def client_data(purpose: str) -> bytes:
        challenge = httpx.post(f"{first}/v1/challenge", json={"client_id": "ios", "purpose": purpose})
        return json.dumps({"challenge": challenge.json()["attestation_challenge"], "jwk": jwk}).encode()

    built = FACTORY.attestation(client_data=client_data("attest"))
    attested = httpx.post(
        f"{first}/v1/attest/apple",
        json={
            "client_id": "ios",
            "key_id": base64.b64encode(built.key_id).decode(),
            "attestation_object": base64.b64encode(built.data).decode(),
            "client_data": base64.b64encode(built.client_data).decode(),
        },
    )
    assert attested.status_code == 200, attested.text
    bodies = []
    for _ in range(12):
        data = client_data("assertion")
        assertion = make_assertion(built.private_key, client_data=data, counter=1, app_id=TEST_APP_ID)
        bodies.append(
            {
                "client_id": "ios",
                "key_id": base64.b64encode(built.key_id).decode(),
                "assertion": base64.b64encode(assertion).decode(),
                "client_data": base64.b64encode(data).decode(),
            }
        )

    def attempt(index: int) -> httpx.Response:
        url = (first, second)[index % 2]
        return httpx.post(f"{url}/v1/attest/apple/assertion", json=bodies[index], timeout=30)

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(attempt, range(12)))
    assert [r.status_code for r in responses].count(200) == 1, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code != 200} == {"assertion.counter_not_increasing"}
