"""Starting the service in-process for tests (FastAPI TestClient over a real database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from attest.server.app import create_app
from attest.server.challenges import Purpose, encode_challenge, store_challenge
from attest.server.clients import ClientRegistration, add_client
from attest.server.runtime import Runtime, build_runtime, prepare_database
from attest.server.settings import Settings

STATUS_LIST_SAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "android" / "status-list-sample.json"


@dataclass
class Service:
    http: TestClient
    runtime: Runtime
    settings: Settings

    def session(self) -> Session:
        return self.runtime.sessions()

    def register(self, registration: ClientRegistration) -> None:
        with self.runtime.sessions.begin() as session:
            add_client(session, registration, now=self.runtime.now(), production=self.settings.is_production)

    def seed_challenge(self, raw: bytes, client_id: str, purpose: Purpose = Purpose.ATTEST) -> str:
        """Store a known challenge (a captured sample carries its own) and return its string form."""
        value = encode_challenge(raw)
        with self.runtime.sessions.begin() as session:
            store_challenge(
                session,
                value,
                client_id=client_id,
                purpose=purpose,
                now=self.runtime.now(),
                ttl=self.settings.challenge_ttl,
            )
        return value

    def challenge(self, client_id: str, purpose: str = "attest") -> str:
        response = self.http.post("/v1/challenge", json={"client_id": client_id, "purpose": purpose})
        assert response.status_code == 200, response.text
        value: str = response.json()["attestation_challenge"]
        return value


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "state_dir": tmp_path / "state",
        "issuer": "https://attest.test",
        # Revocation is required, against the status-list sample (no network in tests).
        "revocation": "required",
        "status_list_file": STATUS_LIST_SAMPLE,
        "status_list_max_age": "P3650D",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def start_service(
    database_url: str,
    tmp_path: Path,
    *,
    fixed_time: datetime | None = None,
    test_anchor_certificates: list[Any] | None = None,
    **overrides: Any,
) -> Service:
    if test_anchor_certificates:
        anchors = tmp_path / "test-anchors.pem"
        anchors.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in test_anchor_certificates))
        overrides["test_trust_anchors_file"] = anchors
    settings = make_settings(database_url, tmp_path, fixed_time=fixed_time, **overrides)
    prepare_database(settings)
    runtime = build_runtime(settings)
    return Service(
        http=TestClient(create_app(runtime), raise_server_exceptions=False), runtime=runtime, settings=settings
    )
