"""Google's attestation certificate status list.

Format (https://developer.android.com/privacy-and-security/security-key-attestation#certificate_status):
``{"entries": {"<serial, lowercase hex>": {"status": "REVOKED"|"SUSPENDED", "reason": "...", ...}}}``.
Every certificate of the chain is looked up (Google: "check the revocation status of each
certificate in the chain").

This module is pure: :func:`parse_status_list` reads bytes, :func:`check_revocation` decides.
Fetching with HTTP caching lives in :mod:`attest.android.status_list_source`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from cryptography import x509

from attest.android.chain import serial_hex
from attest.errors import ChainRevoked, RevocationListMalformed, RevocationListUnavailable

#: Google's list is a few hundred KiB; a bound stops a hostile or broken source from exhausting memory.
MAX_STATUS_LIST_SIZE = 16 * 1024 * 1024
GOOGLE_STATUS_LIST_URL = "https://android.googleapis.com/attestation/status"


class RevocationMode(StrEnum):
    """What to do when no fresh status list is available."""

    #: Fail closed: reject the attestation (``revocation.unavailable``). The production default.
    REQUIRED = "required"
    #: Verify without it, and say so in the result. The development default.
    BEST_EFFORT = "best-effort"
    #: Do not check revocation at all (the result says so).
    OFF = "off"


@dataclass(frozen=True, slots=True)
class StatusEntry:
    status: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class StatusList:
    """A parsed status list. ``entries`` maps normalized serial hex to its entry."""

    entries: Mapping[str, StatusEntry]
    fetched_at: datetime | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class RevocationOutcome:
    """Whether revocation was checked, and if not, why not."""

    checked: bool
    detail: str


def normalize_serial(serial: str) -> str:
    """Lowercase hex without leading zeros (``"00AB"`` -> ``"ab"``)."""
    return serial.strip().lower().lstrip("0") or "0"


def parse_status_list(data: bytes, *, fetched_at: datetime | None = None, source: str = "") -> StatusList:
    """Read a status list document; anything but the documented shape is ``revocation.malformed``."""
    if len(data) > MAX_STATUS_LIST_SIZE:
        raise RevocationListMalformed(f"status list is {len(data)} bytes; at most {MAX_STATUS_LIST_SIZE}")
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: nesting deeper than the JSON parser's recursion limit.
        raise RevocationListMalformed(f"status list is not JSON: {type(exc).__name__}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("entries"), dict):
        raise RevocationListMalformed('status list has no "entries" object')
    entries: dict[str, StatusEntry] = {}
    for serial, entry in document["entries"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("status"), str):
            raise RevocationListMalformed(f"status list entry {serial!r} has no status")
        try:
            int(serial, 16)
        except ValueError:
            raise RevocationListMalformed(f"status list key {serial!r} is not a hex serial number") from None
        reason = entry.get("reason")
        entries[normalize_serial(serial)] = StatusEntry(
            status=entry["status"], reason=reason if isinstance(reason, str) else None
        )
    return StatusList(entries=MappingProxyType(entries), fetched_at=fetched_at, source=source)


def check_revocation(
    chain: Sequence[x509.Certificate],
    status_list: StatusList | None,
    mode: RevocationMode,
    *,
    serials: Sequence[str] | None = None,
) -> RevocationOutcome:
    """Reject a chain with any listed certificate; apply ``mode`` when there is no list.

    ``serials`` are the chain's serial numbers as :func:`~attest.android.chain.serial_hex` gives them,
    when the caller has them already (a cached intermediate's is formatted once, but looked up in the
    current list on every call)."""
    if mode is RevocationMode.OFF:
        return RevocationOutcome(checked=False, detail="revocation checking is off")
    if status_list is None:
        if mode is RevocationMode.REQUIRED:
            raise RevocationListUnavailable("no fresh attestation status list is available")
        return RevocationOutcome(checked=False, detail="no fresh status list was available")
    if serials is None or len(serials) != len(chain):
        serials = [serial_hex(certificate) for certificate in chain]
    entries = status_list.entries
    for index, serial in enumerate(serials):
        entry = entries.get(serial)
        if entry is not None:
            certificate = chain[index]
            raise ChainRevoked(
                f"certificate {index} ({certificate.subject.rfc4514_string()}, serial {serial_hex(certificate)}) "
                f"is {entry.status} ({entry.reason or 'no reason given'})"
            )
    return RevocationOutcome(checked=True, detail=f"checked against {status_list.source or 'the status list'}")
