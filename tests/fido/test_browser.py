"""End to end in headless Chromium (Debian's ``chromium``), driven by Playwright, with the DevTools
virtual authenticator (CTAP2, resident keys, user verification): the pages and the API together, over
real HTTP on http://localhost:<port> (RP ID ``localhost``, the development default origin).

Screenshots of every step go to ``test-artifacts/fido/``. Without Chromium (or Playwright) these tests
are skipped, except in CI (``CI`` set), where they must run.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not os.environ.get("CI"):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (CI installs it)", allow_module_level=True)
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

import uvicorn  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect, sync_playwright  # noqa: E402

from attest.server.app import create_app  # noqa: E402
from attest.server.runtime import build_runtime, prepare_database  # noqa: E402
from tests.attest.server.processes import free_port  # noqa: E402
from tests.attest.server.service import make_settings  # noqa: E402

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "fido"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


@contextmanager
def serve(tmp_path: Path, **overrides: Any) -> Iterator[str]:
    """The service on 127.0.0.1 and a free port, SQLite; its URL as http://localhost:<port>."""
    settings = make_settings(f"sqlite:///{tmp_path / 'attest.db'}", tmp_path, **overrides)
    prepare_database(settings)
    port = free_port()
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
        yield f"http://localhost:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The development default relying party: RP ID localhost, origin http://localhost:<its port>."""
    with serve(tmp_path_factory.mktemp("browser")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    created = browser.new_context()
    created.set_default_timeout(TIMEOUT_MS)
    yield created
    created.close()


@dataclass
class Authenticator:
    """A DevTools virtual authenticator attached to one page."""

    cdp: CDPSession
    id: str

    @classmethod
    def attach(cls, page: Page, *, transport: str = "internal", user_verified: bool = True) -> Authenticator:
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        added = cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": transport,
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": user_verified,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        return cls(cdp, added["authenticatorId"])

    def credentials(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})[
            "credentials"
        ]
        return listed

    def add_credential(self, credential: dict[str, Any]) -> None:
        self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.id, "credential": credential})

    def detach(self) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.id})


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def passkey_items(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("#passkeys .passkey-label").all_inner_texts()]


def wait_for_status(page: Page, kind: str) -> str:
    page.wait_for_selector(f"#status[data-kind='{kind}']")
    return page.inner_text("#status")


def test_passkey_journey(context: BrowserContext, base_url: str) -> None:
    """Sign up, sign in by autofill, add a second passkey, rename, remove, sign in username-first."""
    page = context.new_page()
    laptop = Authenticator.attach(page)

    # Sign up: the account and its first passkey (on the laptop's platform authenticator).
    page.goto(f"{base_url}/passkeys/sign-up")
    page.fill("#username", "alice@example.com")
    page.fill("#display-name", "Alice")
    shot(page, "01-sign-up-form")
    page.click("#sign-up")
    page.wait_for_url("**/passkeys/manage")
    page.wait_for_selector("#passkeys .passkey")
    assert len(passkey_items(page)) == 1
    assert "alice@example.com" in page.inner_text("#account-name")
    shot(page, "02-signed-up")

    # Sign out; the sign-in page offers the discoverable passkey in the username field's autofill
    # (conditional mediation), which the virtual authenticator accepts at once.
    page.click("#sign-out")
    page.wait_for_url("**/passkeys/manage")  # signed in again through autofill
    page.wait_for_selector("#passkeys .passkey")
    shot(page, "03-signed-in-with-autofill")

    # Add a second passkey on a security key: only the key is attached while it registers.
    laptop_credentials = laptop.credentials()
    assert len(laptop_credentials) == 1
    assert laptop_credentials[0]["isResidentCredential"]
    laptop.detach()
    key = Authenticator.attach(page, transport="usb")
    page.fill("#new-label", "YubiKey")
    page.click("#add-passkey")
    wait_for_status(page, "ok")
    assert passkey_items(page)[1] == "YubiKey"
    shot(page, "04-second-passkey-added")
    key.detach()
    laptop = Authenticator.attach(page)
    laptop.add_credential(laptop_credentials[0])

    # Rename the laptop's passkey.
    first = page.locator("#passkeys .passkey").first
    first.locator(".rename-input").fill("Alice's laptop")
    first.locator(".rename").click()
    # (Waiting by locator: the pages' CSP forbids the string evaluation wait_for_function uses.)
    expect(page.locator("#passkeys .passkey-label").first).to_have_text("Alice's laptop")
    shot(page, "05-renamed")

    # Remove the security key's passkey, confirmed by a user-verified assertion of the laptop's.
    page.locator("#passkeys .passkey").nth(1).locator(".remove").click()
    expect(page.locator("#passkeys .passkey")).to_have_count(1)
    assert passkey_items(page) == ["Alice's laptop"]
    assert "Removed" in wait_for_status(page, "ok")
    shot(page, "06-removed")
    page.click("#sign-out")
    page.wait_for_url("**/passkeys/manage")  # autofill signs in again
    page.wait_for_selector("#passkeys .passkey")
    page.click("#sign-out")
    page.wait_for_url("**/passkeys/manage")

    # Username-first, in a browser without passkey autofill (conditional mediation unavailable). The
    # laptop's credential moves over with its current counter (an older one would be a clone).
    (current,) = laptop.credentials()
    page.close()
    plain = context.new_page()
    plain.add_init_script("PublicKeyCredential.isConditionalMediationAvailable = async () => false;")
    Authenticator.attach(plain).add_credential(current)
    context.clear_cookies()
    plain.goto(f"{base_url}/passkeys/sign-in")
    plain.fill("#username", "Alice@Example.com")
    shot(plain, "07-username-first")
    plain.click("#continue")
    plain.wait_for_url("**/passkeys/manage")
    plain.wait_for_selector("#passkeys .passkey")
    assert passkey_items(plain) == ["Alice's laptop"]
    shot(plain, "08-signed-in-username-first")


def test_unknown_passkey_is_explained(context: BrowserContext, base_url: str) -> None:
    """A passkey this site does not know (e.g. removed here, still on the device)."""
    page = context.new_page()
    authenticator = Authenticator.attach(page)
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    import base64

    authenticator.add_credential(
        {
            "credentialId": base64.b64encode(secrets.token_bytes(32)).decode(),
            "isResidentCredential": True,
            "rpId": "localhost",
            "privateKey": base64.b64encode(pkcs8).decode(),
            "userHandle": base64.b64encode(secrets.token_bytes(16)).decode(),
            "signCount": 0,
        }
    )
    page.goto(f"{base_url}/passkeys/sign-in")
    message = wait_for_status(page, "error")
    assert "not registered here" in message
    shot(page, "09-unknown-passkey")


def test_cancelled_ceremony_is_explained(context: BrowserContext, base_url: str) -> None:
    """The user does not verify (cancels the prompt): nothing is created."""
    page = context.new_page()
    page.add_init_script("PublicKeyCredential.isConditionalMediationAvailable = async () => false;")
    Authenticator.attach(page, user_verified=False)
    page.goto(f"{base_url}/passkeys/sign-up")
    page.fill("#username", "bob")
    page.click("#sign-up")
    message = wait_for_status(page, "error")
    assert "cancelled" in message or "did not verify" in message, message
    shot(page, "10-cancelled")


def test_wrong_origin_is_explained(context: BrowserContext, base_url: str, tmp_path: Path) -> None:
    """Two ways to be at the wrong address. The browser refuses RP ID localhost on http://app.localhost
    (SecurityError); and a service whose configured origins do not include the page's origin refuses
    the origin in clientDataJSON (``webauthn.origin``)."""
    page = context.new_page()
    page.add_init_script("PublicKeyCredential.isConditionalMediationAvailable = async () => false;")
    Authenticator.attach(page)
    page.goto(base_url.replace("//localhost", "//app.localhost") + "/passkeys/sign-up")
    page.fill("#username", "carol")
    page.click("#sign-up")
    assert "not allowed to use passkeys" in wait_for_status(page, "error")
    shot(page, "11-wrong-origin-refused-by-the-browser")

    with serve(tmp_path, rp_origins="https://accounts.example.com") as elsewhere:
        page.goto(f"{elsewhere}/passkeys/sign-up")
        page.fill("#username", "carol")
        with page.expect_response("**/registration/verify") as verified:
            page.click("#sign-up")
        assert verified.value.status == 403
        assert verified.value.json()["code"] == "webauthn.origin"
        assert "does not accept (wrong origin)" in wait_for_status(page, "error")
        shot(page, "12-wrong-origin-refused-by-the-service")
