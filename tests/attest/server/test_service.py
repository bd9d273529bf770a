"""The service around the verifiers: challenges, debug tokens, JWKS and rotation, settings safety,
migrations, health — on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from pydantic import ValidationError

from attest.errors import ConfigurationError
from attest.jwk import public_key_to_jwk
from attest.server.app import create_app
from attest.server.clients import ClientRegistration, DebugClientConfig, add_client, has_debug_clients
from attest.server.db.engine import make_engine
from attest.server.db.models import Base
from attest.server.errors import ClientInvalid
from attest.server.runtime import build_runtime, prepare_database
from attest.server.signing_keys import KeyEncryption, has_development_keys, rotate_key_ring
from tests.attest.server.service import Service, make_settings, start_service

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
DEBUG_SECRET = "ci-debug-secret-0123456789"


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Service:
    service = start_service(database_url, tmp_path, fixed_time=NOW)
    service.register(ClientRegistration(client_id="ci", config=DebugClientConfig(), debug_secret=DEBUG_SECRET))
    return service


def device_jwk() -> dict[str, str]:
    return dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))


def debug_attest(service: Service, **changes: Any) -> Any:
    body = {"client_id": "ci", "challenge": service.challenge("ci"), "debug_secret": DEBUG_SECRET, "jwk": device_jwk()}
    body.update(changes)
    return service.http.post("/v1/attest/debug", json=body)


def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def test_challenge_endpoint(service: Service) -> None:
    response = service.http.post("/v1/challenge", json={"client_id": "ci"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["expires_in"] == 300
    assert len(base64.urlsafe_b64decode(body["attestation_challenge"] + "=")) == 32
    assert service.challenge("ci") != body["attestation_challenge"]
    unknown = service.http.post("/v1/challenge", json={"client_id": "nobody"})
    assert unknown.status_code == 401
    assert unknown.json()["code"] == "client.unknown"


def test_debug_token(service: Service) -> None:
    jwk = device_jwk()
    response = debug_attest(service, jwk=jwk)
    assert response.status_code == 200, response.text
    token = response.json()["client_attestation"]
    decoded = jwt.decode(token, KeySet.import_key_set(service.http.get("/.well-known/jwks.json").json()))
    assert decoded.header["typ"] == "oauth-client-attestation+jwt"
    assert decoded.claims["attestation"]["platform"] == "debug"
    assert decoded.claims["cnf"]["jwk"] == jwk
    assert decoded.claims["sub"] == "ci"


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"debug_secret": "wrong-secret-wrong-secret"}, 401, "debug.secret_invalid"),
        ({"jwk": {**device_jwk(), "d": "AAAA"}}, 403, "jwk.private"),
        ({"jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}}, 403, "jwk.malformed"),
        ({"challenge": "bm90LWEtY2hhbGxlbmdl"}, 400, "challenge.unknown"),
    ],
)
def test_debug_rejections(service: Service, changes: dict[str, Any], status: int, code: str) -> None:
    response = debug_attest(service, **changes)
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_jwks_and_rotation(service: Service, tmp_path: Path) -> None:
    before = service.http.get("/.well-known/jwks.json").json()["keys"]
    assert len(before) == 2  # the active key and the published next key
    assert all("d" not in key and key["use"] == "sig" and key["alg"] == "ES256" for key in before)
    old_token = debug_attest(service).json()["client_attestation"]
    old_kid = jwt.decode(old_token, KeySet.import_key_set({"keys": before})).header["kid"]

    with service.runtime.sessions.begin() as session:
        rotated = rotate_key_ring(
            session, KeyEncryption.from_settings(service.settings), now=NOW, max_token_lifetime=timedelta(hours=24)
        )
    assert rotated.active().kid == before[1]["kid"]  # the published next key signs now
    fresh = start_service(service.settings.database_url, tmp_path, fixed_time=NOW + timedelta(minutes=1))
    after = fresh.http.get("/.well-known/jwks.json").json()["keys"]
    assert {key["kid"] for key in after} == {before[0]["kid"], before[1]["kid"], rotated.next_key().kid}  # type: ignore[union-attr]
    jwt.decode(old_token, KeySet.import_key_set({"keys": after}))  # tokens signed before still verify
    new_token = debug_attest(fresh).json()["client_attestation"]
    assert jwt.decode(new_token, KeySet.import_key_set({"keys": after})).header["kid"] != old_kid


def test_metadata_and_health(service: Service) -> None:
    metadata = service.http.get("/.well-known/client-attestation-issuer").json()
    assert metadata["issuer"] == "https://attest.test"
    assert metadata["jwks_uri"] == "https://attest.test/.well-known/jwks.json"
    assert metadata["challenge_endpoint"] == "https://attest.test/v1/challenge"
    assert service.http.get("/healthz").json() == {"status": "ok"}
    assert service.http.get("/readyz").json() == {"status": "ready"}
    assert service.http.get("/openapi.json").status_code == 200
    missing = service.http.get("/no/such/path")
    assert (missing.status_code, missing.json()["code"]) == (404, "request.not_found")
    assert service.http.get("/healthz").headers["x-request-id"]


def test_signing_keys_are_encrypted_at_rest(service: Service) -> None:
    from sqlalchemy import select

    from attest.server.db.models import SigningKeyRecord

    with service.session() as session:
        rows = list(session.scalars(select(SigningKeyRecord)))
    assert rows
    assert all(b"PRIVATE KEY" not in row.encrypted_private_key for row in rows)
    assert all(row.development for row in rows)


# --- production safety ----------------------------------------------------------------------------


def production(database_url: str, tmp_path: Path, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "env": "production",
        "issuer": "https://attest.example",
        "signing_key_encryption_key": base64.b64encode(b"k" * 32).decode(),
        "revocation": "required",
        "allow_sqlite_in_production": True,
        "email_backend": "smtp",
        "smtp_host": "smtp.attest.example",
        "public_url": "https://attest.example",
        "metrics_token": METRICS_TOKEN,
    }
    values.update(overrides)
    return make_settings(database_url, tmp_path, **values)


def test_production_settings_start(database_url: str, tmp_path: Path) -> None:
    settings = production(database_url, tmp_path)
    prepare_database(settings, now=NOW)
    build_runtime(settings)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"signing_key_encryption_key": None}, "SIGNING_KEY_ENCRYPTION_KEY"),
        ({"metrics_token": None}, "METRICS_TOKEN"),
        ({"revocation": "best-effort"}, "REVOCATION"),
        ({"fixed_time": NOW}, "FIXED_TIME"),
        ({"issuer": "http://attest.example"}, "https://"),
    ],
)
def test_production_refuses_unsafe_settings(database_url: str, tmp_path: Path, overrides: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_runtime(production(database_url, tmp_path, **overrides))


def test_production_refuses_test_anchors_and_sqlite(tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.pem"
    anchors.write_text("")
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with pytest.raises(ConfigurationError, match="TEST_TRUST_ANCHORS"):
        build_runtime(production(url, tmp_path, test_trust_anchors_file=anchors))
    with pytest.raises(ConfigurationError, match="SQLite"):
        build_runtime(production(url, tmp_path, allow_sqlite_in_production=False))


def test_production_has_no_debug_route_and_no_debug_clients(database_url: str, tmp_path: Path) -> None:
    settings = production(database_url, tmp_path)
    prepare_database(settings, now=NOW)
    from fastapi.testclient import TestClient

    from attest.server.app import create_app

    http = TestClient(create_app(build_runtime(settings)))
    assert http.post("/v1/attest/debug", json={}).status_code == 404
    assert "debug_attestation_endpoint" not in http.get("/.well-known/client-attestation-issuer").json()
    runtime = build_runtime(settings)
    debug_client = ClientRegistration(client_id="ci", config=DebugClientConfig(), debug_secret=DEBUG_SECRET)
    with runtime.sessions.begin() as session, pytest.raises(ClientInvalid):
        add_client(session, debug_client, now=NOW, production=True)
    with runtime.sessions() as session:
        assert not has_debug_clients(session)
        assert not has_development_keys(session)


def test_production_refuses_development_signing_keys(database_url: str, tmp_path: Path) -> None:
    prepare_database(make_settings(database_url, tmp_path), now=NOW)  # a development start made dev keys
    with pytest.raises(ConfigurationError, match="development"):
        build_runtime(production(database_url, tmp_path))


def test_production_refuses_debug_clients(database_url: str, tmp_path: Path) -> None:
    development = start_service(database_url, tmp_path, fixed_time=NOW)
    development.register(ClientRegistration(client_id="ci", config=DebugClientConfig(), debug_secret=DEBUG_SECRET))
    settings = production(database_url, tmp_path / "prod")
    with pytest.raises(ConfigurationError):
        build_runtime(settings)


def test_pop_key_from_debug_token_signs(service: Service) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = debug_attest(service, jwk=dict(public_key_to_jwk(key.public_key()))).json()["client_attestation"]
    pop = jwt.encode({"typ": "oauth-client-attestation-pop+jwt", "alg": "ES256"}, {"aud": "x"}, ECKey.import_key(key))
    claims = jwt.decode(token, KeySet.import_key_set(service.http.get("/.well-known/jwks.json").json())).claims
    assert jwt.decode(pop, ECKey.import_key(claims["cnf"]["jwk"])).claims["aud"] == "x"


def test_security_headers_and_no_cors_by_default(service: Service) -> None:
    response = service.http.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["strict-transport-security"].startswith("max-age=")  # https issuer
    assert "access-control-allow-origin" not in response.headers
    problem = service.http.post("/v1/challenge", json={})
    assert "content-security-policy" in problem.headers


def test_cors_allow_list(database_url: str, tmp_path: Path) -> None:
    service = start_service(database_url, tmp_path, fixed_time=NOW, cors_origins="https://app.example")
    allowed = service.http.options(
        "/v1/challenge",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    denied = service.http.options(
        "/v1/challenge",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in denied.headers


def test_metrics_count_verdicts_and_latency(service: Service) -> None:
    debug_attest(service)
    debug_attest(service, debug_secret="wrong-secret-wrong-secret")
    text = service.http.get("/metrics").text
    assert 'attest_verdicts_total{code="",event="attest.debug",outcome="valid"} 1.0' in text
    assert 'attest_verdicts_total{code="debug.secret_invalid",event="attest.debug",outcome="invalid"} 1.0' in text
    assert 'attest_http_request_duration_seconds_count{method="POST",route="/v1/attest/debug",status="200"} 1.0' in text


METRICS_TOKEN = "metrics-token-metrics-token-metrics-token"


def test_metrics_behind_a_bearer_token(tmp_path: Path) -> None:
    """With ATTEST_METRICS_TOKEN, /metrics answers only ``Authorization: Bearer <token>`` (RFC 6750);
    anything else is a 401 problem with the Bearer challenge, and shows no figure."""
    guarded = start_service(f"sqlite:///{tmp_path / 'metrics.db'}", tmp_path, metrics_token=METRICS_TOKEN)
    with guarded.http:
        assert guarded.http.get("/healthz").status_code == 200
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-wrong-token-wrong-token-wrong"},
            {"Authorization": f"bearer {METRICS_TOKEN}"},
            {"Authorization": METRICS_TOKEN},
            {"Authorization": f"Bearer {METRICS_TOKEN} "},
            {"Authorization": f"Basic {METRICS_TOKEN}"},
        ):
            refused = guarded.http.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
            assert refused.json()["code"] == "metrics.unauthorized"
            assert "attest_http_request_duration_seconds" not in refused.text
        allowed = guarded.http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert allowed.status_code == 200
        assert (
            'attest_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 1.0' in allowed.text
        )


def test_metrics_token_is_long(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        make_settings("sqlite://", tmp_path, metrics_token="metrics-token-of-31-characters!")
    for not_a_token in ("metrics token with spaces in it, 32+", "m\u00e9trics-token-metrics-token-metrics-token"):
        with pytest.raises(ValidationError, match="RFC 6750"):
            make_settings("sqlite://", tmp_path, metrics_token=not_a_token)
    assert make_settings("sqlite://", tmp_path, metrics_token="x" * 32).metrics_token is not None


def test_metrics_can_be_disabled_in_production(database_url: str, tmp_path: Path) -> None:
    settings = production(database_url, tmp_path, metrics_token=None, metrics_enabled=False)
    assert settings.production_problems() == []
    prepare_database(settings, now=NOW)
    with TestClient(create_app(build_runtime(settings)), raise_server_exceptions=False) as http:
        assert http.get("/metrics").status_code == 404


def test_json_logs_carry_the_request_id(service: Service, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import logging

    from attest.server.log_format import configure_json_logging

    configure_json_logging()
    try:
        response = service.http.post("/v1/challenge", json={"client_id": "ci"}, headers={"X-Request-ID": "req-42"})
        debug_attest(service, debug_secret="wrong-secret-wrong-secret")
        assert response.headers["x-request-id"] == "req-42"
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        audit_lines = [line for line in lines if line["logger"] == "attest.audit"]
        assert audit_lines
        assert all("request_id" in line for line in audit_lines)
        assert DEBUG_SECRET not in str(lines)
    finally:
        logging.getLogger().handlers[:] = []


def test_rate_limits_are_shared_between_workers(database_url: str, tmp_path: Path) -> None:
    """Two app instances on one database count against one limit (as worker processes would)."""
    first = start_service(database_url, tmp_path, fixed_time=NOW, rate_limit_per_address=5)
    second = start_service(database_url, tmp_path, fixed_time=NOW, rate_limit_per_address=5)
    first.register(ClientRegistration(client_id="ci", config=DebugClientConfig(), debug_secret=DEBUG_SECRET))
    statuses = [
        (first if index % 2 else second).http.post("/v1/challenge", json={"client_id": "ci"}).status_code
        for index in range(7)
    ]
    assert statuses == [200] * 5 + [429] * 2
    limited = first.http.post("/v1/challenge", json={"client_id": "ci"})
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    later = start_service(database_url, tmp_path, fixed_time=NOW + timedelta(minutes=1), rate_limit_per_address=5)
    assert later.http.post("/v1/challenge", json={"client_id": "ci"}).status_code == 200


def test_debug_secret_guessing_is_rate_limited(database_url: str, tmp_path: Path) -> None:
    service = start_service(database_url, tmp_path, fixed_time=NOW, rate_limit_debug_per_client=3)
    service.register(ClientRegistration(client_id="ci", config=DebugClientConfig(), debug_secret=DEBUG_SECRET))
    codes = [debug_attest(service, debug_secret=f"guess-{index:020d}").json()["code"] for index in range(5)]
    assert codes == ["debug.secret_invalid"] * 3 + ["rate_limited"] * 2
