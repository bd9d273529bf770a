"""Who we are to authenticators: the RP ID, its name, and the origins a ceremony may come from.

WebAuthn Level 3 section 5.1.2 (RP ID), section 13.4.9 (validating the origin of a credential) and
section 5.11 (Related Origin Requests, ``/.well-known/webauthn``). Origins are compared exactly, as
serialized origins (scheme, host, port; default ports left out; lower case), never by prefix or
pattern. Native Android apps present ``android:apk-key-hash:<base64url SHA-256 of the signing
certificate>`` (Credential Manager); iOS apps with an associated domain present the web origin of that
domain, so they need nothing beyond it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fido import base64url

ANDROID_ORIGIN_PREFIX = "android:apk-key-hash:"

_DOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")
_DEFAULT_PORTS = {"https": 443, "http": 80}


def check_rp_id(value: str) -> str:
    """The RP ID in canonical form (a lower-case domain, no scheme or port); ValueError otherwise."""
    rp_id = value.strip().lower()
    if not _DOMAIN.fullmatch(rp_id):
        raise ValueError(f"RP ID {value!r} is not a domain name (e.g. example.com, no scheme or port)")
    return rp_id


def web_origin(value: str) -> str:
    """``value`` as a serialized origin (``scheme://host[:port]``), or ValueError: https or http, no
    path, query, fragment or credentials. (Browsers run WebAuthn in secure contexts only, so an http
    origin works on localhost alone; production refuses the others, see the service settings.)"""
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"origin {value!r} is not a URL") from exc
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"origin {value!r} must be an https:// (or http://localhost) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"origin {value!r} must not carry credentials")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"origin {value!r} must not have a path, query or fragment")
    if not _DOMAIN.fullmatch(host):
        raise ValueError(f"origin {value!r} does not name a host")
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def is_insecure(origin: str) -> bool:
    """An http origin on a host other than localhost: not a secure context."""
    return origin.startswith("http://") and not is_localhost(urlsplit(origin).hostname or "")


def apk_key_hash_origin(value: str) -> str:
    """The origin an Android app signed with this certificate presents: ``android:apk-key-hash:`` and the
    unpadded base64url SHA-256 of the certificate. ``value`` is that SHA-256 as base64url or as the
    colon-separated hex ``keytool`` / ``apksigner`` print; ValueError for anything else."""
    text = value.strip()
    if text.startswith(ANDROID_ORIGIN_PREFIX):
        text = text.removeprefix(ANDROID_ORIGIN_PREFIX)
    digest: bytes | None
    hex_digits = text.replace(":", "")
    if ":" in text or re.fullmatch(r"[0-9A-Fa-f]{64}", text):
        digest = bytes.fromhex(hex_digits) if re.fullmatch(r"[0-9A-Fa-f]{64}", hex_digits) else None
    else:
        digest = base64url.decode(text, max_bytes=32)
    if digest is None or len(digest) != hashlib.sha256().digest_size:
        raise ValueError(f"{value!r} is not a SHA-256 certificate digest (base64url or colon hex)")
    return ANDROID_ORIGIN_PREFIX + base64url.encode(digest)


@dataclass(frozen=True)
class RelyingParty:
    """The relying party of every ceremony: ``id`` scopes the credentials, ``origins`` are the exact
    values ``C.origin`` may take, ``name`` is shown by authenticators when a passkey is created."""

    id: str
    name: str
    origins: frozenset[str]
    #: SHA-256 of the RP ID: what authenticatorData's rpIdHash must be (section 6.1).
    id_hash: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id_hash", hashlib.sha256(self.id.encode("ascii")).digest())

    @classmethod
    def configure(
        cls,
        *,
        rp_id: str,
        name: str,
        web_origins: Iterable[str],
        apk_key_hashes: Iterable[str] = (),
        served_port: int | None = None,
    ) -> RelyingParty:
        """Check and normalize a configuration. Without web origins, the one allowed web origin is
        ``http://localhost:<served_port>`` (development)."""
        origins = {web_origin(origin) for origin in web_origins}
        if not origins and served_port is not None:
            origins = {web_origin(f"http://localhost:{served_port}")}
        origins |= {apk_key_hash_origin(value) for value in apk_key_hashes}
        if not name.strip():
            raise ValueError("the RP name must not be empty")
        return cls(id=check_rp_id(rp_id), name=name.strip(), origins=frozenset(origins))

    def web_origins(self) -> list[str]:
        return sorted(origin for origin in self.origins if not origin.startswith(ANDROID_ORIGIN_PREFIX))

    def related_origins(self) -> dict[str, list[str]] | None:
        """The ``/.well-known/webauthn`` document (section 5.11.1) when several web origins share this
        RP ID, else None: browsers fetch it from ``https://<RP ID>`` to allow origins outside the RP ID's
        domain."""
        origins = self.web_origins()
        return {"origins": origins} if len(origins) > 1 else None
