"""The passkey HTTP API end to end over the software authenticator, on SQLite and PostgreSQL: accounts,
sign-in both ways, the login result, management, ceremony rules, cookies, audit, and error codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from attest.server.db.models import AuditEvent
from fido import base64url
from fido.login_token import LOGIN_RESULT_TYP, verify_login_token
from fido.models import PasskeySession, WebAuthnUser
from fido.web import passkey_config
from tests.fido.authenticator import UP, SoftAuthenticator
from tests.fido.service import ORIGIN, Passkeys, start_passkeys

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Passkeys:
    return start_passkeys(database_url, tmp_path, fixed_time=NOW)


def audit_events(api: Passkeys) -> list[tuple[str, str, str | None, str | None]]:
    with api.service.session() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.platform == "webauthn").order_by(AuditEvent.id))
        return [(row.event, row.outcome, row.code, row.subject) for row in rows]


def problem(response: object) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json", response.text  # type: ignore[attr-defined]
    return response.status_code, response.json()["code"]  # type: ignore[attr-defined]


# --- sign up, sign in, the login result --------------------------------------------------------------


def test_sign_up_then_sign_in_without_a_username(api: Passkeys) -> None:
    phone = SoftAuthenticator()
    created = api.sign_up(phone, "alice@example.com")
    assert created.status_code == 201, created.text
    credential_id = created.json()["credential_id"]
    assert base64url.decode(credential_id, max_bytes=64) in phone.credentials
    cookie = created.headers["set-cookie"]
    assert "__Host-passkey_session=" in cookie
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie.lower()
    listed = api.http.get("/v1/passkeys").json()
    assert listed["account"]["username"] == "alice@example.com"
    assert listed["account"]["email"] == "alice@example.com"
    assert listed["account"]["email_verified"] is False
    assert [p["credential_id"] for p in listed["passkeys"]] == [credential_id]
    assert listed["passkeys"][0]["label"].startswith("Device passkey")

    assert api.http.delete("/v1/session").status_code == 204
    assert problem(api.http.get("/v1/passkeys")) == (401, "session.required")

    signed_in = api.sign_in(phone)
    assert signed_in.status_code == 200, signed_in.text
    body = signed_in.json()
    assert body["user_id"] == listed["account"]["user_id"]
    jwks = api.http.get("/.well-known/jwks.json").json()
    result = verify_login_token(body["login_token"], jwks, issuer="https://attest.test", now=NOW)
    assert (result.user_id, result.amr, result.auth_time) == (body["user_id"], ("hwk", "user"), NOW)
    assert base64url.encode(result.credential_id) == credential_id
    assert result.expires_at == NOW + timedelta(minutes=2)
    from joserfc import jwt
    from joserfc.jwk import KeySet

    assert jwt.decode(body["login_token"], KeySet.import_key_set(jwks)).header["typ"] == LOGIN_RESULT_TYP
    assert api.http.get("/v1/session").json()["user_id"] == body["user_id"]
    assert api.http.get("/v1/passkeys").json()["passkeys"][0]["last_used_at"] is not None
    events = [(event, outcome) for event, outcome, _, _ in audit_events(api)]
    assert events == [("passkey.register", "valid"), ("session.end", "info"), ("passkey.sign_in", "valid")]
    assert {subject for *_, subject in audit_events(api)} == {body["user_id"], None}


def test_synced_passkeys_are_software_keys_in_amr(api: Passkeys) -> None:
    synced = SoftAuthenticator(backup_eligible=True, backup_state=True, counter=0)
    assert api.sign_up(synced, "bob").status_code == 201
    token = api.sign_in(synced).json()["login_token"]
    jwks = api.http.get("/.well-known/jwks.json").json()
    assert verify_login_token(token, jwks, issuer="https://attest.test", now=NOW).amr == ("swk", "user")
    assert api.http.get("/v1/passkeys").json()["passkeys"][0]["synced"] is True


def test_username_first_sign_in(api: Passkeys) -> None:
    key = SoftAuthenticator(transports=("usb", "nfc"))
    api.sign_up(key, "carol")
    api.http.delete("/v1/session")
    started = api.http.post("/v1/passkeys/authentication/options", json={"username": " Carol "}).json()
    (allowed,) = started["options"]["allowCredentials"]
    assert allowed["transports"] == ["nfc", "usb"]
    assert started["options"]["userVerification"] == "required"
    assert api.sign_in(key, "carol", with_user_handle=False).status_code == 200
    assert problem(api.http.post("/v1/passkeys/authentication/options", json={"username": "nobody"})) == (
        404,
        "passkey.unknown_user",
    )


def test_a_username_first_ceremony_refuses_another_accounts_passkey(api: Passkeys) -> None:
    alice, mallory = SoftAuthenticator(), SoftAuthenticator()
    api.sign_up(alice, "alice")
    api.sign_up(mallory, "mallory", http=api.browser())
    started = api.http.post("/v1/passkeys/authentication/options", json={"username": "alice"}).json()
    (mallory_id,) = mallory.credentials
    started["options"]["allowCredentials"] = []
    credential = mallory.get(started["options"], origin=ORIGIN, credential_id=mallory_id)
    response = api.http.post(
        "/v1/passkeys/authentication/verify", json={"ceremony_id": started["ceremony_id"], "credential": credential}
    )
    assert problem(response) == (403, "webauthn.credential_not_allowed")


# --- adding, renaming, removing ----------------------------------------------------------------------


def test_add_rename_and_remove_passkeys(api: Passkeys) -> None:
    phone, key = SoftAuthenticator(), SoftAuthenticator(transports=("usb",))
    first = api.sign_up(phone, "dave").json()["credential_id"]
    started = api.register_options("dave").json()
    assert [item["id"] for item in started["options"]["excludeCredentials"]] == [first]
    with pytest.raises(ValueError, match="InvalidStateError"):
        phone.create(started["options"], origin=ORIGIN)
    second_credential = key.create(started["options"], origin=ORIGIN)
    added = api.http.post(
        "/v1/passkeys/registration/verify",
        json={"ceremony_id": started["ceremony_id"], "credential": second_credential, "label": "YubiKey"},
    )
    assert added.status_code == 201, added.text
    assert "set-cookie" not in added.headers  # the signed-in session goes on
    second = added.json()["credential_id"]
    assert [p["label"] for p in api.http.get("/v1/passkeys").json()["passkeys"]] == [
        "Device passkey, added 2026-01-15",
        "YubiKey",
    ]
    assert problem(api.register_options("someone-else")) == (409, "passkey.account_mismatch")

    renamed = api.http.patch(f"/v1/passkeys/{first}", json={"label": "  Work phone "})
    assert (renamed.status_code, renamed.json()["label"]) == (200, "Work phone")
    assert problem(api.http.patch(f"/v1/passkeys/{first}", json={"label": "a\u202eb"})) == (
        400,
        "passkey.label_invalid",
    )
    assert problem(api.http.patch(f"/v1/passkeys/{first}", json={"label": ""})) == (400, "passkey.label_invalid")
    assert problem(api.http.patch("/v1/passkeys/AAAA", json={"label": "x"})) == (404, "passkey.not_found")
    assert problem(api.http.patch("/v1/passkeys/!!", json={"label": "x"})) == (404, "passkey.not_found")

    # Removal needs a fresh user-verified assertion made for exactly this removal.
    assert problem(api.remove(key, second, flags=UP)) == (403, "webauthn.user_verification")
    assert api.remove(key, second).status_code == 204
    assert [p["credential_id"] for p in api.http.get("/v1/passkeys").json()["passkeys"]] == [first]
    # The last passkey stays until a verified recovery email exists.
    assert problem(api.http.post(f"/v1/passkeys/{first}/removal/options")) == (409, "passkey.last_passkey")
    with api.service.runtime.sessions.begin() as session:
        session.execute(update(WebAuthnUser).values(email="dave@example.com", email_verified=True))
    assert api.remove(phone, first).status_code == 204
    assert api.http.get("/v1/passkeys").json()["passkeys"] == []
    removals = [(event, outcome, code) for event, outcome, code, _ in audit_events(api) if event == "passkey.remove"]
    assert removals == [
        ("passkey.remove", "invalid", "webauthn.user_verification"),
        ("passkey.remove", "valid", None),
        ("passkey.remove", "valid", None),
    ]


def test_last_passkey_rule_is_checked_again_at_removal(api: Passkeys) -> None:
    phone, key = SoftAuthenticator(), SoftAuthenticator()
    first = api.sign_up(phone, "erin").json()["credential_id"]
    started = api.register_options("erin").json()
    credential = key.create(started["options"], origin=ORIGIN)
    second = api.http.post(
        "/v1/passkeys/registration/verify", json={"ceremony_id": started["ceremony_id"], "credential": credential}
    ).json()["credential_id"]
    # Two removals prepared while two passkeys exist; only the first can complete.
    one = api.http.post(f"/v1/passkeys/{first}/removal/options").json()
    two = api.http.post(f"/v1/passkeys/{second}/removal/options").json()
    assertion = phone.get(one["options"], origin=ORIGIN)
    assert (
        api.http.request(
            "DELETE", f"/v1/passkeys/{first}", json={"ceremony_id": one["ceremony_id"], "credential": assertion}
        ).status_code
        == 204
    )
    assertion = key.get(two["options"], origin=ORIGIN)
    response = api.http.request(
        "DELETE", f"/v1/passkeys/{second}", json={"ceremony_id": two["ceremony_id"], "credential": assertion}
    )
    assert problem(response) == (409, "passkey.last_passkey")


def test_removal_ceremony_confirms_one_passkey_only(api: Passkeys) -> None:
    phone, key = SoftAuthenticator(), SoftAuthenticator()
    first = api.sign_up(phone, "frank").json()["credential_id"]
    started = api.register_options("frank").json()
    credential = key.create(started["options"], origin=ORIGIN)
    second = api.http.post(
        "/v1/passkeys/registration/verify", json={"ceremony_id": started["ceremony_id"], "credential": credential}
    ).json()["credential_id"]
    confirm_first = api.http.post(f"/v1/passkeys/{first}/removal/options").json()
    assertion = phone.get(confirm_first["options"], origin=ORIGIN)
    response = api.http.request(
        "DELETE", f"/v1/passkeys/{second}", json={"ceremony_id": confirm_first["ceremony_id"], "credential": assertion}
    )
    assert problem(response) == (400, "webauthn.challenge_unknown")
    # An ordinary sign-in ceremony is not a removal ceremony either.
    sign_in = api.http.post("/v1/passkeys/authentication/options", json={}).json()
    assertion = phone.get(sign_in["options"], origin=ORIGIN)
    response = api.http.request(
        "DELETE", f"/v1/passkeys/{first}", json={"ceremony_id": sign_in["ceremony_id"], "credential": assertion}
    )
    assert problem(response) == (400, "webauthn.challenge_unknown")


def test_removing_a_passkey_ends_the_sessions_it_started(api: Passkeys) -> None:
    phone, key = SoftAuthenticator(), SoftAuthenticator()
    api.sign_up(phone, "grace")
    started = api.register_options("grace").json()
    credential = key.create(started["options"], origin=ORIGIN)
    second = api.http.post(
        "/v1/passkeys/registration/verify", json={"ceremony_id": started["ceremony_id"], "credential": credential}
    ).json()["credential_id"]
    lost_laptop = api.browser()
    assert api.sign_in(key, http=lost_laptop).status_code == 200
    assert lost_laptop.get("/v1/passkeys").status_code == 200
    assert api.remove(phone, second).status_code == 204
    assert problem(lost_laptop.get("/v1/passkeys")) == (401, "session.required")
    assert api.http.get("/v1/passkeys").status_code == 200


# --- ceremonies ---------------------------------------------------------------------------------------


def test_ceremonies_are_single_use_and_bound_to_the_browser(api: Passkeys) -> None:
    phone = SoftAuthenticator()
    api.sign_up(phone, "heidi")
    started = api.http.post("/v1/passkeys/authentication/options", json={}).json()
    credential = phone.get(started["options"], origin=ORIGIN)
    body = {"ceremony_id": started["ceremony_id"], "credential": credential}
    other_browser = api.browser()
    other_browser.post("/v1/passkeys/authentication/options", json={})  # gets a binding cookie of its own
    assert problem(other_browser.post("/v1/passkeys/authentication/verify", json=body)) == (
        403,
        "webauthn.challenge_binding",
    )
    assert problem(api.browser().post("/v1/passkeys/authentication/verify", json=body)) == (
        403,
        "webauthn.challenge_binding",
    )
    assert api.http.post("/v1/passkeys/authentication/verify", json=body).status_code == 200
    assert problem(api.http.post("/v1/passkeys/authentication/verify", json=body)) == (400, "webauthn.challenge_used")
    unknown = {"ceremony_id": "nope", "credential": credential}
    assert problem(api.http.post("/v1/passkeys/authentication/verify", json=unknown)) == (
        400,
        "webauthn.challenge_unknown",
    )
    registration = api.register_options("heidi").json()  # signed in: adds a passkey
    wrong_kind = {"ceremony_id": registration["ceremony_id"], "credential": credential}
    assert problem(api.http.post("/v1/passkeys/authentication/verify", json=wrong_kind)) == (
        400,
        "webauthn.challenge_unknown",
    )


def test_a_failed_verification_uses_up_the_ceremony(api: Passkeys) -> None:
    phone = SoftAuthenticator()
    api.sign_up(phone, "ivan")
    started = api.http.post("/v1/passkeys/authentication/options", json={}).json()
    wrong = phone.get(started["options"], origin="https://evil.example")
    body = {"ceremony_id": started["ceremony_id"], "credential": wrong}
    assert problem(api.http.post("/v1/passkeys/authentication/verify", json=body)) == (403, "webauthn.origin")
    right = {"ceremony_id": started["ceremony_id"], "credential": phone.get(started["options"], origin=ORIGIN)}
    assert problem(api.http.post("/v1/passkeys/authentication/verify", json=right)) == (400, "webauthn.challenge_used")


def test_ceremonies_expire(database_url: str, tmp_path: Path) -> None:
    early = start_passkeys(database_url, tmp_path, fixed_time=NOW)
    phone = SoftAuthenticator()
    early.sign_up(phone, "judy")
    started = early.http.post("/v1/passkeys/authentication/options", json={}).json()
    late = start_passkeys(database_url, tmp_path, fixed_time=NOW + timedelta(minutes=5, seconds=1))
    late.http.cookies = early.http.cookies
    body = {"ceremony_id": started["ceremony_id"], "credential": phone.get(started["options"], origin=ORIGIN)}
    assert problem(late.http.post("/v1/passkeys/authentication/verify", json=body)) == (
        400,
        "webauthn.challenge_expired",
    )


def test_sessions_expire(database_url: str, tmp_path: Path) -> None:
    early = start_passkeys(database_url, tmp_path, fixed_time=NOW)
    early.sign_up(SoftAuthenticator(), "ken")
    late = start_passkeys(database_url, tmp_path, fixed_time=NOW + timedelta(hours=12))
    late.http.cookies = early.http.cookies
    assert problem(late.http.get("/v1/passkeys")) == (401, "session.required")
    with early.service.session() as session:
        assert len(list(session.scalars(select(PasskeySession)))) == 1


# --- refusals -----------------------------------------------------------------------------------------


def test_account_and_credential_conflicts(api: Passkeys) -> None:
    phone = SoftAuthenticator()
    api.sign_up(phone, "leo")
    other = api.browser()
    assert problem(api.register_options("LEO", http=other)) == (409, "passkey.username_taken")
    assert problem(api.register_options("x", http=other)) == (400, "passkey.username_invalid")
    assert problem(api.register_options("bad name", http=other)) == (400, "passkey.username_invalid")
    # The same response again, for another ceremony: its challenge is not this ceremony's.
    started = api.register_options("mia", http=other).json()
    credential = phone.create(started["options"], origin=ORIGIN)
    ceremony = {"ceremony_id": started["ceremony_id"], "credential": credential}
    assert other.post("/v1/passkeys/registration/verify", json=ceremony).status_code == 201
    third = api.browser()
    again = api.register_options("nina", http=third).json()
    replayed = {"ceremony_id": again["ceremony_id"], "credential": credential}
    assert problem(third.post("/v1/passkeys/registration/verify", json=replayed)) == (403, "webauthn.challenge")
    # A registered credential ID, signed for afresh, for a second account (section 7.1 step 26).
    again = api.register_options("nina", http=third).json()
    (registered_id,) = [c for c in phone.credentials if base64url.encode(c) == ceremony["credential"]["id"]]
    duplicate = {
        "ceremony_id": again["ceremony_id"],
        "credential": phone.create(again["options"], origin=ORIGIN, reuse=registered_id),
    }
    assert problem(third.post("/v1/passkeys/registration/verify", json=duplicate)) == (
        409,
        "webauthn.credential_exists",
    )
    # Nothing of the refused registration was kept: the username is still free.
    assert api.register_options("nina", http=third).status_code == 200


def test_unknown_credential(api: Passkeys) -> None:
    stranger = SoftAuthenticator()
    stranger.create(
        {"rp": {"id": "example.com"}, "user": {"id": base64url.encode(b"\x01" * 64)}, "challenge": "AAAA"},
        origin=ORIGIN,
    )
    assert problem(api.sign_in(stranger)) == (401, "webauthn.unknown_credential")
    assert audit_events(api)[-1][:3] == ("passkey.sign_in", "invalid", "webauthn.unknown_credential")


def test_counter_regression_is_refused_and_audited_as_a_possible_clone(api: Passkeys) -> None:
    key = SoftAuthenticator(counter=5)
    api.sign_up(key, "olga")
    assert api.sign_in(key).status_code == 200  # counter 5
    assert problem(api.sign_in(key, sign_count=5)) == (403, "webauthn.counter")
    assert api.sign_in(key).status_code == 200  # 10: the genuine authenticator goes on
    user_id = api.http.get("/v1/session").json()["user_id"]
    assert ("passkey.clone_suspected", "invalid", "webauthn.counter", user_id) in audit_events(api)


def test_backup_state_changes_are_recorded(api: Passkeys) -> None:
    passkey = SoftAuthenticator(backup_eligible=True, backup_state=False, counter=0)
    api.sign_up(passkey, "pat")
    passkey.backup_state = True
    assert api.sign_in(passkey).status_code == 200
    assert api.http.get("/v1/passkeys").json()["passkeys"][0]["backed_up"] is True
    assert "passkey.backup_state_changed" in [event for event, *_ in audit_events(api)]


def test_adding_a_passkey_needs_the_session_that_asked(api: Passkeys) -> None:
    phone = SoftAuthenticator()
    api.sign_up(phone, "quinn")
    started = api.register_options("quinn").json()
    api.http.delete("/v1/session")
    credential = SoftAuthenticator().create(started["options"], origin=ORIGIN)
    response = api.http.post(
        "/v1/passkeys/registration/verify", json={"ceremony_id": started["ceremony_id"], "credential": credential}
    )
    assert problem(response) == (401, "session.required")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/passkeys/registration/options", {"username": 5}),
        ("/v1/passkeys/registration/options", {"username": "a", "extra": 1}),
        ("/v1/passkeys/authentication/verify", {"ceremony_id": "x", "credential": "not an object"}),
        ("/v1/passkeys/authentication/verify", {"ceremony_id": "x" * 65, "credential": {}}),
    ],
)
def test_malformed_requests(api: Passkeys, path: str, body: dict[str, object]) -> None:
    assert problem(api.http.post(path, json=body)) == (400, "request.malformed")


def test_malformed_credentials_do_not_use_up_the_ceremony(api: Passkeys) -> None:
    started = api.http.post("/v1/passkeys/authentication/options", json={}).json()
    body = {"ceremony_id": started["ceremony_id"], "credential": {"type": "public-key"}}
    assert problem(api.http.post("/v1/passkeys/authentication/verify", json=body)) == (400, "webauthn.credential_id")


def test_signed_in_endpoints_need_a_session(api: Passkeys) -> None:
    assert problem(api.http.get("/v1/passkeys")) == (401, "session.required")
    assert problem(api.http.get("/v1/session")) == (401, "session.required")
    assert problem(api.http.patch("/v1/passkeys/AAAA", json={"label": "x"})) == (401, "session.required")
    assert problem(api.http.post("/v1/passkeys/AAAA/removal/options")) == (401, "session.required")
    api.http.cookies.set("__Host-passkey_session", "forged-token-value")
    assert problem(api.http.get("/v1/passkeys")) == (401, "session.required")


# --- configuration, related origins, pages -------------------------------------------------------------


def test_related_origins_document(database_url: str, tmp_path: Path) -> None:
    single = start_passkeys(database_url, tmp_path, fixed_time=NOW)
    assert single.http.get("/.well-known/webauthn").status_code == 404
    several = start_passkeys(
        database_url, tmp_path, fixed_time=NOW, rp_origins="https://example.com,https://example.co.uk"
    )
    assert several.http.get("/.well-known/webauthn").json() == {
        "origins": ["https://example.co.uk", "https://example.com"]
    }


def test_android_app_origins(database_url: str, tmp_path: Path) -> None:
    app_hash = base64url.encode(bytes(range(32)))
    api = start_passkeys(database_url, tmp_path, fixed_time=NOW, android_apk_key_hashes=app_hash)
    started = api.register_options("rita").json()
    credential = SoftAuthenticator().create(started["options"], origin=f"android:apk-key-hash:{app_hash}")
    response = api.http.post(
        "/v1/passkeys/registration/verify", json={"ceremony_id": started["ceremony_id"], "credential": credential}
    )
    assert response.status_code == 201, response.text


def test_development_default_origin_is_localhost_on_the_served_port(tmp_path: Path) -> None:
    from tests.attest.server.service import make_settings

    settings = make_settings(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    config = passkey_config(settings, 8123)
    assert config.rp.origins == frozenset({"http://localhost:8123"})
    assert config.rp.id == "localhost"
    assert config.cookies.secure is False
    assert config.cookies.session_cookie == "passkey_session"


def test_production_cookies_are_secure(tmp_path: Path) -> None:
    from tests.attest.server.service import make_settings

    settings = make_settings(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, env="production")
    assert passkey_config(settings, 8000).cookies.secure is True
    assert passkey_config(settings, 8000).cookies.session_cookie == "__Host-passkey_session"


def test_pages_and_assets(api: Passkeys) -> None:
    for page in ("sign-up", "sign-in", "manage"):
        response = api.http.get(f"/passkeys/{page}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "<script>" not in response.text  # no inline script
        assert " on" not in response.text.split("<body", 1)[1].split(">", 1)[0]  # no inline handlers
        assert '<script src="/passkeys/assets/passkeys.js" defer></script>' in response.text
    assert api.http.get("/passkeys/assets/passkeys.js").headers["content-type"].startswith("text/javascript")
    assert api.http.get("/passkeys/assets/passkeys.css").headers["content-type"].startswith("text/css")
    assert api.http.get("/passkeys/assets/..%2fmodels.py").status_code == 404
    assert api.http.get("/passkeys/nothing").status_code == 404
    assert api.http.get("/passkeys", follow_redirects=False).headers["location"] == "/passkeys/sign-in"
