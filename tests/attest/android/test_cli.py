"""`attest verify android`: output, JSON shape and exit codes (0 valid, 1 rejected, 2 unreadable)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from attest.cli import main
from tests.attest.android.fixture_files import ANDROID_FIXTURES, chain_der, expected_json

CAIMAN = ANDROID_FIXTURES / "caiman/sdk36/TEE_EC_RKP.pem"
CAIMAN_CHALLENGE = expected_json("caiman/sdk36/TEE_EC_RKP")["attestationChallenge"]
SIGNER = "10:39:38:ee:45:37:e5:9e:8e:e7:92:f6:54:50:4f:b8:34:6f:c6:b3:46:d0:bb:c4:41:5f:c3:39:fc:fc:8e:c1"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["verify", "android", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_valid_chain_prints_success(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        str(CAIMAN),
        "--challenge",
        CAIMAN_CHALLENGE,
        "--package",
        "com.google.android.attestation",
        "--signer-digest",
        SIGNER,
        "--status-list",
        str(ANDROID_FIXTURES / "status-list-sample.json"),
        "--at",
        "2025-09-30T00:00:00Z",
    )
    assert code == 0
    assert "Verification Successful!" in out
    assert "Google Hardware Attestation Root" in out
    assert "[passed] app identity" in out
    assert '"attestationIdModel": "Pixel 9 Pro"' in out


def test_json_output_for_a_rejected_chain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        str(ANDROID_FIXTURES / "blueline/sdk28/TEE_EC_NONE.pem"),
        "--challenge",
        base64.b64encode(b"challenge").decode(),
        "--at",
        "2026-11-24T00:00:00Z",
        "--json",
    )
    assert code == 1
    report = json.loads(out)
    assert report["verdict"] == "invalid"
    assert report["error"]["code"] == "device.boot_state"
    assert report["attestation"]["hardwareEnforced"]["rootOfTrust"]["verifiedBootState"] == "UNVERIFIED"
    statuses = {check["check"]: check["status"] for check in report["checks"]}
    assert statuses["chain"] == "passed"
    assert statuses["revocation"] == "skipped"
    assert statuses["verified boot"] == "failed"
    assert statuses["app identity"] == "not run"
    assert report["app_checked"] is False


def test_allow_unverified_boot_and_json_chain_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    chain_file = tmp_path / "chain.json"
    chain_file.write_text(
        json.dumps([base64.b64encode(der).decode() for der in chain_der("blueline/sdk28/TEE_EC_NONE")])
    )
    code, out, _ = run(
        capsys,
        str(chain_file),
        "--challenge",
        base64.b64encode(b"challenge").decode(),
        "--allow-unverified-boot",
        "--at",
        "2026-11-24",
        "--json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["verdict"] == "valid"
    assert report["error"] is None
    assert report["public_key_jwk"]["kty"] == "EC"
    assert report["revocation_checked"] is False


def test_text_output_says_what_was_not_checked(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(CAIMAN), "--challenge", CAIMAN_CHALLENGE, "--at", "2025-09-30T00:00:00+00:00")
    assert code == 0
    assert "the app was not checked" in out
    assert "revocation was not checked" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["/does/not/exist.pem", "--challenge", "Y2hhbGxlbmdl"],
        [str(CAIMAN), "--challenge", "not base64!"],
        [str(CAIMAN), "--challenge", "Y2hhbGxlbmdl", "--at", "yesterday"],
        [str(CAIMAN), "--challenge", "Y2hhbGxlbmdl", "--signer-digest", "abcd"],
        [str(CAIMAN), "--challenge", "Y2hhbGxlbmdl", "--status-list", "/does/not/exist.json"],
        [str(ANDROID_FIXTURES / "PROVENANCE.md"), "--challenge", "Y2hhbGxlbmdl"],
    ],
)
def test_unreadable_input_exits_2_without_traceback(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _out, err = run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err
    assert err.startswith("attest: error:")


def test_garbage_certificates_are_rejected_not_crashed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    chain_file = tmp_path / "chain.json"
    chain_file.write_text(json.dumps([base64.b64encode(b"\x30\x03\x02\x01\x01").decode()]))
    code, out, _ = run(capsys, str(chain_file), "--challenge", "Y2hhbGxlbmdl", "--json")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "chain.malformed"


def test_missing_challenge_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["verify", "android", str(CAIMAN)])
    assert caught.value.code == 2
