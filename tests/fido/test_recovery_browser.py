"""Account recovery end to end in headless Chromium (tests/fido/test_browser.py explains the setup): the
service over real HTTP with its mail sender running, a real SMTP server (aiosmtpd) receiving the mails, and
one DevTools virtual authenticator per device, so that a new authenticator is a new device.

Screenshots of every step go to ``test-artifacts/fido/``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.fido.test_browser import (  # skips this module too without Chromium or Playwright (outside CI)
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    Authenticator,
    passkey_items,
    shot,
    wait_for_status,
)

pytestmark = pytest.mark.browser

import uvicorn  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright  # noqa: E402

from attest.server.app import create_app  # noqa: E402
from attest.server.runtime import build_runtime, prepare_database  # noqa: E402
from tests.attest.server.processes import free_port  # noqa: E402
from tests.attest.server.service import make_settings  # noqa: E402
from tests.fido.smtp_server import HOST, MailServer, code_in, link_in  # noqa: E402


@contextmanager
def serve_with_mail(tmp_path: Path, smtp: MailServer, **overrides: Any) -> Iterator[str]:
    """The service on http://localhost:<port> (SQLite), mailing through ``smtp``, its sender loop running."""
    port = free_port()
    base_url = f"http://localhost:{port}"
    settings = make_settings(
        f"sqlite:///{tmp_path / 'attest.db'}",
        tmp_path,
        email_backend="smtp",
        smtp_host=HOST,
        smtp_port=smtp.port,
        smtp_tls="none",
        mail_from="Example <no-reply@example.com>",
        public_url=base_url,
        mail_send_interval="PT1S",
        **overrides,
    )
    prepare_database(settings)
    server = uvicorn.Server(
        uvicorn.Config(create_app(build_runtime(settings)), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def device(browser: Browser) -> tuple[BrowserContext, Page, Authenticator]:
    """A new device: its own browser profile and its own platform authenticator."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    return context, page, Authenticator.attach(page)


def test_recovery_on_a_new_device(browser: Browser, tmp_path: Path) -> None:
    """Sign up and confirm the email by its link on a laptop; lose it; on a new phone: "lost your passkey?",
    the code from the mail, a new passkey, the old one removed; the laptop is signed out and its passkey is
    unknown; the mail says a passkey was added."""
    smtp = MailServer().start()
    try:
        with serve_with_mail(tmp_path, smtp) as base_url:
            run_recovery(browser, base_url, smtp)
    finally:
        smtp.stop()


def run_recovery(browser: Browser, base_url: str, smtp: MailServer) -> None:
    laptop_context, laptop, _laptop_key = device(browser)
    laptop.goto(f"{base_url}/passkeys/sign-up")
    laptop.fill("#username", "alice@example.com")
    laptop.fill("#display-name", "Alice")
    laptop.click("#sign-up")
    laptop.wait_for_url("**/passkeys/manage")
    expect(laptop.locator("#email-status")).to_contain_text("not confirmed yet")
    shot(laptop, "recovery-01-signed-up-email-not-confirmed")

    # The sign-up page asked for a confirmation mail; its link confirms the address (and leaves the URL).
    (confirmation,) = smtp.wait_for(1)
    assert confirmation["Subject"] == "Confirm your email address"
    laptop.goto(link_in(confirmation))
    assert "token=" not in laptop.url
    laptop.click("#verify-email-continue")
    assert "is confirmed" in wait_for_status(laptop, "ok")
    shot(laptop, "recovery-02-email-confirmed-by-link")
    laptop.goto(f"{base_url}/passkeys/manage")
    expect(laptop.locator("#email-status")).to_have_text("alice@example.com (confirmed)")

    # The laptop is lost. On a new phone, with a new authenticator: "Lost your passkey?".
    phone_context, phone, _phone_key = device(browser)
    phone.goto(f"{base_url}/passkeys/sign-in")
    phone.click("#lost-passkey")
    phone.wait_for_url("**/passkeys/recover")
    phone.fill("#recover-email", "alice@example.com")
    shot(phone, "recovery-03-lost-your-passkey")
    phone.click("#recover-start")
    expect(phone.locator("#step-code")).to_be_visible()
    recovery_mail = smtp.wait_for(2)[1]
    assert recovery_mail["Subject"] == "Your account recovery code"
    phone.fill("#recover-code", code_in(recovery_mail))
    shot(phone, "recovery-04-code-from-the-mail")
    phone.click("#recover-verify")
    expect(phone.locator("#step-passkey")).to_be_visible()
    expect(phone.locator("#recover-account")).to_have_text("alice@example.com")
    phone.fill("#recover-label", "New phone")
    shot(phone, "recovery-05-create-a-new-passkey")
    phone.click("#recover-register")
    expect(phone.locator("#step-choice")).to_be_visible()
    expect(phone.locator("#recover-others")).to_have_text("1")
    shot(phone, "recovery-06-remove-the-other-passkeys")
    phone.click("#remove-others")
    phone.wait_for_url("**/passkeys/manage")
    phone.wait_for_selector("#passkeys .passkey")
    assert passkey_items(phone) == ["New phone"]
    shot(phone, "recovery-07-recovered")

    notice = smtp.wait_for(3)[2]
    assert (notice["To"], notice["Subject"]) == ("alice@example.com", "A new passkey was added to your account")

    # The laptop was signed out, and its passkey is unknown here now (the autofill offers it in vain).
    laptop.goto(f"{base_url}/passkeys/manage")
    laptop.wait_for_url("**/passkeys/sign-in")
    assert "not registered here" in wait_for_status(laptop, "error")
    shot(laptop, "recovery-08-old-laptop-signed-out-and-its-passkey-removed")
    laptop_context.close()
    phone_context.close()


def test_wrong_codes_are_explained(browser: Browser, tmp_path: Path) -> None:
    """The page explains a wrong code without telling whether the address has an account."""
    smtp = MailServer().start()
    try:
        with serve_with_mail(tmp_path, smtp) as base_url:
            context, page, _ = device(browser)
            page.goto(f"{base_url}/passkeys/recover")
            page.fill("#recover-email", "nobody@example.com")
            page.click("#recover-start")
            expect(page.locator("#step-code")).to_be_visible()
            expect(page.locator("#recover-sent-to")).to_have_text("nobody@example.com")
            page.fill("#recover-code", "12345678")
            page.click("#recover-verify")
            assert "does not work for this address" in wait_for_status(page, "error")
            shot(page, "recovery-09-wrong-code")
            context.close()
        assert smtp.messages == []
    finally:
        smtp.stop()
