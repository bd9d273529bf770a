"""``POST /v1/attest/apple`` and ``/v1/attest/apple/assertion`` over HTTP, on SQLite and PostgreSQL,
with App Attest objects minted under a test root (accepted only by test settings)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import delete, select, update

from attest.apple.policy import Environment
from attest.cli import main
from attest.cli_output import EXIT_UNREADABLE
from attest.jwk import public_key_to_jwk
from attest.server.clients import AppleClientConfig, ClientRegistration
from attest.server.db.models import AppAttestKey, AuditEvent
from tests.attest.apple.factory import TEST_APP_ID, AppAttestFactory, BuiltAttestation, make_assertion
from tests.attest.server.service import Service, start_service

FACTORY = AppAttestFactory()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Service:
    service = start_service(database_url, tmp_path, fixed_time=FACTORY.now, test_anchor_certificates=[FACTORY.root])
    service.register(
        ClientRegistration(
            client_id="ios-app", config=AppleClientConfig(app_ids=(TEST_APP_ID,), environment="development")
        )
    )
    return service


def client_data(challenge: str, jwk: dict[str, str] | None = None) -> bytes:
    jwk = jwk or dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    return json.dumps({"challenge": challenge, "jwk": jwk}).encode()


def attest(service: Service, built: BuiltAttestation, **changes: Any) -> Any:
    body = {
        "client_id": "ios-app",
        "key_id": b64(built.key_id),
        "attestation_object": b64(built.data),
        "client_data": b64(built.client_data),
    }
    body.update(changes)
    return service.http.post("/v1/attest/apple", json=body)


def assert_(service: Service, built: BuiltAttestation, counter: int, **changes: Any) -> Any:
    data = client_data(service.challenge("ios-app", purpose="assertion"))
    body = {
        "client_id": "ios-app",
        "key_id": b64(built.key_id),
        "assertion": b64(make_assertion(built.private_key, client_data=data, counter=counter, app_id=TEST_APP_ID)),
        "client_data": b64(data),
    }
    body.update(changes)
    return service.http.post("/v1/attest/apple/assertion", json=body)


def attested(service: Service) -> tuple[BuiltAttestation, dict[str, str]]:
    jwk = dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    built = FACTORY.attestation(client_data=client_data(service.challenge("ios-app"), jwk))
    response = attest(service, built)
    assert response.status_code == 200, response.text
    return built, jwk


def test_attestation_then_assertions(service: Service) -> None:
    built, _ = attested(service)
    keys = KeySet.import_key_set(service.http.get("/.well-known/jwks.json").json())
    response = assert_(service, built, counter=1)
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["client_attestation"], keys).claims
    assert claims["attestation"] == {
        "platform": "apple",
        "security_level": "secure_enclave",
        "environment": "development",
        "app_checked": True,
        "revocation_checked": False,
    }
    assert claims["cnf"]["jwk"]["kty"] == "EC"
    assert assert_(service, built, counter=5).status_code == 200
    stale = assert_(service, built, counter=5)
    assert (stale.status_code, stale.json()["code"]) == (403, "assertion.counter_not_increasing")
    older = assert_(service, built, counter=3)
    assert older.json()["code"] == "assertion.counter_not_increasing"


def set_key_row(service: Service, built: BuiltAttestation, **values: Any) -> None:
    """Change the stored key behind the worker's back, as another worker or an operator would."""
    key_id = base64.b64encode(built.key_id).decode()
    with service.runtime.sessions.begin() as session:
        session.execute(update(AppAttestKey).where(AppAttestKey.key_id == key_id).values(**values))


def test_a_key_the_worker_remembers_is_still_judged_by_its_row(service: Service) -> None:
    """After its first assertion a key's public key comes from the worker's memory, but the counter and
    the revocation are the database's on every assertion (attest.server.app_attest_keys)."""
    built, _ = attested(service)
    assert assert_(service, built, counter=1).status_code == 200
    set_key_row(service, built, counter=10)  # another worker accepted counters 2..10
    stale = assert_(service, built, counter=6)
    assert (stale.status_code, stale.json()["code"]) == (403, "assertion.counter_not_increasing")
    assert assert_(service, built, counter=11).status_code == 200
    set_key_row(service, built, revoked_at=service.runtime.now())
    revoked = assert_(service, built, counter=12)
    assert revoked.json()["code"] == "appattest.key_revoked"
    with service.runtime.sessions.begin() as session:
        session.execute(delete(AppAttestKey))
    gone = assert_(service, built, counter=13)
    assert (gone.status_code, gone.json()["code"]) == (400, "appattest.key_unknown")


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def revocation_events(service: Service) -> list[tuple[object, ...]]:
    with service.session() as session:
        rows = session.execute(
            select(AuditEvent.client_id, AuditEvent.platform, AuditEvent.outcome, AuditEvent.subject).where(
                AuditEvent.event == "appattest.key_revoked"
            )
        )
        return [tuple(row) for row in rows]


def test_a_key_revoked_with_the_cli_is_refused_at_once(
    service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`attest app-attest-keys revoke` on the service's database: the key's next assertion is refused,
    although the worker remembers the key; the listing shows the revocation and no key material."""
    built, _ = attested(service)
    assert assert_(service, built, counter=1).status_code == 200
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATTEST_DATABASE_URL", service.settings.database_url)
    monkeypatch.setenv("ATTEST_STATE_DIR", str(service.settings.state_dir))
    monkeypatch.setenv("ATTEST_FIXED_TIME", service.runtime.now().isoformat())
    key_id = b64(built.key_id)

    code, out, _ = cli(capsys, "app-attest-keys", "list", "--client", "ios-app")
    assert code == 0
    (listed,) = [json.loads(line) for line in out.splitlines()]
    assert listed["key_id"] == key_id
    assert (listed["client_id"], listed["app_id"], listed["environment"]) == ("ios-app", TEST_APP_ID, "development")
    assert (listed["counter"], listed["revoked_at"]) == (1, None)
    assert set(listed) == {
        "key_id", "client_id", "app_id", "environment", "counter", "created_at", "last_used_at", "revoked_at"
    }  # fmt: skip

    url_safe = base64.urlsafe_b64encode(built.key_id).decode().rstrip("=")
    code, out, _ = cli(capsys, "app-attest-keys", "revoke", url_safe)
    assert code == 0
    assert out == f"App Attest key {key_id} of client ios-app revoked at {service.runtime.now().isoformat()}\n"
    refused = assert_(service, built, counter=2)
    assert (refused.status_code, refused.json()["code"]) == (403, "appattest.key_revoked")
    assert revocation_events(service) == [("ios-app", "apple", "info", None)]

    monkeypatch.setenv("ATTEST_FIXED_TIME", (service.runtime.now() + timedelta(hours=1)).isoformat())
    code, out, _ = cli(capsys, "app-attest-keys", "revoke", key_id)  # again: the first revocation stays
    assert (code, out.split(" revoked at ")[1].strip()) == (0, service.runtime.now().isoformat())
    _, out, _ = cli(capsys, "app-attest-keys", "list")
    assert json.loads(out)["revoked_at"] == service.runtime.now().isoformat()
    assert cli(capsys, "app-attest-keys", "list", "--client", "someone-else")[1] == ""
    assert len(revocation_events(service)) == 1  # revoked once

    assert cli(capsys, "app-attest-keys", "revoke", b64(bytes(32)))[0] == 1  # no such key
    for malformed in ("not base64!", b64(bytes(31))):
        code, _, err = cli(capsys, "app-attest-keys", "revoke", malformed)
        assert code == EXIT_UNREADABLE
        assert "key id" in err


def test_token_binds_the_client_data_jwk(service: Service) -> None:
    jwk = dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    built = FACTORY.attestation(client_data=client_data(service.challenge("ios-app"), jwk))
    token = attest(service, built).json()["client_attestation"]
    claims = jwt.decode(token, KeySet.import_key_set(service.http.get("/.well-known/jwks.json").json())).claims
    assert claims["cnf"]["jwk"] == jwk


def test_a_key_is_attested_once(service: Service) -> None:
    built, _ = attested(service)
    again = FACTORY.attestation(key=built.private_key, client_data=client_data(service.challenge("ios-app")))
    response = attest(service, again)
    assert (response.status_code, response.json()["code"]) == (409, "appattest.key_exists")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"environment": Environment.PRODUCTION}, "appattest.environment_not_allowed"),
        ({"counter": 1}, "appattest.counter_not_zero"),
        ({"app_id": "ZYXWV98765.com.example.other"}, "appattest.app_id_not_allowed"),
        ({"certified_nonce": b"\x00" * 32}, "appattest.nonce_mismatch"),
    ],
)
def test_attestation_failures(service: Service, changes: dict[str, Any], code: str) -> None:
    built = FACTORY.attestation(client_data=client_data(service.challenge("ios-app")), **changes)
    response = attest(service, built)
    assert (response.status_code, response.json()["code"]) == (403, code)


def test_key_id_of_another_key(service: Service) -> None:
    built = FACTORY.attestation(client_data=client_data(service.challenge("ios-app")))
    response = attest(service, built, key_id=b64(b"\x01" * 32))
    assert response.json()["code"] == "appattest.key_id_mismatch"


def test_client_data_contract(service: Service) -> None:
    challenge = service.challenge("ios-app")
    for bad in (
        b"not json",
        b'{"challenge": "x"}',
        json.dumps({"challenge": challenge, "jwk": {"kty": "RSA"}}).encode(),
    ):
        built = FACTORY.attestation(client_data=bad)
        response = attest(service, built)
        assert (response.status_code, response.json()["code"]) == (400, "client_data.malformed")
    private = dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()), d="AAAA")
    response = attest(service, FACTORY.attestation(client_data=client_data(challenge, private)))
    assert response.json()["code"] == "jwk.private"


def test_assertion_needs_an_assertion_challenge(service: Service) -> None:
    built, _ = attested(service)
    data = client_data(service.challenge("ios-app", purpose="attest"))
    response = service.http.post(
        "/v1/attest/apple/assertion",
        json={
            "client_id": "ios-app",
            "key_id": b64(built.key_id),
            "assertion": b64(make_assertion(built.private_key, client_data=data, counter=1, app_id=TEST_APP_ID)),
            "client_data": b64(data),
        },
    )
    assert response.json()["code"] == "challenge.unknown"


def test_assertion_signed_by_another_key(service: Service) -> None:
    built, _ = attested(service)
    data = client_data(service.challenge("ios-app", purpose="assertion"))
    forged = make_assertion(ec.generate_private_key(ec.SECP256R1()), client_data=data, counter=1, app_id=TEST_APP_ID)
    response = assert_(service, built, counter=1, assertion=b64(forged), client_data=b64(data))
    assert (response.status_code, response.json()["code"]) == (403, "assertion.signature")


def test_assertion_for_an_unknown_key(service: Service) -> None:
    built = FACTORY.attestation(client_data=client_data(service.challenge("ios-app")))
    response = assert_(service, built, counter=1)
    assert (response.status_code, response.json()["code"]) == (400, "appattest.key_unknown")


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("key_id", "short", "request.malformed"),
        ("key_id", b64(b"x" * 31), "request.malformed"),
        ("attestation_object", "!!!", "request.malformed"),
        ("attestation_object", b64(b"\xa1\x63fmt"), "appattest.malformed"),
        ("attestation_object", b64(b"\x9f" * 200), "appattest.malformed"),
    ],
)
def test_malformed_input(service: Service, field: str, value: str, code: str) -> None:
    built = FACTORY.attestation(client_data=client_data(service.challenge("ios-app")))
    response = attest(service, built, **{field: value})
    assert response.status_code in (400, 403)
    assert response.json()["code"] == code


def test_a_failed_attestation_uses_up_its_challenge_and_stores_nothing_else(service: Service) -> None:
    """One transaction per request: the rejected attestation's key is not stored, its challenge is spent,
    and the audit log holds exactly its "invalid" event."""
    from sqlalchemy import func, select

    from attest.server.db.models import AppAttestKey, AuditEvent

    challenge = service.challenge("ios-app")
    built = FACTORY.attestation(client_data=client_data(challenge), counter=1)
    assert attest(service, built).json()["code"] == "appattest.counter_not_zero"
    retry = FACTORY.attestation(key=built.private_key, client_data=client_data(challenge))
    assert attest(service, retry).json()["code"] == "challenge.used"
    with service.session() as session:
        assert session.scalar(select(func.count()).select_from(AppAttestKey)) == 0
        events = [(e.event, e.outcome, e.code) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events == [
        ("attest.apple", "invalid", "appattest.counter_not_zero"),
        ("attest.apple", "invalid", "challenge.used"),
    ]


def test_a_refused_assertion_leaves_the_counter_and_spends_the_challenge(service: Service) -> None:
    from sqlalchemy import select

    from attest.server.db.models import AppAttestKey

    built, _ = attested(service)
    assert assert_(service, built, counter=5).status_code == 200
    data = client_data(service.challenge("ios-app", purpose="assertion"))
    other = ec.generate_private_key(ec.SECP256R1())
    body = {
        "client_id": "ios-app",
        "key_id": b64(built.key_id),
        "assertion": b64(make_assertion(other, client_data=data, counter=9, app_id=TEST_APP_ID)),
        "client_data": b64(data),
    }
    assert service.http.post("/v1/attest/apple/assertion", json=body).json()["code"] == "assertion.signature"
    body["assertion"] = b64(make_assertion(built.private_key, client_data=data, counter=9, app_id=TEST_APP_ID))
    assert service.http.post("/v1/attest/apple/assertion", json=body).json()["code"] == "challenge.used"
    with service.session() as session:
        assert session.scalar(select(AppAttestKey.counter)) == 5
