"""Email verification over the API, with the mail going through a real SMTP server (aiosmtpd), on SQLite and
PostgreSQL: the code (signed in) and the link (anywhere), attempts, expiry, reuse, changing and taken
addresses, and the storage rule that one verified address belongs to one account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from fido.email_verification import normalize_email
from fido.errors import EmailInvalid
from fido.models import WebAuthnUser
from tests.fido.authenticator import SoftAuthenticator
from tests.fido.mail_service import MailedService, start_mailed
from tests.fido.service import ORIGIN
from tests.fido.smtp_server import MailServer, code_in, link_in, text_of, token_in

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


@pytest.fixture
def api(database_url: str, tmp_path: Path, smtp: MailServer) -> MailedService:
    return start_mailed(database_url, tmp_path, smtp, fixed_time=NOW)


def problem(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.status_code, response.json()["code"]


def test_verify_the_sign_up_address_by_code(api: MailedService) -> None:
    phone = SoftAuthenticator()
    assert api.passkeys.sign_up(phone, "alice@example.com").status_code == 201
    (credential_id,) = [p["credential_id"] for p in api.http.get("/v1/passkeys").json()["passkeys"]]
    assert problem(api.http.post(f"/v1/passkeys/{credential_id}/removal/options")) == (409, "passkey.last_passkey")
    requested = api.http.post("/v1/email/verification", json={})
    assert (requested.status_code, requested.json()) == (202, {"email": "alice@example.com", "expires_in": 3600})
    assert requested.headers["cache-control"] == "no-store"
    mail = api.mail(1)
    assert (mail["To"], mail["Subject"]) == ("alice@example.com", "Confirm your email address")
    assert link_in(mail).startswith(f"{ORIGIN}/passkeys/verify-email#token=")
    assert "60 minutes" in text_of(mail)
    confirmed = api.http.post("/v1/email/verification/confirm", json={"code": code_in(mail)})
    assert confirmed.json() == {"email": "alice@example.com", "email_verified": True}
    assert api.http.get("/v1/session").json()["email_verified"] is True
    # With a verified recovery address the last passkey may go (fido/routes.py).
    assert api.http.post(f"/v1/passkeys/{credential_id}/removal/options").status_code == 200
    assert problem(api.http.post("/v1/email/verification", json={})) == (409, "email.already_verified")
    # From now on, every passkey added is reported to the verified address.
    started = api.passkeys.register_options("alice@example.com").json()
    credential = SoftAuthenticator().create(started["options"], origin=ORIGIN)
    added = api.http.post(
        "/v1/passkeys/registration/verify", json={"ceremony_id": started["ceremony_id"], "credential": credential}
    )
    assert added.status_code == 201
    notice = api.mail(2)
    assert (notice["To"], notice["Subject"]) == ("alice@example.com", "A new passkey was added to your account")
    assert "signed out" not in text_of(notice)


def test_verify_by_the_link_in_another_browser(api: MailedService) -> None:
    api.passkeys.sign_up(SoftAuthenticator(), "bob")
    assert problem(api.http.post("/v1/email/verification", json={})) == (400, "email.missing")
    requested = api.http.post("/v1/email/verification", json={"email": " Bob@Example.COM "})
    assert requested.json()["email"] == "bob@example.com"
    mail = api.mail(1)
    assert mail["To"] == "bob@example.com"
    assert api.http.get("/v1/session").json()["email"] is None  # nothing changes until it is proved
    phone_browser = api.browser()  # not signed in: the link carries everything
    confirmed = phone_browser.post("/v1/email/verification/confirm", json={"token": token_in(mail)})
    assert confirmed.json() == {"email": "bob@example.com", "email_verified": True}
    assert problem(phone_browser.post("/v1/email/verification/confirm", json={"token": token_in(mail)})) == (
        400,
        "email.used",
    )
    assert problem(api.http.post("/v1/email/verification/confirm", json={"code": code_in(mail)})) == (
        400,
        "email.used",
    )
    assert api.http.get("/v1/session").json()["email"] == "bob@example.com"


def test_five_wrong_codes_lock_the_code(api: MailedService) -> None:
    api.passkeys.sign_up(SoftAuthenticator(), "carol@example.com")
    api.http.post("/v1/email/verification", json={})
    mail = api.mail(1)
    code = code_in(mail)
    for n in range(1, 6):
        wrong = f"{(int(code) + n) % 10**8:08d}"
        response = api.http.post("/v1/email/verification/confirm", json={"code": wrong})
        assert problem(response) == (403, "email.code_invalid")
    locked = api.http.post("/v1/email/verification/confirm", json={"code": code})
    assert problem(locked) == (403, "email.locked")
    assert api.browser().post("/v1/email/verification/confirm", json={"token": token_in(mail)}).status_code == 200


def test_codes_and_links_expire_and_are_replaced(database_url: str, tmp_path: Path, smtp: MailServer) -> None:
    early = start_mailed(database_url, tmp_path, smtp, fixed_time=NOW)
    early.passkeys.sign_up(SoftAuthenticator(), "dave@example.com")
    early.http.post("/v1/email/verification", json={})
    first = early.mail(1)
    early.http.post("/v1/email/verification", json={})
    second = early.mail(2)
    assert problem(early.browser().post("/v1/email/verification/confirm", json={"token": token_in(first)})) == (
        400,
        "email.token_invalid",
    )
    late = start_mailed(database_url, tmp_path, smtp, fixed_time=NOW + timedelta(hours=1))
    late.http.cookies = early.http.cookies
    assert problem(late.http.post("/v1/email/verification/confirm", json={"code": code_in(second)})) == (
        400,
        "email.expired",
    )
    assert problem(late.http.post("/v1/email/verification/confirm", json={"token": token_in(second)})) == (
        400,
        "email.expired",
    )
    assert problem(late.http.post("/v1/email/verification/confirm", json={"token": "A" * 43})) == (
        400,
        "email.token_invalid",
    )


def test_an_address_verified_elsewhere_is_refused_only_after_proof(api: MailedService) -> None:
    api.verified_account(SoftAuthenticator(), "erin@example.com")
    mallory = api.browser()
    api.passkeys.sign_up(SoftAuthenticator(), "mallory", http=mallory)
    # Asking reveals nothing (202 as for any address); the mail goes to the address's owner.
    assert mallory.post("/v1/email/verification", json={"email": "erin@example.com"}).status_code == 202
    mail = api.mail(2)
    assert mail["To"] == "erin@example.com"
    assert "mallory" in text_of(mail)
    # Only someone who reads that mailbox learns that it is taken.
    assert problem(mallory.post("/v1/email/verification/confirm", json={"code": code_in(mail)})) == (
        409,
        "email.taken",
    )
    assert mallory.get("/v1/session").json()["email"] is None


def test_confirming_needs_a_session_for_codes_and_limits_requests(
    database_url: str, tmp_path: Path, smtp: MailServer
) -> None:
    api = start_mailed(database_url, tmp_path, smtp, fixed_time=NOW, rate_limit_mail_per_email=2)
    assert problem(api.http.post("/v1/email/verification", json={})) == (401, "session.required")
    assert problem(api.http.post("/v1/email/verification/confirm", json={"code": "12345678"})) == (
        401,
        "session.required",
    )
    api.passkeys.sign_up(SoftAuthenticator(), "frank@example.com")
    assert [api.http.post("/v1/email/verification", json={}).status_code for _ in range(3)] == [202, 202, 429]
    assert problem(api.http.post("/v1/email/verification", json={"email": "not an address"})) == (400, "email.invalid")
    for body in ({}, {"code": "1", "token": "x"}, {"code": 12345678}, {"token": "x" * 65}):
        assert problem(api.http.post("/v1/email/verification/confirm", json=body)) == (400, "request.malformed")


def test_one_verified_address_per_account_in_storage(api: MailedService) -> None:
    """The partial unique index: any number of accounts may name an address, one may have it verified."""
    runtime = api.passkeys.service.runtime

    def account(user_id: str, verified: bool) -> None:
        with runtime.sessions.begin() as session:
            session.execute(
                insert(WebAuthnUser).values(
                    id=user_id,
                    user_handle=user_id.encode() * 8,
                    username=user_id,
                    display_name=user_id,
                    email="shared@example.com",
                    email_verified=verified,
                    created_at=NOW,
                )
            )

    account("u1", verified=False)
    account("u2", verified=False)
    account("u3", verified=True)
    with pytest.raises(IntegrityError):
        account("u4", verified=True)
    with pytest.raises(IntegrityError), runtime.sessions.begin() as session:
        session.execute(update(WebAuthnUser).where(WebAuthnUser.id == "u1").values(email_verified=True))


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (" Alice@Example.COM ", "alice@example.com"),
        ("a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
    ],
)
def test_addresses_are_normalized(given: str, stored: str) -> None:
    assert normalize_email(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "",
        "plain",
        "a@b",
        "a@@example.com",
        ".a@example.com",
        "a..b@example.com",
        "a@-example.com",
        "a@example.123",
        '"quoted"@example.com',
        "a@[192.0.2.1]",
        "üser@example.com",
        "a@exämple.com",
        "a b@example.com",
        "a@exa\nmple.com",
        "x" * 65 + "@example.com",
        "a@" + "b" * 64 + ".com",
        "a@" + ".".join(["b" * 60] * 5) + ".com",
    ],
)
def test_addresses_we_do_not_mail(given: str) -> None:
    with pytest.raises(EmailInvalid):
        normalize_email(given)
