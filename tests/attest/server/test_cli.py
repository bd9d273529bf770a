"""`attest db upgrade`, `attest clients ...`, `attest keys ...` with the service's own settings."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from attest.cli import main


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATTEST_DATABASE_URL", database_url)
    monkeypatch.setenv("ATTEST_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_clients_lifecycle(environment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "db", "upgrade")[0] == 0
    digest = "10:39:38:ee:45:37:e5:9e:8e:e7:92:f6:54:50:4f:b8:34:6f:c6:b3:46:d0:bb:c4:41:5f:c3:39:fc:fc:8e:c1"
    android_args = ["--platform", "android", "--package", "com.example.app", "--signer-digest", digest]
    assert run(capsys, "clients", "add", "my-android", *android_args)[0] == 0
    assert (
        run(capsys, "clients", "add", "my-ios", "--platform", "apple", "--app-id", "ABCDE12345.com.example.app")[0] == 0
    )
    assert (
        run(capsys, "clients", "add", "ci", "--platform", "debug", "--debug-secret", "0123456789abcdef-secret")[0] == 0
    )
    _, out, _ = run(capsys, "clients", "list")
    listed = [json.loads(line) for line in out.splitlines()]
    assert [entry["client_id"] for entry in listed] == ["ci", "my-android", "my-ios"]
    android = listed[1]
    assert android["signer_digests"] == ["103938ee4537e59e8ee792f654504fb8346fc6b346d0bbc4415fc339fcfc8ec1"]
    assert android["require_verified_boot"] is True
    assert "debug_secret" not in out
    assert "0123456789abcdef" not in out
    assert run(capsys, "clients", "remove", "my-ios")[0] == 0
    assert run(capsys, "clients", "remove", "my-ios")[0] == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["clients", "add", "x", "--platform", "android", "--package", "com.x"],  # no signer digest
        ["clients", "add", "x", "--platform", "android", "--package", "com.x", "--signer-digest", "abcd"],
        ["clients", "add", "x", "--platform", "apple", "--app-id", "not-an-app-id"],
        ["clients", "add", "x", "--platform", "debug"],  # no secret
        ["clients", "add", "x", "--platform", "debug", "--debug-secret", "short"],
    ],
)
def test_invalid_clients_are_refused(environment: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("attest: error:")


def test_clients_config_file(environment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = environment / "clients.json"
    config.write_text(
        json.dumps(
            [
                {
                    "client_id": "a",
                    "config": {"platform": "apple", "app_ids": ["ABCDE12345.com.example.a"]},
                    "token_ttl_seconds": 120,
                },
                {
                    "client_id": "b",
                    "config": {"platform": "android", "packages": ["com.b"], "signer_digests": ["00" * 32]},
                },
            ]
        )
    )
    assert run(capsys, "clients", "load", str(config))[0] == 0
    _, out, _ = run(capsys, "clients", "list")
    assert [json.loads(line)["token_ttl"] for line in out.splitlines()] == [120, 600]
    config.write_text('[{"client_id": "c", "config": {"platform": "symbian"}}]')
    assert run(capsys, "clients", "load", str(config))[0] == 2


def test_debug_clients_cannot_be_made_in_production(
    environment: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTEST_ENV", "production")
    monkeypatch.setenv("ATTEST_SIGNING_KEY_ENCRYPTION_KEY", base64.b64encode(b"p" * 32).decode())
    monkeypatch.setenv("ATTEST_ALLOW_SQLITE_IN_PRODUCTION", "true")
    code, _, err = run(capsys, "clients", "add", "ci", "--platform", "debug", "--debug-secret", "0123456789abcdef-x")
    assert code == 2
    assert "production" in err


def test_key_rotation(environment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "db", "upgrade")
    _, before, _ = run(capsys, "keys", "list")
    states = {line.split()[0]: line.split()[2] for line in before.splitlines()}
    assert sorted(states.values()) == ["active", "next"]
    next_kid = next(kid for kid, state in states.items() if state == "next")
    code, out, _ = run(capsys, "keys", "rotate")
    assert code == 0
    assert f"active key {next_kid}" in out
    _, after, _ = run(capsys, "keys", "list")
    assert sorted(line.split()[2] for line in after.splitlines()) == ["active", "next", "retired"]


def test_db_purge(environment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "db", "upgrade")[0] == 0
    code, out, _ = run(capsys, "db", "purge")
    assert code == 0
    assert out.startswith("deleted 0 expired challenges")
