"""Integrity tokens made with our own test keys, independently of joserfc: the JWE (A256KW + A256GCM)
and the JWS (ES256) are assembled here from cryptography's primitives, so the decoder is checked
against a second implementation, and any header or segment can be made wrong on purpose."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from attest.android.play_integrity import PlayIntegrityKeys, nonce_for, request_hash_for
from tests.attest.android import factory as android

NOW = android.FACTORY_NOW
CHALLENGE = hashlib.sha256(b"attest test: play integrity challenge").digest()
PACKAGE = android.DEFAULT_PACKAGE_NAME
CERTIFICATE_DIGEST = android.DEFAULT_SIGNER_DIGEST


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class TestKeys:
    """An app's response keys as the Play Console would hand them out, plus Google's signing key."""

    decryption_key: bytes = field(default_factory=lambda: os.urandom(32))
    signing_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def decryption_key_base64(self) -> str:
        return base64.b64encode(self.decryption_key).decode()

    @property
    def verification_key_base64(self) -> str:
        der = self.signing_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def keys(self) -> PlayIntegrityKeys:
        return PlayIntegrityKeys.from_base64(self.decryption_key_base64, self.verification_key_base64)

    def token(self, payload: dict[str, Any] | bytes, **options: Any) -> str:
        """Sign then encrypt, as Google does for a classic request."""
        jws_header = options.pop("jws_header", None)
        return encrypt(sign(payload, self.signing_key, header=jws_header), self.decryption_key, **options)


def payload(
    *,
    challenge: bytes = CHALLENGE,
    at: datetime = NOW,
    standard: bool = True,
    package: str = PACKAGE,
    digest: bytes = CERTIFICATE_DIGEST,
    device: tuple[str, ...] = ("MEETS_BASIC_INTEGRITY", "MEETS_DEVICE_INTEGRITY"),
    licensing: str = "LICENSED",
) -> dict[str, Any]:
    """A verdict in Google's documented shape ("Integrity verdicts"), bound to ``challenge``."""
    request: dict[str, Any] = {"requestPackageName": package, "timestampMillis": str(int(at.timestamp() * 1000))}
    if standard:
        request["requestHash"] = request_hash_for(challenge)
    else:
        request["nonce"] = nonce_for(challenge)
    return {
        "requestDetails": request,
        "appIntegrity": {
            "appRecognitionVerdict": "PLAY_RECOGNIZED",
            "packageName": package,
            "certificateSha256Digest": [b64url(digest)],
            "versionCode": "42",
        },
        "deviceIntegrity": {"deviceRecognitionVerdict": list(device)},
        "accountDetails": {"appLicensingVerdict": licensing},
        "environmentDetails": {"playProtectVerdict": "NO_ISSUES"},
    }


def changed(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy with ``a.b.c`` set to ``value`` (``...`` deletes it)."""
    result = copy.deepcopy(document)
    *parents, last = path.split(".")
    target = result
    for name in parents:
        target = target[name]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return result


def sign(
    payload: dict[str, Any] | bytes, key: ec.EllipticCurvePrivateKey, *, header: dict[str, Any] | None = None
) -> str:
    """A compact JWS, ES256 (RFC 7515; the signature is r || s, RFC 7518 section 3.4)."""
    protected = b64url(json.dumps({"alg": "ES256"} if header is None else header).encode())
    body = b64url(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    signing_input = f"{protected}.{body}".encode("ascii")
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return f"{protected}.{body}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def encrypt(
    plaintext: str | bytes,
    key: bytes,
    *,
    header: dict[str, Any] | None = None,
    corrupt_tag: bool = False,
) -> str:
    """A compact JWE, A256KW + A256GCM (RFC 7516; RFC 7518 sections 4.4 and 5.3)."""
    protected = b64url(json.dumps({"alg": "A256KW", "enc": "A256GCM"} if header is None else header).encode())
    cek, iv = os.urandom(32), os.urandom(12)
    data = plaintext.encode("ascii") if isinstance(plaintext, str) else plaintext
    sealed = AESGCM(cek).encrypt(iv, data, protected.encode("ascii"))
    ciphertext, tag = sealed[:-16], sealed[-16:]
    if corrupt_tag:
        tag = bytes([tag[0] ^ 1]) + tag[1:]
    return ".".join((protected, b64url(aes_key_wrap(key, cek)), b64url(iv), b64url(ciphertext), b64url(tag)))
