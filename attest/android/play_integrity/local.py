"""Decode an integrity token locally with the app's own keys (classic requests).

Google: "Make a classic API request", section "Decrypt and verify the integrity verdict"
(https://developer.android.com/google/play/integrity/classic#decrypt-verify). The token is a compact
JWE (``alg: A256KW``, ``enc: A256GCM``, RFC 7516) encrypted with the app's *decryption key* (a
256-bit AES key, base64, downloaded from the Play Console); its plaintext is a compact JWS (``alg:
ES256``, RFC 7515) signed with Google's key for the app, whose public half is the *verification key*
(base64 DER SubjectPublicKeyInfo, P-256). The JWS payload is the verdict JSON.

Standard requests cannot be decoded this way: their tokens are only decoded by Google's
``decodeIntegrityToken`` (:mod:`attest.android.play_integrity.remote`).

Both layers run through joserfc with explicit allow-lists (A256KW + A256GCM; ES256): nothing else,
no ``none``, no ``dir``, no compression (``zip``), no critical extensions. The structure is checked
before any key is used, so a bad shape is ``integrity.malformed``, a failed unwrap or GCM tag
``integrity.decrypt``, a bad signature ``integrity.signature``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OctKey

from attest.android.play_integrity.errors import IntegrityDecrypt, IntegrityMalformed, IntegritySignature
from attest.android.play_integrity.verdict import IntegrityVerdict, parse_verdict_json, read_json
from attest.errors import ConfigurationError

#: Longest token we read, in characters (a verdict is a few kilobytes).
MAX_TOKEN_LENGTH = 32 * 1024
JWE_ALGORITHM = "A256KW"
JWE_ENCRYPTION = "A256GCM"
JWS_ALGORITHM = "ES256"
#: JOSE header parameters that would change how a token is processed, refused at both layers
#: (key-carrying ones such as ``jwk`` or ``x5u`` are harmless: only the configured keys are used).
_REFUSED_HEADERS = frozenset({"zip", "crit", "b64"})
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
# Header parameters outside the IANA registry are ignored, as RFC 7515 section 4 asks (unless listed
# in "crit", which is refused); registered ones are type-checked by joserfc before any key is used.
_JWE_REGISTRY = jwe.JWERegistry(algorithms=[JWE_ALGORITHM, JWE_ENCRYPTION], strict_check_header=False)
_JWS_REGISTRY = jws.JWSRegistry(algorithms=[JWS_ALGORITHM], strict_check_header=False)


@dataclass(frozen=True, slots=True)
class PlayIntegrityKeys:
    """The app's response keys from the Play Console ("Download the response encryption keys")."""

    decryption_key: bytes = field(repr=False)
    verification_key: ec.EllipticCurvePublicKey = field(compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.decryption_key, bytes) or len(self.decryption_key) != 32:
            raise ConfigurationError("the Play Integrity decryption key must be 32 bytes (AES-256)")
        if not isinstance(self.verification_key, ec.EllipticCurvePublicKey) or not isinstance(
            self.verification_key.curve, ec.SECP256R1
        ):
            raise ConfigurationError("the Play Integrity verification key must be an EC P-256 public key")

    @classmethod
    def from_base64(cls, decryption_key: str, verification_key: str) -> PlayIntegrityKeys:
        """The two keys as the Play Console shows them: base64 of the AES key, base64 of the DER
        SubjectPublicKeyInfo of the verification key (whitespace is ignored)."""
        raw = _base64(decryption_key, "decryption key")
        der = _base64(verification_key, "verification key")
        try:
            public = serialization.load_der_public_key(der)
        except (ValueError, TypeError):
            raise ConfigurationError("the Play Integrity verification key is not a DER public key") from None
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise ConfigurationError("the Play Integrity verification key must be an EC P-256 public key")
        return cls(raw, public)

    @classmethod
    def from_files(cls, decryption_key_file: Path, verification_key_file: Path) -> PlayIntegrityKeys:
        """Read the two base64 keys from files (one key per file, as downloaded)."""
        try:
            decryption = decryption_key_file.read_text(encoding="ascii")
            verification = verification_key_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read a Play Integrity key file: {type(exc).__name__}") from None
        return cls.from_base64(decryption, verification)


def decode_integrity_token(token: str, keys: PlayIntegrityKeys) -> IntegrityVerdict:
    """Decrypt (JWE A256KW + A256GCM), verify (JWS ES256) and parse a classic request's token."""
    encrypted = _compact(token, parts=5, what="the integrity token (JWE)")
    header = _header(encrypted[0], "JWE")
    if header.get("alg") != JWE_ALGORITHM or header.get("enc") != JWE_ENCRYPTION:
        raise IntegrityMalformed(
            f"the JWE header has alg {header.get('alg')!r}, enc {header.get('enc')!r}; "
            f"only {JWE_ALGORITHM} with {JWE_ENCRYPTION} is accepted"
        )
    _registered(header, _JWE_REGISTRY.check_header, "JWE")
    # A256KW wraps the 32-byte CEK into 40 bytes; GCM takes a 96-bit IV and a 128-bit tag (RFC 7518 4.4, 5.3).
    for index, size, name in ((1, 40, "encrypted key"), (2, 12, "IV"), (4, 16, "authentication tag")):
        if len(_segment_bytes(encrypted[index], name)) != size:
            raise IntegrityMalformed(f"the JWE {name} is not {size} bytes")
    _segment_bytes(encrypted[3], "ciphertext")
    try:
        plaintext = jwe.decrypt_compact(token, OctKey.import_key(keys.decryption_key), registry=_JWE_REGISTRY).plaintext
    except (JoseError, ValueError, TypeError) as exc:
        raise IntegrityDecrypt(f"the integrity token does not decrypt with the app's key ({_name(exc)})") from None
    if plaintext is None:
        raise IntegrityDecrypt("the integrity token decrypted to nothing")
    try:
        inner = plaintext.decode("ascii")
    except UnicodeDecodeError:
        raise IntegrityMalformed("the decrypted integrity token is not a compact JWS") from None
    signed = _compact(inner, parts=3, what="the decrypted integrity token (JWS)")
    signed_header = _header(signed[0], "JWS")
    if signed_header.get("alg") != JWS_ALGORITHM:
        raise IntegrityMalformed(f"the JWS header has alg {signed_header.get('alg')!r}; only {JWS_ALGORITHM}")
    _registered(signed_header, _JWS_REGISTRY.check_header, "JWS")
    _segment_bytes(signed[1], "JWS payload")
    if len(_segment_bytes(signed[2], "JWS signature")) != 64:
        raise IntegrityMalformed("the JWS signature is not a 64-byte ES256 signature")
    try:
        verified = jws.deserialize_compact(inner, ECKey.import_key(keys.verification_key), registry=_JWS_REGISTRY)
    except (JoseError, ValueError, TypeError) as exc:
        raise IntegritySignature(f"the verdict's signature does not verify with the app's key ({_name(exc)})") from None
    return parse_verdict_json(verified.payload)


def _compact(token: object, *, parts: int, what: str) -> list[str]:
    if not isinstance(token, str):
        raise IntegrityMalformed(f"{what} is not a string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise IntegrityMalformed(f"{what} is longer than {MAX_TOKEN_LENGTH} characters")
    segments = token.split(".")
    if len(segments) != parts or not all(segments[i] for i in (0, parts - 1)):
        raise IntegrityMalformed(f"{what} is not a compact serialization of {parts} segments")
    if not all(_SEGMENT.fullmatch(s) for s in segments):
        raise IntegrityMalformed(f"{what} has a segment that is not unpadded base64url")
    return segments


def _segment_bytes(segment: str, name: str) -> bytes:
    if len(segment) % 4 == 1:
        raise IntegrityMalformed(f"the {name} is not base64url")
    try:
        decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise IntegrityMalformed(f"the {name} is not base64url") from None
    # Refuse non-canonical encodings (stray bits in the last character): one token, one reading.
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode("ascii") != segment:
        raise IntegrityMalformed(f"the {name} is not canonical base64url")
    return decoded


def _header(segment: str, layer: str) -> dict[str, Any]:
    header = read_json(_segment_bytes(segment, f"{layer} protected header"), f"the {layer} protected header")
    if not isinstance(header, dict):
        raise IntegrityMalformed(f"the {layer} protected header is not a JSON object")
    refused = sorted(_REFUSED_HEADERS.intersection(header))
    if refused:
        raise IntegrityMalformed(f"the {layer} header carries {refused}, which are not accepted")
    return header


def _registered(header: dict[str, Any], check: Callable[[Any], None], layer: str) -> None:
    """joserfc's checks of the registered header parameters (types, values), as input errors."""
    try:
        check(header)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise IntegrityMalformed(f"the {layer} header is not acceptable ({_name(exc)})") from None


def _base64(value: str, what: str) -> bytes:
    # Standard or URL-safe alphabet, padding optional.
    text = "".join(value.split()).translate(_URLSAFE_TO_STANDARD).rstrip("=")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"the Play Integrity {what} is not base64") from None


def _name(exc: Exception) -> str:
    return type(exc).__name__


@dataclass(frozen=True, slots=True)
class LocalTokenDecoder:
    """:func:`decode_integrity_token` with one app's keys, behind the same ``decode`` as
    :class:`~attest.android.play_integrity.remote.PlayIntegrityApiClient`. The package name is not
    needed to decrypt; the policy checks the verdict's package names."""

    keys: PlayIntegrityKeys

    def decode(self, token: str, *, package_name: str) -> IntegrityVerdict:
        return decode_integrity_token(token, self.keys)
