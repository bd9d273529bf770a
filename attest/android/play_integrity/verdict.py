"""The decoded Play Integrity verdict: a typed, frozen model of the payload, and its strict parser.

The shape is Google's "Integrity verdicts" page
(https://developer.android.com/google/play/integrity/verdicts): ``requestDetails``,
``appIntegrity``, ``deviceIntegrity``, ``accountDetails`` and ``environmentDetails``. Verdict values
are kept as the strings Google sent (the known ones are the constants of the enums below), so a
value Google adds later is carried, shown in messages and never mistaken for an accepted one. Members
we do not know are ignored; members we read must have the documented JSON type, or the whole verdict
is :class:`~attest.android.play_integrity.errors.IntegrityMalformed`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from attest.android.play_integrity.errors import IntegrityMalformed

#: Largest timestampMillis we read (the last millisecond of year 9999).
_MAX_MILLIS = 253_402_300_799_999
#: Bound on any list we read (Google sends a handful of entries).
_MAX_LIST = 64


class AppRecognitionVerdict(StrEnum):
    """``appIntegrity.appRecognitionVerdict`` ("Application integrity field")."""

    PLAY_RECOGNIZED = "PLAY_RECOGNIZED"
    UNRECOGNIZED_VERSION = "UNRECOGNIZED_VERSION"
    UNEVALUATED = "UNEVALUATED"


class DeviceRecognitionVerdict(StrEnum):
    """Labels of ``deviceIntegrity.deviceRecognitionVerdict`` ("Device integrity field")."""

    MEETS_BASIC_INTEGRITY = "MEETS_BASIC_INTEGRITY"
    MEETS_DEVICE_INTEGRITY = "MEETS_DEVICE_INTEGRITY"
    MEETS_STRONG_INTEGRITY = "MEETS_STRONG_INTEGRITY"
    MEETS_VIRTUAL_INTEGRITY = "MEETS_VIRTUAL_INTEGRITY"


class AppLicensingVerdict(StrEnum):
    """``accountDetails.appLicensingVerdict`` ("Account details field")."""

    LICENSED = "LICENSED"
    UNLICENSED = "UNLICENSED"
    UNEVALUATED = "UNEVALUATED"


@dataclass(frozen=True, slots=True)
class RequestDetails:
    """``requestDetails``: what the app asked for. ``request_hash`` is set for standard requests,
    ``nonce`` for classic ones (both as sent by the app, unchanged)."""

    request_package_name: str
    timestamp_millis: int
    request_hash: str | None
    nonce: str | None

    @property
    def timestamp(self) -> datetime:
        """When Google prepared the token (``timestampMillis``, computed on Google's server)."""
        return datetime.fromtimestamp(self.timestamp_millis / 1000, UTC)


@dataclass(frozen=True, slots=True)
class AppIntegrity:
    """``appIntegrity``. ``package_name``, the digests and ``version_code`` are only present when
    the verdict is not UNEVALUATED."""

    app_recognition_verdict: str
    package_name: str | None
    #: SHA-256 digests of the app's signing certificates, decoded from Google's unpadded base64url.
    certificate_sha256_digests: tuple[bytes, ...]
    version_code: int | None


@dataclass(frozen=True, slots=True)
class DeviceIntegrity:
    """``deviceIntegrity``: the labels the device met (empty when it met none), and the optional
    extras a developer may opt in to."""

    device_recognition_verdict: tuple[str, ...]
    #: ``deviceAttributes.sdkVersion``, when opted in.
    sdk_version: int | None = None
    #: ``recentDeviceActivity.deviceActivityLevel``, when opted in.
    device_activity_level: str | None = None


@dataclass(frozen=True, slots=True)
class AccountDetails:
    """``accountDetails``."""

    app_licensing_verdict: str


@dataclass(frozen=True, slots=True)
class EnvironmentDetails:
    """``environmentDetails`` (optional, opt-in): Play Protect and the app access risk verdict."""

    play_protect_verdict: str | None
    apps_detected: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IntegrityVerdict:
    """A decoded (decrypted and signature-checked, or decoded by Google) integrity verdict."""

    request_details: RequestDetails
    app_integrity: AppIntegrity
    device_integrity: DeviceIntegrity
    account_details: AccountDetails | None
    environment_details: EnvironmentDetails | None


# --- parsing ------------------------------------------------------------------------------------


def parse_verdict_json(document: bytes | str) -> IntegrityVerdict:
    """Parse the verdict JSON (the payload of the JWS, "Returned integrity verdict format")."""
    return parse_verdict(read_json(document, "the verdict"))


def read_json(document: bytes | str, what: str) -> object:
    """Strict JSON: duplicate member names and non-finite numbers are refused (one document, one reading)."""
    try:
        return json.loads(document, object_pairs_hook=_unique_members, parse_constant=_refuse_constant)
    except (ValueError, RecursionError, TypeError) as exc:
        raise IntegrityMalformed(f"{what} is not JSON: {_short(exc)}") from None


def parse_verdict(value: object) -> IntegrityVerdict:
    """Build an :class:`IntegrityVerdict` from the already-decoded JSON object."""
    top = _object(value, "the verdict")
    request = _object(top.get("requestDetails"), "requestDetails")
    app = _object(top.get("appIntegrity"), "appIntegrity")
    device = _object(top.get("deviceIntegrity"), "deviceIntegrity")
    account = top.get("accountDetails")
    environment = top.get("environmentDetails")
    return IntegrityVerdict(
        request_details=_request_details(request),
        app_integrity=_app_integrity(app),
        device_integrity=_device_integrity(device),
        account_details=None if account is None else _account_details(_object(account, "accountDetails")),
        environment_details=None
        if environment is None
        else _environment_details(_object(environment, "environmentDetails")),
    )


def _request_details(value: Mapping[str, Any]) -> RequestDetails:
    package = _string(value, "requestPackageName", "requestDetails")
    if package is None:
        raise IntegrityMalformed("requestDetails.requestPackageName is missing")
    millis = _int64(value, "timestampMillis", "requestDetails")
    if millis is None:
        raise IntegrityMalformed("requestDetails.timestampMillis is missing")
    if millis > _MAX_MILLIS:
        raise IntegrityMalformed(f"requestDetails.timestampMillis {millis} is out of range")
    return RequestDetails(
        request_package_name=package,
        timestamp_millis=millis,
        request_hash=_string(value, "requestHash", "requestDetails"),
        nonce=_string(value, "nonce", "requestDetails"),
    )


def _app_integrity(value: Mapping[str, Any]) -> AppIntegrity:
    verdict = _string(value, "appRecognitionVerdict", "appIntegrity")
    if verdict is None:
        raise IntegrityMalformed("appIntegrity.appRecognitionVerdict is missing")
    digests = tuple(
        _sha256_digest(text, index)
        for index, text in enumerate(_strings(value, "certificateSha256Digest", "appIntegrity"))
    )
    return AppIntegrity(
        app_recognition_verdict=verdict,
        package_name=_string(value, "packageName", "appIntegrity"),
        certificate_sha256_digests=digests,
        version_code=_int64(value, "versionCode", "appIntegrity"),
    )


def _device_integrity(value: Mapping[str, Any]) -> DeviceIntegrity:
    attributes = value.get("deviceAttributes")
    activity = value.get("recentDeviceActivity")
    sdk_version = None
    if attributes is not None:
        sdk_version = _int64(_object(attributes, "deviceIntegrity.deviceAttributes"), "sdkVersion", "deviceAttributes")
    level = None
    if activity is not None:
        level = _string(
            _object(activity, "deviceIntegrity.recentDeviceActivity"), "deviceActivityLevel", "recentDeviceActivity"
        )
    return DeviceIntegrity(
        device_recognition_verdict=_strings(value, "deviceRecognitionVerdict", "deviceIntegrity"),
        sdk_version=sdk_version,
        device_activity_level=level,
    )


def _account_details(value: Mapping[str, Any]) -> AccountDetails:
    verdict = _string(value, "appLicensingVerdict", "accountDetails")
    if verdict is None:
        raise IntegrityMalformed("accountDetails.appLicensingVerdict is missing")
    return AccountDetails(app_licensing_verdict=verdict)


def _environment_details(value: Mapping[str, Any]) -> EnvironmentDetails:
    risk = value.get("appAccessRiskVerdict")
    apps: tuple[str, ...] = ()
    if risk is not None:
        apps = _strings(
            _object(risk, "environmentDetails.appAccessRiskVerdict"), "appsDetected", "appAccessRiskVerdict"
        )
    return EnvironmentDetails(
        play_protect_verdict=_string(value, "playProtectVerdict", "environmentDetails"), apps_detected=apps
    )


# --- JSON types ---------------------------------------------------------------------------------


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        shown = "missing" if value is None else f"a {type(value).__name__}"
        raise IntegrityMalformed(f"{what} is {shown}, not a JSON object")
    return value


def _string(value: Mapping[str, Any], name: str, parent: str) -> str | None:
    member = value.get(name)
    if member is None:
        return None
    if not isinstance(member, str):
        raise IntegrityMalformed(f"{parent}.{name} is a {type(member).__name__}, not a string")
    return member


def _strings(value: Mapping[str, Any], name: str, parent: str) -> tuple[str, ...]:
    member = value.get(name)
    if member is None:
        return ()
    if not isinstance(member, list) or len(member) > _MAX_LIST or not all(isinstance(m, str) for m in member):
        raise IntegrityMalformed(f"{parent}.{name} is not a list of at most {_MAX_LIST} strings")
    return tuple(member)


def _int64(value: Mapping[str, Any], name: str, parent: str) -> int | None:
    """An int64 member: protobuf's JSON mapping writes it as a decimal string; a JSON integer is
    accepted too. Booleans, floats, signs and non-ASCII digits are refused."""
    member = value.get(name)
    if member is None:
        return None
    if isinstance(member, int) and not isinstance(member, bool) and 0 <= member < 2**63:
        return member
    if isinstance(member, str) and 0 < len(member) <= 19 and member.isascii() and member.isdigit():
        return int(member)
    raise IntegrityMalformed(f"{parent}.{name} is not a non-negative integer")


def _sha256_digest(text: str, index: int) -> bytes:
    """Google writes certificate digests as base64url without padding ("Application integrity field")."""
    try:
        digest = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) if text.isascii() else b""
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 32 or _unpadded_b64url(digest) != text.rstrip("="):
        raise IntegrityMalformed(f"appIntegrity.certificateSha256Digest[{index}] is not an unpadded base64url SHA-256")
    return digest


def _unpadded_b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, member in pairs:
        if name in result:
            raise ValueError(f"duplicate member {name!r}")
        result[name] = member
    return result


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _short(exc: BaseException) -> str:
    return str(exc)[:120] if not isinstance(exc, RecursionError) else "nested too deeply"
