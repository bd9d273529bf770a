"""A server process killed (SIGKILL) in the middle of requests leaves the database consistent: another
process serves at once, every challenge is either still usable or already used (never half-used), and
nothing answers 500."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from attest.jwk import public_key_to_jwk
from attest.server.clients import ClientRegistration, DebugClientConfig, add_client
from attest.server.db.engine import make_engine, make_sessionmaker
from attest.server.db.models import Challenge
from attest.server.runtime import prepare_database
from tests.attest.server.processes import server_process_handles, server_processes
from tests.attest.server.service import make_settings
from tests.databases import truncate_all

SECRET = "kill-test-debug-secret-0123456789"


@pytest.fixture
def environment(postgres_url: str, tmp_path: Path) -> dict[str, str]:
    truncate_all(make_engine(postgres_url))
    prepare_database(make_settings(postgres_url, tmp_path))
    with make_sessionmaker(make_engine(postgres_url)).begin() as session:
        add_client(
            session,
            ClientRegistration(client_id="ci", config=DebugClientConfig(), debug_secret=SECRET),
            now=datetime.now(UTC),
            production=False,
        )
    return {
        "ATTEST_DATABASE_URL": postgres_url,
        "ATTEST_STATE_DIR": str(tmp_path / "state"),
        "ATTEST_ISSUER": "https://attest.test",
        "ATTEST_RATE_LIMIT_PER_ADDRESS": "0",
        "ATTEST_RATE_LIMIT_DEBUG_PER_CLIENT": "0",
    }


def test_kill_mid_requests_leaves_consistent_state(
    environment: dict[str, str], tmp_path: Path, postgres_url: str
) -> None:
    jwk = dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    with server_process_handles(1, environment, tmp_path) as ((url, process),):
        challenges = [
            httpx.post(f"{url}/v1/challenge", json={"client_id": "ci"}).json()["attestation_challenge"]
            for _ in range(40)
        ]

        def attest(challenge: str) -> int | None:
            body = {"client_id": "ci", "challenge": challenge, "debug_secret": SECRET, "jwk": jwk}
            try:
                return httpx.post(f"{url}/v1/attest/debug", json=body, timeout=10).status_code
            except httpx.HTTPError:
                return None  # the server died under this request

        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(attest, challenge) for challenge in challenges]
            while sum(future.done() for future in futures) < 5:
                pass
            process.send_signal(signal.SIGKILL)
            statuses = [future.result() for future in futures]
    assert 500 not in statuses
    assert statuses.count(200) >= 5

    with server_processes(1, environment, tmp_path) as (url,):
        with make_sessionmaker(make_engine(postgres_url))() as session:
            consumed = session.scalar(
                select(func.count()).select_from(Challenge).where(Challenge.consumed_at.is_not(None))
            )
        again = []
        for challenge in challenges:
            body = {"client_id": "ci", "challenge": challenge, "debug_secret": SECRET, "jwk": jwk}
            again.append(httpx.post(f"{url}/v1/attest/debug", json=body, timeout=10))
        assert all(response.status_code in (200, 400) for response in again), [r.text for r in again]
        used = [response for response in again if response.status_code == 400]
        assert {response.json()["code"] for response in used} <= {"challenge.used"}
        # Exactly the challenges consumed before the kill are refused; every other one still works once.
        assert len(used) == consumed
