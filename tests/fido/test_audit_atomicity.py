"""A passkey or recovery request's audit events are written in the transaction of its own writes, on SQLite
and PostgreSQL: when the database refuses the audit row, the request answers 503 and nothing it did is
kept (no account, label, sign-out, verified address or mail without its audit event).

The refusal is a real trigger on ``audit_events`` for one event name, not a patched function."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select, text

from attest.server.db.models import AuditEvent
from fido.models import OutboxEmail, WebAuthnCredential, WebAuthnUser
from tests.fido.authenticator import SoftAuthenticator
from tests.fido.mail_service import MailedService, start_mailed
from tests.fido.smtp_server import MailServer, code_in

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


@pytest.fixture
def api(database_url: str, tmp_path: Path, smtp: MailServer) -> MailedService:
    return start_mailed(database_url, tmp_path, smtp, fixed_time=NOW)


@contextmanager
def audit_refused(engine: Engine, event: str) -> Iterator[None]:
    """While inside, the database rejects every audit row of ``event`` (a trigger raising an error)."""
    assert event.replace(".", "").replace("_", "").isalnum()  # spliced into the DDL below
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        if postgres:
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF NEW.event = '{event}' THEN RAISE EXCEPTION 'audit store refused'; END IF; "
                    "RETURN NEW; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
                    f"WHEN NEW.event = '{event}' BEGIN SELECT RAISE(ABORT, 'audit store refused'); END"
                )
            )
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TRIGGER refuse_audit" + (" ON audit_events" if postgres else "")))
            if postgres:
                connection.execute(text("DROP FUNCTION refuse_audit()"))


def counts(api: MailedService) -> dict[str, int]:
    with api.passkeys.service.session() as session:
        return {
            "accounts": session.scalar(select(func.count()).select_from(WebAuthnUser)) or 0,
            "passkeys": session.scalar(select(func.count()).select_from(WebAuthnCredential)) or 0,
            "mails": session.scalar(select(func.count()).select_from(OutboxEmail)) or 0,
            "audit events": session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        }


def refused(response: httpx.Response) -> bool:
    return response.status_code == 503 and response.headers["content-type"] == "application/problem+json"


def test_a_sign_up_is_not_kept_without_its_audit_event(api: MailedService) -> None:
    engine = api.passkeys.service.runtime.engine
    phone = SoftAuthenticator()
    with audit_refused(engine, "passkey.register"):
        response = api.passkeys.sign_up(phone, "alice@example.com")
        assert refused(response), response.text
    assert "set-cookie" not in response.headers
    assert counts(api) == {"accounts": 0, "passkeys": 0, "mails": 0, "audit events": 0}
    assert api.passkeys.sign_up(phone, "alice@example.com").status_code == 201
    assert counts(api) == {"accounts": 1, "passkeys": 1, "mails": 0, "audit events": 1}


def test_a_rename_and_a_sign_out_are_not_kept_without_their_audit_events(api: MailedService) -> None:
    engine = api.passkeys.service.runtime.engine
    assert api.passkeys.sign_up(SoftAuthenticator(), "bob@example.com").status_code == 201
    (passkey,) = api.http.get("/v1/passkeys").json()["passkeys"]
    with audit_refused(engine, "passkey.rename"):
        assert refused(api.http.patch(f"/v1/passkeys/{passkey['credential_id']}", json={"label": "Work laptop"}))
    assert api.http.get("/v1/passkeys").json()["passkeys"][0]["label"] == passkey["label"]
    with audit_refused(engine, "session.end"):
        assert refused(api.http.delete("/v1/session"))
    assert api.http.get("/v1/session").status_code == 200  # still signed in
    renamed = api.http.patch(f"/v1/passkeys/{passkey['credential_id']}", json={"label": "Work laptop"})
    assert renamed.json()["label"] == "Work laptop"
    assert api.http.delete("/v1/session").status_code == 204
    assert api.http.get("/v1/session").status_code == 401


def test_an_email_verification_is_not_kept_without_its_audit_events(api: MailedService) -> None:
    engine = api.passkeys.service.runtime.engine
    assert api.passkeys.sign_up(SoftAuthenticator(), "carol@example.com").status_code == 201
    with audit_refused(engine, "email.verification"):
        assert refused(api.http.post("/v1/email/verification", json={}))
    assert counts(api)["mails"] == 0  # no mail queued without the request's audit event
    assert api.http.post("/v1/email/verification", json={}).status_code == 202
    code = code_in(api.mail(1))
    with audit_refused(engine, "email.verify"):
        assert refused(api.http.post("/v1/email/verification/confirm", json={"code": "00000000"}))
        assert refused(api.http.post("/v1/email/verification/confirm", json={"code": code}))
    assert api.http.get("/v1/session").json()["email_verified"] is False
    # The refused wrong code was not counted either: the right one still works, once the audit store does.
    confirmed = api.http.post("/v1/email/verification/confirm", json={"code": code})
    assert confirmed.json() == {"email": "carol@example.com", "email_verified": True}


def test_a_recovery_is_not_kept_without_its_audit_events(api: MailedService) -> None:
    engine = api.passkeys.service.runtime.engine
    alice = "alice@example.com"
    phone_browser = api.verified_account(SoftAuthenticator(), alice)
    laptop_browser, laptop = api.browser(), SoftAuthenticator()
    mails = counts(api)["mails"]
    with audit_refused(engine, "recovery.start"):
        assert refused(api.start(alice, laptop_browser))
    assert counts(api)["mails"] == mails  # no recovery mail without its audit event
    assert api.start(alice, laptop_browser).status_code == 202
    code = code_in(api.mail(2))
    with audit_refused(engine, "recovery.verify"):
        assert refused(api.verify(laptop_browser, email=alice, code=code))
    assert "__Host-passkey_recovery" not in laptop_browser.cookies
    assert api.verify(laptop_browser, email=alice, code=code).status_code == 200  # the code was not used up

    def add_passkey() -> httpx.Response:
        started = api.passkeys.register_options(alice, http=laptop_browser).json()
        credential = laptop.create(started["options"], origin="https://example.com")
        response: httpx.Response = laptop_browser.post(
            "/v1/passkeys/registration/verify",
            json={"ceremony_id": started["ceremony_id"], "credential": credential},
        )
        return response

    with audit_refused(engine, "recovery.passkey_added"):
        assert refused(add_passkey())
    assert counts(api)["passkeys"] == 1
    assert phone_browser.get("/v1/session").status_code == 200  # other sessions end only with the passkey
    assert add_passkey().status_code == 201
    assert counts(api)["passkeys"] == 2
    with audit_refused(engine, "recovery.removed_other_passkeys"):
        assert refused(laptop_browser.post("/v1/recovery/complete", json={"remove_other_passkeys": True}))
    assert counts(api)["passkeys"] == 2
    completed = laptop_browser.post("/v1/recovery/complete", json={"remove_other_passkeys": True})
    assert completed.json() == {"removed_passkeys": 1}
    assert counts(api)["passkeys"] == 1
