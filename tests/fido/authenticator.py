"""A software authenticator and client for tests: turns creation / request options JSON into the
PublicKeyCredential JSON a browser would send (WebAuthn Level 3 sections 5.1.8, 6.1, 6.5), with every
field open to tampering for negative tests. Not a model of any real authenticator's quirks."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from fido import base64url

ES256, EDDSA, RS256 = -7, -8, -257
UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


def generate_key(alg: int) -> PrivateKey:
    if alg == ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if alg == EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    if alg == RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(alg)


def cose_key(key: PrivateKey, alg: int) -> bytes:
    """RFC 9052 / RFC 9053 COSE_Key of the public half."""
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        numbers = public.public_numbers()
        return cbor2.dumps({1: 2, 3: alg, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cbor2.dumps({1: 1, 3: alg, -1: 6, -2: raw})
    assert isinstance(public, rsa.RSAPublicKey)
    n = public.public_numbers().n
    return cbor2.dumps({1: 3, 3: alg, -1: n.to_bytes((n.bit_length() + 7) // 8, "big"), -2: b"\x01\x00\x01"})


def sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def client_data_json(kind: str, challenge: str, origin: str, overrides: dict[str, Any] | None = None) -> bytes:
    """CollectedClientData as a browser serializes it; ``overrides`` replace members (None removes one)."""
    document: dict[str, Any] = {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
    document.update(overrides or {})
    return json.dumps({k: v for k, v in document.items() if v is not None}, separators=(",", ":")).encode()


def authenticator_data(
    rp_id: str,
    flags: int,
    sign_count: int,
    attested: bytes = b"",
    extensions: bytes = b"",
    rp_id_hash: bytes | None = None,
) -> bytes:
    rp_hash = rp_id_hash if rp_id_hash is not None else hashlib.sha256(rp_id.encode()).digest()
    return rp_hash + bytes([flags]) + sign_count.to_bytes(4, "big") + attested + extensions


def attested_credential_data(aaguid: bytes, credential_id: bytes, public_key: bytes) -> bytes:
    return aaguid + len(credential_id).to_bytes(2, "big") + credential_id + public_key


@dataclass
class AttestationCA:
    """An attestation root and a leaf issued by it (packed ``x5c`` attestation, section 8.2.1)."""

    root_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    leaf_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        now = datetime.now(UTC)
        root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Attestation Root")])
        self.root = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(self.root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.root_key, hashes.SHA256())
        )
        leaf_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Authenticators"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
                x509.NameAttribute(NameOID.COMMON_NAME, "Test Authenticator"),
            ]
        )
        self.leaf = (
            x509.CertificateBuilder()
            .subject_name(leaf_name)
            .issuer_name(root_name)
            .public_key(self.leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.root_key, hashes.SHA256())
        )

    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)


@dataclass
class StoredKey:
    credential_id: bytes
    key: PrivateKey
    alg: int
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    """A resident-key authenticator with user verification, and the client in front of it.

    ``counter``: how much the signature counter grows per signature (0: no counter, like most passkeys).
    ``attestation``: "none", "self" (packed self attestation) or a :class:`AttestationCA` (packed with x5c).
    """

    alg: int = ES256
    aaguid: bytes = bytes(16)
    backup_eligible: bool = False
    backup_state: bool = False
    user_verified: bool = True
    counter: int = 1
    attestation: str | AttestationCA = "none"
    transports: tuple[str, ...] = ("internal",)
    credentials: dict[bytes, StoredKey] = field(default_factory=dict)

    def flags(self, attested: bool = False) -> int:
        value = UP | (UV if self.user_verified else 0)
        value |= (BE if self.backup_eligible else 0) | (BS if self.backup_state else 0)
        return value | (AT if attested else 0)

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        client_data: dict[str, Any] | None = None,
        reuse: bytes | None = None,
    ) -> dict[str, Any]:
        """``navigator.credentials.create()`` and ``toJSON()``; ``client_data`` overrides members of C;
        ``reuse`` answers with an existing credential (what no honest authenticator does)."""
        rp_id = options["rp"]["id"]
        excluded = {base64url.decode(item["id"], max_bytes=1023) for item in options.get("excludeCredentials", [])}
        if excluded & set(self.credentials):
            raise ValueError("InvalidStateError: the authenticator holds an excluded credential")
        user_handle = base64url.decode(options["user"]["id"], max_bytes=64)
        assert user_handle is not None
        if reuse is not None:
            credential_id, key = reuse, self.credentials[reuse].key
        else:
            key, credential_id = generate_key(self.alg), secrets.token_bytes(32)
            self.credentials[credential_id] = StoredKey(credential_id, key, self.alg, rp_id, user_handle)
        cdj = client_data_json("webauthn.create", options["challenge"], origin, client_data)
        auth_data = authenticator_data(
            rp_id,
            self.flags(attested=True),
            0,
            attested_credential_data(self.aaguid, credential_id, cose_key(key, self.alg)),
        )
        return registration_json(credential_id, cdj, self.attestation_object(auth_data, cdj, key), self.transports)

    def attestation_object(self, auth_data: bytes, cdj: bytes, key: PrivateKey) -> bytes:
        signed = auth_data + hashlib.sha256(cdj).digest()
        if self.attestation == "none":
            return cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        if self.attestation == "self":
            return cbor2.dumps(
                {"fmt": "packed", "attStmt": {"alg": self.alg, "sig": sign(key, signed)}, "authData": auth_data}
            )
        assert isinstance(self.attestation, AttestationCA)
        ca = self.attestation
        statement = {
            "alg": ES256,
            "sig": ca.leaf_key.sign(signed, ec.ECDSA(hashes.SHA256())),
            "x5c": [ca.leaf.public_bytes(serialization.Encoding.DER)],
        }
        return cbor2.dumps({"fmt": "packed", "attStmt": statement, "authData": auth_data})

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        credential_id: bytes | None = None,
        sign_count: int | None = None,
        flags: int | None = None,
        with_user_handle: bool = True,
        client_data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``navigator.credentials.get()`` and ``toJSON()`` with one of our credentials for the RP (the
        allowed one, or ``credential_id``)."""
        rp_id = options["rpId"]
        allowed = [base64url.decode(item["id"], max_bytes=1023) for item in options.get("allowCredentials", [])]
        candidates = [
            c for c in self.credentials.values() if c.rp_id == rp_id and (not allowed or c.credential_id in allowed)
        ]
        if credential_id is not None:
            stored = self.credentials[credential_id]
        elif candidates:
            stored = candidates[0]
        else:
            raise ValueError("NotAllowedError: no credential for this request")
        stored.sign_count += self.counter
        cdj = client_data_json("webauthn.get", options["challenge"], origin, client_data)
        auth_data = authenticator_data(
            rp_id, self.flags() if flags is None else flags, stored.sign_count if sign_count is None else sign_count
        )
        signature = sign(stored.key, auth_data + hashlib.sha256(cdj).digest())
        return assertion_json(
            stored.credential_id, cdj, auth_data, signature, stored.user_handle if with_user_handle else None
        )


def registration_json(
    credential_id: bytes, cdj: bytes, attestation_object: bytes, transports: tuple[str, ...] = ("internal",)
) -> dict[str, Any]:
    return {
        "id": base64url.encode(credential_id),
        "rawId": base64url.encode(credential_id),
        "type": "public-key",
        "authenticatorAttachment": "platform",
        "clientExtensionResults": {},
        "response": {
            "clientDataJSON": base64url.encode(cdj),
            "attestationObject": base64url.encode(attestation_object),
            "transports": list(transports),
        },
    }


def assertion_json(
    credential_id: bytes, cdj: bytes, auth_data: bytes, signature: bytes, user_handle: bytes | None
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "clientDataJSON": base64url.encode(cdj),
        "authenticatorData": base64url.encode(auth_data),
        "signature": base64url.encode(signature),
    }
    if user_handle is not None:
        response["userHandle"] = base64url.encode(user_handle)
    return {
        "id": base64url.encode(credential_id),
        "rawId": base64url.encode(credential_id),
        "type": "public-key",
        "authenticatorAttachment": "platform",
        "clientExtensionResults": {},
        "response": response,
    }
