"""What the relying party accepts from Apple App Attest: its App IDs, each with the environment it may
attest in, and the trust anchors (defaults: Apple's roots bundled in ``roots/``).

Policies are frozen and checked when built (:class:`attest.errors.ConfigurationError`), never at
verification time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from importlib import resources
from types import MappingProxyType

from cryptography import x509

from attest.apple.chain import TrustAnchor
from attest.errors import ConfigurationError

#: App ID = 10-character Team ID, a period, the bundle id (alphanumerics, hyphens, periods).
_APP_ID = re.compile(r"[A-Z0-9]{10}\.[A-Za-z0-9][A-Za-z0-9.\-]*")

#: Marker extension of Apple's App Attest receipt-signing certificates (an ASN.1 NULL), present in every
#: genuine receipt's signer; see roots/README.md.
RECEIPT_SIGNER_MARKER_OID = "1.2.840.113635.100.12.15"


class Environment(StrEnum):
    """The App Attest environment (entitlement ``com.apple.developer.devicecheck.appattest-environment``)."""

    PRODUCTION = "production"
    DEVELOPMENT = "development"

    @property
    def aaguid(self) -> bytes:
        """The authData aaguid an attestation made in this environment carries (Apple step 8)."""
        return b"appattest" + bytes(7) if self is Environment.PRODUCTION else b"appattestdevelop"

    @property
    def receipt_name(self) -> str:
        """How receipts name the environment (field 7): ``production`` or ``sandbox``."""
        return "production" if self is Environment.PRODUCTION else "sandbox"

    @classmethod
    def from_aaguid(cls, aaguid: bytes) -> Environment | None:
        for environment in cls:
            if environment.aaguid == aaguid:
                return environment
        return None

    @classmethod
    def from_receipt_name(cls, name: str) -> Environment | None:
        for environment in cls:
            if environment.receipt_name == name:
                return environment
        return None


@dataclass(frozen=True, slots=True)
class AppAttestApp:
    """One App ID (``TEAMID.bundle.id``) and the environment its attestations must come from.
    List the same App ID twice to accept both environments."""

    app_id: str
    environment: Environment = Environment.PRODUCTION

    def __post_init__(self) -> None:
        if not isinstance(self.app_id, str) or not _APP_ID.fullmatch(self.app_id):
            raise ConfigurationError(f"App ID {self.app_id!r} is not TEAMID.bundle.id (10-character Team ID)")
        try:
            object.__setattr__(self, "environment", Environment(self.environment))
        except ValueError:
            raise ConfigurationError(
                f"environment {self.environment!r} is not one of {', '.join(e.value for e in Environment)}"
            ) from None

    @property
    def rp_id_hash(self) -> bytes:
        """SHA-256 of the App ID: what authData's rpIdHash holds (Apple step 6)."""
        return hashlib.sha256(self.app_id.encode("utf-8")).digest()


def apple_app_attestation_root() -> tuple[TrustAnchor, ...]:
    """Apple App Attestation Root CA, bundled: the anchor of attestation ``x5c`` chains."""
    return _bundled("Apple_App_Attestation_Root_CA.pem")


def apple_root_ca_g3() -> tuple[TrustAnchor, ...]:
    """Apple Root CA - G3, bundled: the anchor of receipt signing chains."""
    return _bundled("Apple_Root_CA_G3.pem")


def _bundled(name: str) -> tuple[TrustAnchor, ...]:
    return TrustAnchor.from_pem(resources.files("attest.apple").joinpath("roots").joinpath(name).read_bytes())


def _index_apps(apps: tuple[AppAttestApp, ...]) -> Mapping[bytes, tuple[AppAttestApp, ...]]:
    if not apps:
        raise ConfigurationError("the policy allows no App ID")
    index: dict[bytes, tuple[AppAttestApp, ...]] = {}
    for app in apps:
        if not isinstance(app, AppAttestApp):
            raise ConfigurationError(f"{app!r} is not an AppAttestApp")
        index[app.rp_id_hash] = (*index.get(app.rp_id_hash, ()), app)
    return MappingProxyType(index)


def _check_anchors(anchors: tuple[TrustAnchor, ...]) -> None:
    if not anchors or not all(isinstance(anchor, TrustAnchor) for anchor in anchors):
        raise ConfigurationError("the policy needs at least one TrustAnchor")


@dataclass(frozen=True, slots=True)
class AppAttestPolicy:
    """Accepted App IDs and attestation trust anchors, for attestations and assertions."""

    apps: tuple[AppAttestApp, ...]
    anchors: tuple[TrustAnchor, ...] = field(default_factory=apple_app_attestation_root)
    _by_rp_id_hash: Mapping[bytes, tuple[AppAttestApp, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "apps", tuple(self.apps))
        object.__setattr__(self, "anchors", tuple(self.anchors))
        object.__setattr__(self, "_by_rp_id_hash", _index_apps(self.apps))
        _check_anchors(self.anchors)

    def apps_for(self, rp_id_hash: bytes) -> tuple[AppAttestApp, ...]:
        """The configured apps whose App ID hashes to ``rp_id_hash`` (empty if none)."""
        return self._by_rp_id_hash.get(rp_id_hash, ())

    @property
    def app_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(app.app_id for app in self.apps))


@dataclass(frozen=True, slots=True)
class ReceiptPolicy:
    """What an App Attest receipt must show: an accepted App ID and environment, a signing chain to
    Apple Root CA - G3 (by default) whose signer carries the receipt-signing marker, and a creation
    time no later than ``at + clock_skew`` and, when ``max_age`` is set, no earlier than
    ``at - max_age`` (Apple recommends 5 minutes for a receipt just fetched; leave it unset to read a
    stored receipt)."""

    apps: tuple[AppAttestApp, ...]
    anchors: tuple[TrustAnchor, ...] = field(default_factory=apple_root_ca_g3)
    max_age: timedelta | None = None
    clock_skew: timedelta = timedelta(minutes=5)
    signer_marker_oid: str | None = RECEIPT_SIGNER_MARKER_OID
    _by_app_id: Mapping[str, frozenset[Environment]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "apps", tuple(self.apps))
        object.__setattr__(self, "anchors", tuple(self.anchors))
        _index_apps(self.apps)
        _check_anchors(self.anchors)
        if self.max_age is not None and self.max_age <= timedelta(0):
            raise ConfigurationError("max_age must be positive (or None)")
        if not timedelta(0) <= self.clock_skew <= timedelta(days=1):
            raise ConfigurationError("clock_skew must be between 0 and 1 day")
        if self.signer_marker_oid is not None:
            try:
                x509.ObjectIdentifier(self.signer_marker_oid)
            except ValueError:
                raise ConfigurationError(f"signer_marker_oid {self.signer_marker_oid!r} is not an OID") from None
        environments: dict[str, frozenset[Environment]] = {}
        for app in self.apps:
            environments[app.app_id] = environments.get(app.app_id, frozenset()) | {app.environment}
        object.__setattr__(self, "_by_app_id", MappingProxyType(environments))

    def environments_for(self, app_id: str) -> frozenset[Environment]:
        """The environments ``app_id`` is accepted in (empty if the App ID is not accepted)."""
        return self._by_app_id.get(app_id, frozenset())
