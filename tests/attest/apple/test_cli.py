"""`attest verify apple-attestation` / `apple-assertion`: output and exit codes."""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from attest.apple import cli as apple_cli
from attest.cli_output import UsageError, fail_unreadable
from tests.attest.apple.samples import assertion_samples, sample


def run(argv: list[str]) -> int:
    """What ``attest.cli.main`` does, with only the Apple commands registered."""
    parser = argparse.ArgumentParser(prog="attest")
    commands = parser.add_subparsers(dest="command", required=True)
    platforms = commands.add_parser("verify").add_subparsers(dest="platform", required=True)
    apple_cli.add_parsers(platforms)
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        return fail_unreadable(str(exc))
    return code


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def _attestation_args(path: Path, *extra: str, name: str = "ios-14.3/attestation") -> list[str]:
    s = sample(name)
    return [
        "verify",
        "apple-attestation",
        str(path),
        "--key-id",
        base64.b64encode(s.key_id).decode(),
        "--client-data",
        base64.b64encode(s.client_data).decode(),
        "--app-id",
        s.app_id,
        "--at",
        s.at.isoformat(),
        *extra,
    ]


@pytest.fixture
def raw_file(tmp_path: Path) -> Path:
    path = tmp_path / "attestation.cbor"
    path.write_bytes(sample("ios-14.3/attestation").data)
    return path


@pytest.fixture
def base64_file(tmp_path: Path) -> Path:
    path = tmp_path / "attestation.b64"
    encoded = base64.b64encode(sample("ios-14.3/attestation").data).decode()
    path.write_text("\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + "\n")
    return path


def test_attestation_valid_json(raw_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_attestation_args(raw_file, "--environment", "development", "--json")) == 0
    report = _json(capsys)
    assert report["verdict"] == "valid"
    assert report["error"] is None
    assert report["result"]["key_id"] == "vkNBJ+U8wuzZ0acrCg6QhAv6YpgmykDX/Pt+M3D0Lls="
    assert report["result"]["environment"] == "development"
    assert report["result"]["public_key_jwk"]["crv"] == "P-256"
    assert report["attestation"]["authData"]["aaguid"] == "appattestdevelop"
    assert len(report["attestation"]["x5c"]) == 2
    assert "nonce" in report["attestation"]["x5c"][0]
    assert all(check["status"] == "passed" for check in report["checks"])


def test_attestation_valid_summary_from_base64(base64_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_attestation_args(base64_file, "--environment", "development")) == 0
    out = capsys.readouterr().out
    assert "Verification Successful!" in out
    assert "Apple App Attestation CA 1" in out
    assert "[passed] 9 credential id" in out


def test_attestation_rejected_in_production(raw_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_attestation_args(raw_file, "--json")) == 1  # --environment defaults to production
    report = _json(capsys)
    assert report["verdict"] == "invalid"
    assert report["error"]["code"] == "appattest.environment_not_allowed"
    assert report["result"] is None
    statuses = {check["check"]: check["status"] for check in report["checks"]}
    assert statuses["7 counter"] == "passed"
    assert statuses["8 environment"] == "failed"
    assert statuses["9 credential id"] == "not run"


def test_attestation_rejected_summary(raw_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_attestation_args(raw_file, "--environment", "development", "--at", "2021-01-01T00:00:00Z")) == 1
    out = capsys.readouterr().out
    assert "Verification Failed: chain.expired" in out


def test_production_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "production.b64"
    path.write_text(base64.b64encode(sample("node-app-attest/attestation-production").data).decode())
    assert run(_attestation_args(path, "--json", name="node-app-attest/attestation-production")) == 0
    assert _json(capsys)["result"]["app_id"] == "V8H6LQ9448.io.uebelacker.AppAttestExample"


def test_attestation_from_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(sample("ios-14.3/attestation").data))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert run(_attestation_args(Path("-"), "--environment", "development", "--json")) == 0


def test_structurally_wrong_object_is_rejected_not_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import cbor2

    path = tmp_path / "packed.cbor"
    path.write_bytes(cbor2.dumps({"fmt": "packed", "attStmt": {}, "authData": b""}))
    assert run(_attestation_args(path, "--json")) == 1
    assert _json(capsys)["error"]["code"] == "appattest.format"


@pytest.mark.parametrize(
    "mutation",
    [
        {"file": b"this is neither CBOR nor base64 \x00\xff"},
        {"file": b"\xa1"},
        {"key_id": "not base64!"},
        {"client_data": "***"},
        {"at": "yesterday"},
        {"app_id": "com.example.no-team"},
        {"missing": True},
    ],
)
def test_unreadable_input_exits_2(
    tmp_path: Path, raw_file: Path, mutation: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = raw_file
    if "file" in mutation:
        path = tmp_path / "bad"
        path.write_bytes(mutation["file"])
    if "missing" in mutation:
        path = tmp_path / "does-not-exist"
    argv = _attestation_args(path)
    for option in ("key_id", "client_data", "at", "app_id"):
        if option in mutation:
            argv[argv.index("--" + option.replace("_", "-")) + 1] = mutation[option]
    assert run(argv) == 2
    assert "attest: error:" in capsys.readouterr().err


def test_too_large_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "huge"
    path.write_bytes(b"A" * (apple_cli.MAX_OBJECT_FILE_SIZE + 1))
    assert run(_attestation_args(path)) == 2


# --- apple-assertion ------------------------------------------------------------------------------


def _assertion_args(tmp_path: Path, *extra: str, counter: str = "0", encode: bool = False) -> list[str]:
    s = assertion_samples()[0]
    path = tmp_path / "assertion"
    path.write_bytes(base64.b64encode(s.data) if encode else s.data)
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        s.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return [
        "verify",
        "apple-assertion",
        str(path),
        "--public-key",
        str(pem),
        "--counter",
        counter,
        "--client-data",
        base64.b64encode(s.client_data).decode(),
        "--app-id",
        s.app_id,
        *extra,
    ]


def test_assertion_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_assertion_args(tmp_path, "--json", encode=True)) == 0
    report = _json(capsys)
    assert report["verdict"] == "valid"
    assert report["result"] == {"app_id": "6MURL8TA57.de.vincent-haupert.apple-appattest-poc", "counter": 1}
    assert report["assertion"]["authenticatorData"]["counter"] == 1


def test_assertion_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_assertion_args(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "store counter 1" in out
    assert "Verification Successful!" in out


def test_assertion_replay_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_assertion_args(tmp_path, "--json", counter="1")) == 1
    assert _json(capsys)["error"]["code"] == "assertion.counter_not_increasing"


def test_assertion_unreadable_key(tmp_path: Path) -> None:
    argv = _assertion_args(tmp_path)
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    argv[argv.index("--public-key") + 1] = str(bad)
    assert run(argv) == 2


def test_assertion_bad_counter_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        run(_assertion_args(tmp_path, counter="-1"))
    assert exc.value.code == 2


def test_registered_in_the_attest_command() -> None:
    attest_cli = pytest.importorskip("attest.cli")
    parser = attest_cli.build_parser()
    args = parser.parse_args(
        ["verify", "apple-assertion", "f", "--public-key", "k", "--counter", "0", "--client-data", "", "--app-id", "A"]
    )
    assert args.handler is apple_cli.run_assertion
