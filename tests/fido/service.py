"""The service with passkeys configured for ``https://example.com`` (RP ID example.com), and the
ceremonies a browser runs against it, driven by the software authenticator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from attest.server.app import create_app
from tests.attest.server.service import Service, start_service
from tests.fido.authenticator import SoftAuthenticator

ORIGIN = "https://example.com"


@dataclass
class Passkeys:
    service: Service

    @property
    def http(self) -> TestClient:
        return self.service.http

    def browser(self) -> TestClient:
        """Another browser (its own cookie jar) on the same service."""
        return TestClient(create_app(self.service.runtime), base_url=ORIGIN, raise_server_exceptions=False)

    def register_options(self, username: str, display_name: str = "", http: TestClient | None = None) -> Any:
        return (http or self.http).post(
            "/v1/passkeys/registration/options", json={"username": username, "display_name": display_name}
        )

    def sign_up(
        self, authenticator: SoftAuthenticator, username: str, *, http: TestClient | None = None, **body: Any
    ) -> httpx.Response:
        client = http or self.http
        started = self.register_options(username, "Alice", client)
        assert started.status_code == 200, started.text
        credential = authenticator.create(started.json()["options"], origin=ORIGIN)
        response: httpx.Response = client.post(
            "/v1/passkeys/registration/verify",
            json={"ceremony_id": started.json()["ceremony_id"], "credential": credential, **body},
        )
        return response

    def sign_in(
        self,
        authenticator: SoftAuthenticator,
        username: str | None = None,
        *,
        http: TestClient | None = None,
        **get: Any,
    ) -> httpx.Response:
        client = http or self.http
        started = client.post("/v1/passkeys/authentication/options", json={"username": username})
        assert started.status_code == 200, started.text
        credential = authenticator.get(started.json()["options"], origin=ORIGIN, **get)
        response: httpx.Response = client.post(
            "/v1/passkeys/authentication/verify",
            json={"ceremony_id": started.json()["ceremony_id"], "credential": credential},
        )
        return response

    def remove(
        self, authenticator: SoftAuthenticator, credential_id: str, *, http: TestClient | None = None, **get: Any
    ) -> httpx.Response:
        client = http or self.http
        started: httpx.Response = client.post(f"/v1/passkeys/{credential_id}/removal/options")
        if started.status_code != 200:
            return started
        credential = authenticator.get(started.json()["options"], origin=ORIGIN, **get)
        response: httpx.Response = client.request(
            "DELETE",
            f"/v1/passkeys/{credential_id}",
            json={"ceremony_id": started.json()["ceremony_id"], "credential": credential},
        )
        return response


def start_passkeys(
    database_url: str, tmp_path: Path, *, fixed_time: datetime | None = None, **overrides: Any
) -> Passkeys:
    values: dict[str, Any] = {"rp_id": "example.com", "rp_name": "Example", "rp_origins": ORIGIN}
    values.update(overrides)
    service = start_service(database_url, tmp_path, fixed_time=fixed_time, **values)
    service.http = TestClient(create_app(service.runtime), base_url=ORIGIN, raise_server_exceptions=False)
    return Passkeys(service)
