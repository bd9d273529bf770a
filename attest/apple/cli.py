"""`attest verify apple-attestation FILE ...` and `attest verify apple-assertion FILE ...`.

Same conventions as `attest verify android`: a readable summary (the decoded object, each of Apple's
steps, "Verification Successful!" or "Verification Failed" with the reason), or with ``--json`` one
object with ``verdict``, ``error`` and the decoded data. Exit 0 valid, 1 rejected, 2 unreadable input
or usage error. FILE holds the object as raw CBOR or as base64 text; ``-`` reads stdin.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from attest.apple import assertion as assertion_steps
from attest.apple import attestation as attestation_steps
from attest.apple.assertion import VerifiedAppleAssertion, verify_apple_assertion
from attest.apple.attestation import NONCE_EXTENSION_OID, VerifiedAppleAttestation, verify_apple_attestation
from attest.apple.cbor import CborError, decode_cbor
from attest.apple.chain import CERTIFICATE_ERRORS, describe
from attest.apple.policy import AppAttestApp, AppAttestPolicy, Environment
from attest.cli_input import read_bounded, standard_base64, verification_time
from attest.cli_output import EXIT_INVALID, EXIT_VALID, UsageError, error_object, print_json
from attest.errors import AttestationError, ConfigurationError

#: Base64 text of the largest attestation object the verifier accepts, with room for line breaks.
MAX_OBJECT_FILE_SIZE = 96 * 1024
MAX_PEM_FILE_SIZE = 16 * 1024


def add_parsers(platforms: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``apple-attestation`` and ``apple-assertion`` under ``attest verify``."""
    attestation = platforms.add_parser(
        "apple-attestation",
        help="verify an Apple App Attest attestation object",
        description="Verify an App Attest attestation object (Apple's steps 1-9) and print the verdict.",
    )
    attestation.add_argument("file", metavar="FILE", help="the attestation object, raw CBOR or base64; - for stdin")
    attestation.add_argument("--key-id", required=True, metavar="B64", help="the key identifier the app reported")
    _add_common(attestation)
    attestation.add_argument(
        "--environment",
        choices=[environment.value for environment in Environment],
        default=Environment.PRODUCTION.value,
        help="the environment the App ID may attest in (default production)",
    )
    attestation.add_argument("--at", metavar="ISO-8601", help="verify as of this time (default now)")
    attestation.set_defaults(handler=run_attestation)

    assertion = platforms.add_parser(
        "apple-assertion",
        help="verify an Apple App Attest assertion",
        description="Verify an App Attest assertion with the stored public key and counter.",
    )
    assertion.add_argument("file", metavar="FILE", help="the assertion, raw CBOR or base64; - for stdin")
    assertion.add_argument("--public-key", required=True, metavar="PEM_FILE", help="the stored attested public key")
    assertion.add_argument("--counter", required=True, type=_counter, metavar="N", help="the stored counter")
    _add_common(assertion)
    assertion.set_defaults(handler=run_assertion)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--client-data", required=True, metavar="B64", help="the client data bytes the app hashed, standard base64"
    )
    parser.add_argument(
        "--app-id", required=True, action="append", metavar="TEAMID.bundle.id", help="allowed App ID (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


# --- apple-attestation ----------------------------------------------------------------------------


def run_attestation(args: argparse.Namespace) -> int:
    data = read_object_file(args.file)
    key_id = standard_base64(args.key_id, "--key-id")
    client_data = standard_base64(args.client_data, "--client-data")
    policy = _policy(args.app_id, Environment(args.environment))
    at = verification_time(args.at)

    passed: list[str] = []
    error: AttestationError | None = None
    result: VerifiedAppleAttestation | None = None
    try:
        result = verify_apple_attestation(
            data, key_id=key_id, client_data=client_data, policy=policy, at=at, on_step=passed.append
        )
    except AttestationError as exc:
        error = exc
    report = {
        "verdict": "valid" if error is None else "invalid",
        "error": error_object(error),
        "verified_at": at.isoformat(),
        "attestation": _attestation_for_display(data),
        "checks": _checks(attestation_steps.STEPS, passed, error),
        "result": None if result is None else _attestation_result(result),
    }
    _emit(report, args.json, _print_attestation)
    return EXIT_VALID if error is None else EXIT_INVALID


def _attestation_result(result: VerifiedAppleAttestation) -> dict[str, Any]:
    return {
        "key_id": _std_b64(result.key_id),
        "app_id": result.app_id,
        "environment": result.environment.value,
        "sign_count": result.sign_count,
        "public_key_jwk": dict(result.public_key_jwk),
        "public_key_der": _std_b64(result.public_key_der),
        "receipt": _std_b64(result.receipt),
    }


def _attestation_for_display(data: bytes) -> dict[str, Any] | None:
    """The decoded object, even when verification failed (for diagnosis); None if undecodable."""
    try:
        decoded = attestation_steps.decode_attestation_object(data)
    except AttestationError:
        return None
    shown: dict[str, Any] = {
        "fmt": attestation_steps.FORMAT,
        "x5c": [_certificate_for_display(index, der) for index, der in enumerate(decoded.x5c)],
        "receipt_bytes": len(decoded.receipt),
        "authData": None,
    }
    try:
        auth_data = attestation_steps.parse_auth_data(decoded.auth_data)
    except AttestationError:
        return shown
    environment = Environment.from_aaguid(auth_data.aaguid)
    shown["authData"] = {
        "rpIdHash": auth_data.rp_id_hash.hex(),
        "flags": f"0x{auth_data.flags:02x}",
        "counter": auth_data.sign_count,
        "aaguid": auth_data.aaguid.rstrip(b"\x00").decode("ascii", "replace"),
        "environment": None if environment is None else environment.value,
        "credentialId": _std_b64(auth_data.credential_id),
    }
    return shown


def _certificate_for_display(index: int, der: bytes) -> dict[str, Any]:
    try:
        certificate = x509.load_der_x509_certificate(der)
        shown: dict[str, Any] = {
            "index": index,
            "subject": certificate.subject.rfc4514_string(),
            "issuer": certificate.issuer.rfc4514_string(),
            "not_before": certificate.not_valid_before_utc.isoformat(),
            "not_after": certificate.not_valid_after_utc.isoformat(),
            "name": describe(certificate),
        }
        if index == 0:
            nonce = certificate.extensions.get_extension_for_oid(NONCE_EXTENSION_OID).value
            if isinstance(nonce, x509.UnrecognizedExtension):
                shown["nonce"] = attestation_steps.read_nonce_extension(nonce.value).hex()
        return shown
    except (*CERTIFICATE_ERRORS, x509.ExtensionNotFound, AttestationError):
        return {"index": index, "unreadable": True, "bytes": len(der)}


def _print_attestation(report: dict[str, Any]) -> None:
    out = sys.stdout
    shown = report["attestation"]
    if shown is not None:
        out.write(f"App Attest attestation (fmt {shown['fmt']}, receipt {shown['receipt_bytes']} bytes)\n")
        out.write(f"Certificates ({len(shown['x5c'])}, credential certificate first):\n")
        for cert in shown["x5c"]:
            if cert.get("unreadable"):
                out.write(f"  [{cert['index']}] unreadable ({cert['bytes']} bytes)\n")
                continue
            out.write(
                f"  [{cert['index']}] {cert['subject']}\n"
                f"      issuer {cert['issuer']}\n"
                f"      valid {cert['not_before']} .. {cert['not_after']}\n"
            )
            if "nonce" in cert:
                out.write(f"      nonce {cert['nonce']}\n")
        auth = shown["authData"]
        if auth is not None:
            out.write(
                "authData:\n"
                f"  rpIdHash      {auth['rpIdHash']}\n"
                f"  flags         {auth['flags']}\n"
                f"  counter       {auth['counter']}\n"
                f"  aaguid        {auth['aaguid']} ({auth['environment'] or 'unknown environment'})\n"
                f"  credentialId  {auth['credentialId']}\n"
            )
    _print_checks(report)
    result = report["result"]
    if result is not None:
        out.write(
            f"Key id {result['key_id']}, App ID {result['app_id']}, {result['environment']}, "
            f"sign count {result['sign_count']}\n"
        )
    _print_verdict(report)


# --- apple-assertion ------------------------------------------------------------------------------


def run_assertion(args: argparse.Namespace) -> int:
    data = read_object_file(args.file)
    public_key = read_public_key(args.public_key)
    client_data = standard_base64(args.client_data, "--client-data")
    policy = _policy(args.app_id, Environment.PRODUCTION)

    passed: list[str] = []
    error: AttestationError | None = None
    result: VerifiedAppleAssertion | None = None
    try:
        result = verify_apple_assertion(
            data,
            client_data=client_data,
            public_key=public_key,
            counter=args.counter,
            policy=policy,
            on_step=passed.append,
        )
    except AttestationError as exc:
        error = exc
    report = {
        "verdict": "valid" if error is None else "invalid",
        "error": error_object(error),
        "assertion": _assertion_for_display(data),
        "stored_counter": args.counter,
        "checks": _checks(assertion_steps.STEPS, passed, error),
        "result": None if result is None else {"app_id": result.app_id, "counter": result.counter},
    }
    _emit(report, args.json, _print_assertion)
    return EXIT_VALID if error is None else EXIT_INVALID


def _assertion_for_display(data: bytes) -> dict[str, Any] | None:
    try:
        decoded = assertion_steps.decode_assertion_object(data)
        auth_data = assertion_steps.parse_authenticator_data(decoded.authenticator_data)
    except AttestationError:
        return None
    return {
        "signature": _std_b64(decoded.signature),
        "authenticatorData": {
            "rpIdHash": auth_data.rp_id_hash.hex(),
            "flags": f"0x{auth_data.flags:02x}",
            "counter": auth_data.sign_count,
        },
    }


def _print_assertion(report: dict[str, Any]) -> None:
    out = sys.stdout
    shown = report["assertion"]
    if shown is not None:
        auth = shown["authenticatorData"]
        out.write(
            "App Attest assertion:\n"
            f"  rpIdHash   {auth['rpIdHash']}\n"
            f"  flags      {auth['flags']}\n"
            f"  counter    {auth['counter']} (stored {report['stored_counter']})\n"
            f"  signature  {shown['signature']}\n"
        )
    _print_checks(report)
    if report["result"] is not None:
        out.write(f"App ID {report['result']['app_id']}; store counter {report['result']['counter']}\n")
    _print_verdict(report)


# --- shared ---------------------------------------------------------------------------------------


def read_object_file(name: str) -> bytes:
    """The object in ``name`` (``-``: stdin) as raw CBOR, or decoded from base64 text."""
    data = read_bounded(name, MAX_OBJECT_FILE_SIZE)
    if _is_cbor_map(data):
        return data
    compact = b"".join(data.split()).replace(b"-", b"+").replace(b"_", b"/")
    try:
        decoded = base64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if decoded and _is_cbor_map(decoded):
        return decoded
    raise UsageError(f"{name} holds neither a CBOR map nor base64 text of one")


def read_public_key(name: str) -> ec.EllipticCurvePublicKey:
    pem = read_bounded(name, MAX_PEM_FILE_SIZE)
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{name} is not a PEM public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UsageError(f"{name} holds a {type(key).__name__}, not an ECDSA public key")
    return key


def _is_cbor_map(data: bytes) -> bool:
    try:
        return isinstance(decode_cbor(data), dict)
    except CborError:
        return False


def _policy(app_ids: list[str], environment: Environment) -> AppAttestPolicy:
    try:
        return AppAttestPolicy(apps=tuple(AppAttestApp(app_id, environment) for app_id in app_ids))
    except ConfigurationError as exc:
        raise UsageError(f"--app-id: {exc.message}") from None


def _std_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _counter(value: str) -> int:
    try:
        counter = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if not 0 <= counter <= assertion_steps.MAX_COUNTER:
        raise argparse.ArgumentTypeError(f"{counter} is outside 0..{assertion_steps.MAX_COUNTER}")
    return counter


def _checks(steps: tuple[str, ...], passed: list[str], error: AttestationError | None) -> list[dict[str, str]]:
    failed = steps[len(passed)] if error is not None and len(passed) < len(steps) else None
    return [
        {"check": step, "status": "passed" if step in passed else "failed" if step == failed else "not run"}
        for step in steps
    ]


def _emit(report: dict[str, Any], as_json: bool, summary: Callable[[dict[str, Any]], None]) -> None:
    if as_json:
        print_json(report)
    else:
        summary(report)


def _print_checks(report: dict[str, Any]) -> None:
    sys.stdout.write("Checks (Apple's steps):\n")
    for check in report["checks"]:
        sys.stdout.write(f"  [{check['status']}] {check['check']}\n")


def _print_verdict(report: dict[str, Any]) -> None:
    error = report["error"]
    if error is None:
        sys.stdout.write("Verification Successful!\n")
    else:
        sys.stdout.write(f"Verification Failed: {error['code']}: {error['message']}\n")
