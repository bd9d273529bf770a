"""`attest verify android CHAIN_FILE --challenge B64 ...`: verify a chain offline and print why.

Modelled on Google's keyattestation CLI: the decoded chain, the KeyDescription, each check, and
"Verification Successful!" or "Verification Failed" with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from attest.android import chain as chain_validation
from attest.android.key_description import KEY_DESCRIPTION_OID, SecurityLevel, parse_key_description
from attest.android.key_description_json import key_description_as_json
from attest.android.policy import AndroidPolicy, AppIdentityPolicy
from attest.android.revocation import RevocationMode, StatusList, parse_status_list
from attest.android.status_list_source import HttpStatusListSource
from attest.android.verify import STEPS, AndroidAttestationResult, verify_android_attestation
from attest.cli_input import read_bounded, standard_base64, verification_time
from attest.cli_output import EXIT_INVALID, EXIT_VALID, UsageError, error_object, print_json
from attest.errors import AttestationError

#: A chain file larger than this is not a certificate chain.
MAX_CHAIN_FILE_SIZE = 256 * 1024


def add_parser(platforms: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = platforms.add_parser(
        "android",
        help="verify an Android Key Attestation certificate chain",
        description="Verify an Android Key Attestation chain (leaf first) and print the verdict.",
    )
    parser.add_argument(
        "chain_file",
        metavar="CHAIN_FILE",
        help="concatenated PEM, or a JSON array of base64 DER; - for stdin",
    )
    parser.add_argument("--challenge", required=True, help="the expected challenge, standard base64")
    parser.add_argument("--package", action="append", default=[], help="allowed package name (repeatable)")
    parser.add_argument(
        "--signer-digest",
        action="append",
        default=[],
        help="allowed SHA-256 signing-certificate digest, hex (repeatable)",
    )
    parser.add_argument(
        "--allow-unverified-boot",
        action="store_true",
        help="accept unlocked or unverified-boot devices (test devices)",
    )
    parser.add_argument("--min-security-level", choices=["tee", "strongbox"], default="tee")
    parser.add_argument("--status-list", metavar="FILE|URL", help="the revocation status list to check against")
    parser.add_argument("--at", help="verify as of this time (ISO-8601; default now)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    certificates = read_chain_file(args.chain_file)
    policy = AndroidPolicy(
        challenge=standard_base64(args.challenge, "--challenge"),
        app=_app_policy(args.package, args.signer_digest),
        min_security_level=SecurityLevel.STRONG_BOX
        if args.min_security_level == "strongbox"
        else SecurityLevel.TRUSTED_ENVIRONMENT,
        require_verified_boot=not args.allow_unverified_boot,
        require_locked_bootloader=not args.allow_unverified_boot,
        revocation=RevocationMode.REQUIRED if args.status_list else RevocationMode.OFF,
    )
    status_list = _status_list(args.status_list) if args.status_list else None
    at = verification_time(args.at)

    passed: list[str] = []
    error: AttestationError | None = None
    result: AndroidAttestationResult | None = None
    try:
        result = verify_android_attestation(certificates, policy, at=at, status_list=status_list, on_step=passed.append)
    except AttestationError as exc:
        error = exc
    report = _report(certificates, result, error, passed, args, at)
    if args.json:
        print_json(report)
    else:
        _print_summary(report, passed, error)
    return EXIT_VALID if error is None else EXIT_INVALID


# --- input ----------------------------------------------------------------------------------------


def read_chain_file(name: str) -> list[bytes]:
    """Concatenated PEM, or a JSON array of standard-base64 DER certificates (leaf first)."""
    data = read_bounded(name, MAX_CHAIN_FILE_SIZE)
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            return [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(data)]
        except ValueError as exc:
            raise UsageError(f"{name}: unreadable PEM: {exc}") from exc
    try:
        items = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{name} is neither PEM certificates nor a JSON array of base64 DER") from None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise UsageError(f"{name}: expected a JSON array of base64 strings")
    return [standard_base64(item, f"{name}[{index}]") for index, item in enumerate(items)]


def _app_policy(packages: list[str], digests: list[str]) -> AppIdentityPolicy | None:
    if not packages and not digests:
        return None
    parsed = []
    for digest in digests:
        try:
            raw = bytes.fromhex(digest.replace(":", "").strip())
        except ValueError:
            raise UsageError(f"--signer-digest {digest!r} is not hex") from None
        if len(raw) != 32:
            raise UsageError(f"--signer-digest {digest!r} is not a SHA-256 digest (32 bytes)")
        parsed.append(raw)
    return AppIdentityPolicy(package_names=frozenset(packages), signer_digests=frozenset(parsed))


def _status_list(location: str) -> StatusList:
    if location.startswith(("http://", "https://")):
        source = HttpStatusListSource(location)
        fetched = source.current()
        if fetched is None:
            raise UsageError(f"cannot fetch the status list from {location}: {source.last_error}")
        return fetched
    try:
        data = Path(location).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {location}: {exc.strerror or exc}") from exc
    try:
        return parse_status_list(data, fetched_at=datetime.now(UTC), source=location)
    except AttestationError as exc:
        raise UsageError(f"{location}: {exc.message}") from exc


# --- output ---------------------------------------------------------------------------------------


def _report(
    certificates: list[bytes],
    result: AndroidAttestationResult | None,
    error: AttestationError | None,
    passed: list[str],
    args: argparse.Namespace,
    at: datetime,
) -> dict[str, Any]:
    failed = STEPS[len(passed)] if error is not None and len(passed) < len(STEPS) else None
    return {
        "verdict": "valid" if error is None else "invalid",
        "error": error_object(error),
        "verified_at": at.isoformat(),
        "root": None if result is None else {"name": result.root_name, "key_sha256": result.root_key_fingerprint},
        "chain": _chain_for_display(certificates),
        "attestation": _attestation_for_display(certificates),
        "checks": [{"check": step, "status": _status(step, passed, failed, args)} for step in STEPS],
        "app_checked": bool(args.package or args.signer_digest),
        "revocation_checked": result.revocation.checked if result else None,
        "public_key_jwk": dict(result.public_key_jwk) if result else None,
    }


def _status(step: str, passed: list[str], failed: str | None, args: argparse.Namespace) -> str:
    skipped = (step == "revocation" and not args.status_list) or (
        step == "app identity" and not (args.package or args.signer_digest)
    )
    if step in passed:
        return "skipped" if skipped else "passed"
    return "failed" if step == failed else "not run"


def _chain_for_display(certificates: list[bytes]) -> list[dict[str, Any]] | None:
    try:
        parsed = chain_validation.parse_chain(certificates)
    except AttestationError:
        return None
    return [
        {
            "index": summary.index,
            "subject": summary.subject,
            "issuer": summary.issuer,
            "serial": summary.serial_number_hex,
            "not_before": summary.not_before.isoformat(),
            "not_after": summary.not_after.isoformat(),
            "key": summary.public_key_algorithm,
            "sha256": summary.sha256_fingerprint,
        }
        for summary in chain_validation.summarize(parsed)
    ]


def _attestation_for_display(certificates: list[bytes]) -> dict[str, Any] | None:
    """The first certificate's KeyDescription, decoded even when verification failed (for diagnosis)."""
    try:
        leaf = chain_validation.parse_chain(certificates[:1])[0]
        extensions = chain_validation.extensions_of(leaf, 0)
        extension = extensions.get_extension_for_oid(x509.ObjectIdentifier(KEY_DESCRIPTION_OID)).value
        assert isinstance(extension, x509.UnrecognizedExtension)
        return key_description_as_json(parse_key_description(extension.value))
    except (AttestationError, x509.ExtensionNotFound):
        return None


def _print_summary(report: dict[str, Any], passed: list[str], error: AttestationError | None) -> None:
    out = sys.stdout
    if report["chain"] is not None:
        out.write(f"Certificate chain ({len(report['chain'])} certificates, leaf first):\n")
        for cert in report["chain"]:
            out.write(
                f"  [{cert['index']}] {cert['subject'] or '(empty subject)'}\n"
                f"      issuer {cert['issuer']}; {cert['key']}; serial {cert['serial']}\n"
                f"      valid {cert['not_before']} .. {cert['not_after']}\n"
            )
    if report["root"] is not None:
        out.write(f"Trust anchor: {report['root']['name']} (key SHA-256 {report['root']['key_sha256']})\n")
    if report["attestation"] is not None:
        out.write("KeyDescription:\n")
        for line in json.dumps(report["attestation"], indent=2).splitlines():
            out.write(f"  {line}\n")
    out.write("Checks:\n")
    for check in report["checks"]:
        out.write(f"  [{check['status']}] {check['check']}\n")
    if not report["app_checked"]:
        out.write("Note: the app was not checked (no --package or --signer-digest).\n")
    if report["revocation_checked"] is False or (report["revocation_checked"] is None and error is None):
        out.write("Note: revocation was not checked (no --status-list).\n")
    if error is None:
        out.write("Verification Successful!\n")
    else:
        out.write(f"Verification Failed: {error.code}: {error.message}\n")
