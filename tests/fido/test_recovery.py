"""Account recovery end to end over the API, with the mail going through a real SMTP server (aiosmtpd), on
SQLite and PostgreSQL: the code and the link, the recovery session's limits, what happens to the other
sessions and passkeys, and the abuse cases (reuse, expiry, brute force, enumeration, rate limits)."""

from __future__ import annotations

import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from attest.server.db.models import AuditEvent
from fido.models import EmailSecret, OutboxEmail
from fido.recovery_routes import RECOVERY_STARTED
from tests.fido.authenticator import SoftAuthenticator
from tests.fido.mail_service import MailedService, start_mailed
from tests.fido.service import ORIGIN
from tests.fido.smtp_server import MailServer, code_in, link_in, text_of, token_in

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
ALICE = "alice@example.com"


@pytest.fixture
def api(database_url: str, tmp_path: Path, smtp: MailServer) -> MailedService:
    return start_mailed(database_url, tmp_path, smtp, fixed_time=NOW)


def problem(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.status_code, response.json()["code"]


def audit(api: MailedService, prefix: str) -> list[tuple[str, str, str | None]]:
    with api.passkeys.service.session() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.event.startswith(prefix)).order_by(AuditEvent.id))
        return [(row.event, row.outcome, row.code) for row in rows]


def register_in_recovery(api: MailedService, http: Any, authenticator: SoftAuthenticator, username: str) -> Any:
    started = api.passkeys.register_options(username, http=http)
    assert started.status_code == 200, started.text
    credential = authenticator.create(started.json()["options"], origin=ORIGIN)
    return http.post(
        "/v1/passkeys/registration/verify",
        json={"ceremony_id": started.json()["ceremony_id"], "credential": credential},
    )


# --- the whole recovery ----------------------------------------------------------------------------------


def test_recovery_with_the_code_on_a_new_device(api: MailedService) -> None:
    phone = SoftAuthenticator()
    lost_phone_browser = api.verified_account(phone, ALICE)
    assert lost_phone_browser.get("/v1/session").json()["email_verified"] is True

    laptop_browser, laptop = api.browser(), SoftAuthenticator(transports=("internal", "hybrid"))
    started = api.start(" Alice@Example.COM ", laptop_browser)
    assert (started.status_code, started.json()) == (202, RECOVERY_STARTED.model_dump())
    mail = api.mail(2)
    assert (mail["To"], mail["Subject"]) == (ALICE, "Your account recovery code")
    assert "15 minutes" in text_of(mail)
    code, token = code_in(mail), token_in(mail)
    assert len(code) == 8
    assert link_in(mail) == f"{ORIGIN}/passkeys/recover#token={token}"
    with api.passkeys.service.session() as session:  # only keyed hashes at rest; the mail's content is gone
        stored = session.scalars(select(EmailSecret).where(EmailSecret.purpose == "recovery")).one()
        assert code.encode() not in stored.code_hash + stored.token_hash
        assert token.encode() not in stored.code_hash + stored.token_hash
        assert all(row.payload is None and row.sent_at is not None for row in session.scalars(select(OutboxEmail)))

    verified = api.verify(laptop_browser, email=ALICE, code=f"{code[:4]} {code[4:]}")
    assert verified.status_code == 200, verified.text
    view = verified.json()
    assert (view["username"], view["passkey_added"], view["other_passkeys"]) == (ALICE, False, 1)
    cookie = verified.headers["set-cookie"]
    assert "__Host-passkey_recovery=" in cookie
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/", "Max-Age=600"):
        assert attribute.lower() in cookie.lower()
    assert laptop_browser.get("/v1/recovery/session").json() == view

    # The recovery session is not a session: it lists, renames, removes nothing, even in the session cookie.
    assert problem(laptop_browser.get("/v1/passkeys")) == (401, "session.required")
    assert problem(laptop_browser.get("/v1/session")) == (401, "session.required")
    assert problem(laptop_browser.post("/v1/email/verification", json={})) == (401, "session.required")
    (phone_id,) = [p["credential_id"] for p in lost_phone_browser.get("/v1/passkeys").json()["passkeys"]]
    assert problem(laptop_browser.patch(f"/v1/passkeys/{phone_id}", json={"label": "x"})) == (401, "session.required")
    assert problem(laptop_browser.post(f"/v1/passkeys/{phone_id}/removal/options")) == (401, "session.required")
    forged = api.browser()
    forged.cookies.set("__Host-passkey_session", laptop_browser.cookies["__Host-passkey_recovery"])
    assert problem(forged.get("/v1/passkeys")) == (401, "session.required")
    # It adds a passkey to its own account only, with user verification, and excludes the existing ones.
    assert problem(api.passkeys.register_options("mallory", http=laptop_browser)) == (409, "passkey.account_mismatch")
    options = api.passkeys.register_options(ALICE, http=laptop_browser).json()["options"]
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert [item["id"] for item in options["excludeCredentials"]] == [phone_id]
    assert problem(api.http.get("/v1/recovery/session")) == (401, "recovery.session_required")

    added = register_in_recovery(api, laptop_browser, laptop, ALICE)
    assert added.status_code == 201, added.text
    assert "__Host-passkey_session=" in added.headers["set-cookie"]
    assert problem(lost_phone_browser.get("/v1/passkeys")) == (401, "session.required")  # every other session
    only_recovery = api.browser()  # the recovery cookie alone adds no second passkey
    only_recovery.cookies.set("__Host-passkey_recovery", laptop_browser.cookies["__Host-passkey_recovery"])
    assert problem(api.passkeys.register_options(ALICE, http=only_recovery)) == (409, "recovery.passkey_added")
    notice = api.mail(3)
    assert (notice["To"], notice["Subject"]) == (ALICE, "A new passkey was added to your account")
    assert "every other session of your account" in text_of(notice)

    assert laptop_browser.get("/v1/recovery/session").json()["passkey_added"] is True
    completed = laptop_browser.post("/v1/recovery/complete", json={"remove_other_passkeys": True})
    assert completed.json() == {"removed_passkeys": 1}
    assert 'passkey_recovery=""' in completed.headers["set-cookie"]
    passkeys = laptop_browser.get("/v1/passkeys").json()["passkeys"]
    assert [p["credential_id"] for p in passkeys] == [added.json()["credential_id"]]
    assert problem(api.passkeys.sign_in(phone, http=api.browser())) == (401, "webauthn.unknown_credential")
    assert api.passkeys.sign_in(laptop, http=api.browser()).status_code == 200
    assert audit(api, "recovery.") == [
        ("recovery.start", "info", None),
        ("recovery.verify", "valid", None),
        ("recovery.passkey_added", "valid", None),
        ("recovery.complete", "valid", None),
        ("recovery.removed_other_passkeys", "info", None),
    ]


def test_recovery_by_link_may_keep_the_other_passkeys(api: MailedService) -> None:
    phone = SoftAuthenticator()
    api.verified_account(phone, ALICE)
    api.start(ALICE, api.browser())
    token = token_in(api.mail(2))
    tablet_browser, tablet = api.browser(), SoftAuthenticator()  # the link opened on another device
    opened = api.verify(tablet_browser, token=token)
    assert opened.status_code == 200, opened.text
    assert problem(tablet_browser.post("/v1/recovery/complete", json={"remove_other_passkeys": False})) == (
        409,
        "recovery.passkey_missing",
    )
    assert register_in_recovery(api, tablet_browser, tablet, ALICE).status_code == 201
    kept = tablet_browser.post("/v1/recovery/complete", json={"remove_other_passkeys": False})
    assert kept.json() == {"removed_passkeys": 0}
    assert len(tablet_browser.get("/v1/passkeys").json()["passkeys"]) == 2
    assert problem(tablet_browser.get("/v1/recovery/session")) == (401, "recovery.session_required")
    assert api.passkeys.sign_in(phone, http=api.browser()).status_code == 200  # not lost after all


# --- reuse, expiry, replacement --------------------------------------------------------------------------


def test_secrets_are_single_use(api: MailedService) -> None:
    api.verified_account(SoftAuthenticator(), ALICE)
    api.start(ALICE, api.browser())
    mail = api.mail(2)
    assert api.verify(api.browser(), token=token_in(mail)).status_code == 200
    assert problem(api.verify(api.browser(), token=token_in(mail))) == (400, "recovery.used")
    assert problem(api.verify(api.browser(), email=ALICE, code=code_in(mail))) == (403, "recovery.code_invalid")


def test_secrets_expire_after_15_minutes(database_url: str, tmp_path: Path, smtp: MailServer) -> None:
    early = start_mailed(database_url, tmp_path, smtp, fixed_time=NOW)
    early.verified_account(SoftAuthenticator(), ALICE)
    early.start(ALICE, early.browser())
    mail = early.mail(2)
    late = start_mailed(database_url, tmp_path, smtp, fixed_time=NOW + timedelta(minutes=15))
    assert problem(late.verify(email=ALICE, code=code_in(mail))) == (403, "recovery.code_invalid")
    assert problem(late.verify(token=token_in(mail))) == (400, "recovery.expired")
    just_in_time = start_mailed(database_url, tmp_path, smtp, fixed_time=NOW + timedelta(minutes=14, seconds=59))
    assert just_in_time.verify(token=token_in(mail)).status_code == 200


def test_a_new_recovery_replaces_the_previous_one(api: MailedService) -> None:
    api.verified_account(SoftAuthenticator(), ALICE)
    api.start(ALICE, api.browser())
    api.start(ALICE, api.browser())
    first, second = api.mail(2), api.mail(3)
    assert problem(api.verify(api.browser(), token=token_in(first))) == (400, "recovery.token_invalid")
    if code_in(first) != code_in(second):
        assert problem(api.verify(api.browser(), email=ALICE, code=code_in(first))) == (403, "recovery.code_invalid")
    assert api.verify(api.browser(), email=ALICE, code=code_in(second)).status_code == 200


def test_changing_the_verified_address_cancels_pending_recoveries(api: MailedService) -> None:
    signed_in = api.verified_account(SoftAuthenticator(), ALICE)
    api.start(ALICE, api.browser())
    recovery = api.mail(2)
    assert signed_in.post("/v1/email/verification", json={"email": "alice@new.example"}).status_code == 202
    assert signed_in.post("/v1/email/verification/confirm", json={"code": code_in(api.mail(3))}).status_code == 200
    changed = api.mail(4)
    assert (changed["To"], changed["Subject"]) == (ALICE, "Your recovery email address was changed")
    assert "alice@new.example" in text_of(changed)
    assert problem(api.verify(api.browser(), token=token_in(recovery))) == (400, "recovery.token_invalid")
    api.start(ALICE, api.browser())
    api.deliver()
    assert len(api.smtp.messages) == 4  # the old address recovers nothing now


# --- brute force ----------------------------------------------------------------------------------------


def test_five_wrong_codes_lock_the_code_but_not_the_link(api: MailedService) -> None:
    api.verified_account(SoftAuthenticator(), ALICE)
    api.start(ALICE, api.browser())
    mail = api.mail(2)
    code = code_in(mail)
    wrong = [f"{(int(code) + n) % 10**8:08d}" for n in range(1, 6)]
    attacker = api.browser()
    assert problem(api.verify(attacker, email=ALICE, code="12ab")) == (403, "recovery.code_invalid")  # not counted
    for guess in wrong:
        assert problem(api.verify(attacker, email=ALICE, code=guess)) == (403, "recovery.code_invalid")
    assert problem(api.verify(attacker, email=ALICE, code=code)) == (403, "recovery.code_invalid")
    with api.passkeys.service.session() as session:
        assert session.scalars(select(EmailSecret.code_attempts).where(EmailSecret.purpose == "recovery")).one() == 5
    # The 256-bit link is not guessable, so guessing codes does not take it from its owner.
    assert api.verify(api.browser(), token=token_in(mail)).status_code == 200
    assert [code for _, outcome, code in audit(api, "recovery.verify") if outcome == "invalid"] == [
        "recovery.code_invalid"
    ] * 7


def test_concurrent_guesses_get_five_comparisons_in_all(api: MailedService) -> None:
    api.verified_account(SoftAuthenticator(), ALICE)
    api.start(ALICE, api.browser())
    code = code_in(api.mail(2))
    guesses = [f"{(int(code) + n) % 10**8:08d}" for n in range(1, 13)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(guesses))
    assert api.verify(email=ALICE, code="-").status_code == 403  # not a code: no attempt; warms the app up

    def guess(browser: Any, value: str) -> None:
        barrier.wait()
        statuses.append(api.verify(browser, email=ALICE, code=value).status_code)

    threads = [threading.Thread(target=guess, args=(api.browser(), value)) for value in guesses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [403] * len(guesses)
    with api.passkeys.service.session() as session:
        assert session.scalars(select(EmailSecret.code_attempts).where(EmailSecret.purpose == "recovery")).one() == 5
    assert problem(api.verify(api.browser(), email=ALICE, code=code)) == (403, "recovery.code_invalid")


# --- enumeration ----------------------------------------------------------------------------------------


def comparable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body, less what differs on every response (request id, date)."""
    headers = {name: value for name, value in response.headers.items() if name not in ("x-request-id", "date")}
    body = response.content
    if response.headers["content-type"] == "application/problem+json":
        data = response.json()
        data.pop("request_id", None)
        body = repr(sorted(data.items())).encode()
    return response.status_code, headers, body


def test_start_answers_the_same_for_every_address(api: MailedService) -> None:
    api.verified_account(SoftAuthenticator(), ALICE)
    unverified = api.browser()
    assert api.passkeys.sign_up(SoftAuthenticator(), "bob@example.com", http=unverified).status_code == 201
    answers = {
        address: comparable(api.start(address, api.browser()))
        for address in (ALICE, "bob@example.com", "nobody@example.com")
    }
    assert answers[ALICE] == answers["bob@example.com"] == answers["nobody@example.com"]
    assert answers[ALICE][0] == 202
    api.deliver()
    assert [mail["To"] for mail in api.smtp.messages] == [ALICE, ALICE]  # verification, then recovery only
    refusals = {
        address: comparable(api.verify(api.browser(), email=address, code="12345678"))
        for address in (ALICE, "bob@example.com", "nobody@example.com")
    }
    assert refusals[ALICE] == refusals["bob@example.com"] == refusals["nobody@example.com"]


def test_start_takes_as_long_for_every_address(database_url: str, tmp_path: Path, smtp: MailServer) -> None:
    """Medians of alternating requests, with a generous bound: the floor, not the work, sets the time."""
    floor = 0.15
    api = start_mailed(
        database_url,
        tmp_path,
        smtp,
        fixed_time=NOW,
        recovery_response_floor=f"PT{floor}S",
        rate_limit_mail_per_email=0,
        rate_limit_recovery_per_address=0,
    )
    api.verified_account(SoftAuthenticator(), ALICE)
    timings: dict[str, list[float]] = {ALICE: [], "nobody@example.com": []}
    for _ in range(8):
        for address, samples in timings.items():
            began = time.perf_counter()
            assert api.start(address).status_code == 202
            samples.append(time.perf_counter() - began)
    known, unknown = (statistics.median(samples) for samples in timings.values())
    assert min(min(samples) for samples in timings.values()) >= floor
    assert abs(known - unknown) < 0.4 * floor, (known, unknown)


# --- rate limits ---------------------------------------------------------------------------------------


def test_rate_limits_per_email_address_and_per_client(database_url: str, tmp_path: Path, smtp: MailServer) -> None:
    api = start_mailed(database_url, tmp_path, smtp, fixed_time=NOW, rate_limit_mail_per_email=2)
    api.verified_account(SoftAuthenticator(), ALICE)
    for address in (ALICE, "nobody@example.com"):
        for _ in range(2):
            assert api.start(address, api.browser()).status_code == 202
    over = [api.start(address, api.browser()) for address in (ALICE, "nobody@example.com")]
    assert comparable(over[0]) == comparable(over[1])
    assert problem(over[0]) == (429, "rate_limited")
    assert int(over[0].headers["retry-after"]) > 0
    api.deliver()
    assert len(api.smtp.messages) == 3  # verification and two recoveries

    per_client = start_mailed(
        database_url, tmp_path, smtp, fixed_time=NOW + timedelta(hours=2), rate_limit_recovery_per_address=3
    )
    answers = [per_client.start(f"user{n}@example.com").status_code for n in range(4)]
    assert answers == [202, 202, 202, 429]
    assert problem(per_client.verify(token="x" * 43)) == (400, "recovery.token_invalid")  # its own budget


# --- hostile input -------------------------------------------------------------------------------------


HOSTILE = [
    ("/v1/recovery/start", {}, 400, "request.malformed"),
    ("/v1/recovery/start", {"email": 5}, 400, "request.malformed"),
    ("/v1/recovery/start", {"email": "a@example.com", "extra": 1}, 400, "request.malformed"),
    ("/v1/recovery/start", {"email": "x" * 321}, 400, "request.malformed"),
    ("/v1/recovery/start", {"email": "x" * 250 + "@example.com"}, 400, "email.invalid"),
    ("/v1/recovery/start", {"email": "not-an-address"}, 400, "email.invalid"),
    ("/v1/recovery/start", {"email": "a@example.com\r\nBcc: x@evil.example"}, 400, "email.invalid"),
    ("/v1/recovery/start", {"email": "\u0430lice@example.com"}, 400, "email.invalid"),
    ("/v1/recovery/start", {"email": "a@[127.0.0.1]"}, 400, "email.invalid"),
    ("/v1/recovery/verify", {"token": "x" * 65}, 400, "request.malformed"),
    ("/v1/recovery/verify", {"token": "!" * 43}, 400, "recovery.token_invalid"),
    ("/v1/recovery/verify", {"email": "a@example.com"}, 400, "request.malformed"),
    ("/v1/recovery/verify", {"email": "a@example.com", "code": "1", "token": "x"}, 400, "request.malformed"),
    ("/v1/recovery/verify", {"email": "nope", "code": "12345678"}, 400, "email.invalid"),
    ("/v1/recovery/verify", {"email": "a@example.com", "code": "\u0661" * 8}, 403, "recovery.code_invalid"),
    ("/v1/recovery/complete", {"remove_other_passkeys": True}, 401, "recovery.session_required"),
]


def test_hostile_input_is_a_4xx_problem(tmp_path: Path, smtp: MailServer) -> None:
    """Validation only (no storage involved): on SQLite."""
    api = start_mailed(f"sqlite:///{tmp_path / 'attest.db'}", tmp_path, smtp, fixed_time=NOW)
    for path, body, status, code in HOSTILE:
        assert problem(api.http.post(path, json=body)) == (status, code), (path, body)


def test_hostile_cookies_are_no_session(tmp_path: Path, smtp: MailServer) -> None:
    browser = start_mailed(f"sqlite:///{tmp_path / 'attest.db'}", tmp_path, smtp, fixed_time=NOW).http
    for value in ("forged", "x" * 4000, "AAAA"):
        browser.cookies.set("__Host-passkey_recovery", value)
        assert problem(browser.get("/v1/recovery/session")) == (401, "recovery.session_required")
    response = browser.post("/v1/recovery/start", content=b"{not json", headers={"content-type": "application/json"})
    assert problem(response) == (400, "request.malformed")


def test_recovery_pages(tmp_path: Path, smtp: MailServer) -> None:
    http = start_mailed(f"sqlite:///{tmp_path / 'attest.db'}", tmp_path, smtp, fixed_time=NOW).http
    for page in ("recover", "verify-email"):
        response = http.get(f"/passkeys/{page}")
        assert response.status_code == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "<script>" not in response.text
        assert '<script src="/passkeys/assets/passkeys.js" defer></script>' in response.text
    assert 'href="/passkeys/recover"' in http.get("/passkeys/sign-in").text
