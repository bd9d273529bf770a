"""Faults: the database going away mid-service answers a clean 503 (problem+json, nothing written), and
the service recovers by itself when the database returns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import func, select

from attest.server.clients import ClientRegistration, DebugClientConfig
from attest.server.db.models import Challenge
from tests.attest.server.service import start_service
from tests.databases import POSTGRES_ADMIN_URL

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


@contextmanager
def database_unavailable(database_url: str) -> Iterator[None]:
    """Refuse new connections to the database and cut the open ones; restore afterwards."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def test_database_outage_is_a_clean_503_and_recovers(postgres_url: str, tmp_path: Path) -> None:
    from attest.server.db.engine import make_engine
    from tests.databases import truncate_all

    truncate_all(make_engine(postgres_url))
    service = start_service(postgres_url, tmp_path, fixed_time=NOW)
    service.register(ClientRegistration(client_id="ci", config=DebugClientConfig(), debug_secret="x" * 20))
    assert service.http.post("/v1/challenge", json={"client_id": "ci"}).status_code == 200
    with service.session() as session:
        before = session.scalar(select(func.count()).select_from(Challenge))
    assert before is not None

    with database_unavailable(postgres_url):
        response = service.http.post("/v1/challenge", json={"client_id": "ci"})
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "service.unavailable"
        assert "Traceback" not in response.text
        ready = service.http.get("/readyz")
        assert ready.status_code == 503

    assert service.http.post("/v1/challenge", json={"client_id": "ci"}).status_code == 200
    with service.session() as session:
        assert session.scalar(select(func.count()).select_from(Challenge)) == before + 1
