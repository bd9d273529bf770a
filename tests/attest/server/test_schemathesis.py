"""The service against its own OpenAPI document (schemathesis): no 5xx for any generated input, and
every response matches the documented status codes, content types and schemas."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from attest.server.app import create_app
from attest.server.clients import AndroidClientConfig, ClientRegistration, DebugClientConfig, add_client
from attest.server.runtime import build_runtime, prepare_database
from tests.attest.server.service import make_settings


def _app() -> object:
    directory = Path(tempfile.mkdtemp(prefix="attest-schemathesis-"))
    service_settings = make_settings(f"sqlite:///{directory / 'attest.db'}", directory, rate_limit_per_address=0)
    prepare_database(service_settings)
    runtime = build_runtime(service_settings)
    with runtime.sessions.begin() as session:
        now = datetime.now(UTC)
        add_client(
            session,
            ClientRegistration(client_id="ci", config=DebugClientConfig(), debug_secret="schemathesis-debug-secret"),
            now=now,
            production=False,
        )
        add_client(
            session,
            ClientRegistration(
                client_id="android", config=AndroidClientConfig(packages=("com.x",), signer_digests=("00" * 32,))
            ),
            now=now,
            production=False,
        )
    return create_app(runtime)


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.unsupported_method,
]


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any]) -> None:
    """No 5xx, and every response is documented. (Schemathesis' own checks that schema-violating input
    gets a 400-class answer are left out: an oversized body rightly gets 413, which it does not list.)"""
    case.call_and_validate(checks=CHECKS)
