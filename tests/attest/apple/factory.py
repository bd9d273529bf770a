"""Synthetic App Attest objects under a self-signed *test* root, for negative tests (test-only).

``AppAttestFactory`` mints attestation objects and assertions the way Apple's service and a device do
(credential certificate with the nonce extension, authData, CBOR), and every knob that one of the
verifier's checks looks at can be turned to make exactly that check fail. ``ReceiptFactory`` does the
same for receipts (CMS SignedData over the receipt attribute SET). Nothing here is in the package.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import cbor2
from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from attest.apple.chain import TrustAnchor
from attest.apple.policy import AppAttestApp, AppAttestPolicy, Environment, ReceiptPolicy

TEST_APP_ID = "ABCDE12345.com.example.attest"
OTHER_APP_ID = "ZYXWV98765.com.example.other"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CLIENT_DATA = b'{"challenge":"c2VydmVyLWNoYWxsZW5nZQ"}'
NONCE_OID = x509.ObjectIdentifier("1.2.840.113635.100.8.2")
RECEIPT_MARKER_OID = x509.ObjectIdentifier("1.2.840.113635.100.12.15")
AAGUID = {Environment.PRODUCTION: b"appattest" + bytes(7), Environment.DEVELOPMENT: b"appattestdevelop"}


def der_tlv(tag: int, content: bytes) -> bytes:
    """One DER element (single-byte tag)."""
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def nonce_extension_value(nonce: bytes) -> bytes:
    """SEQUENCE { [1] EXPLICIT OCTET STRING nonce }, as Apple encodes it."""
    return der_tlv(0x30, der_tlv(0xA1, der_tlv(0x04, nonce)))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Attest Test"),
        ]
    )


def _spki_point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def make_ca(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: x509.Name | None = None,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    not_before: datetime,
    not_after: datetime,
    ca: bool = True,
    path_length: int | None = None,
    key_cert_sign: bool = True,
    extra: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not key_cert_sign,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=key_cert_sign,
                crl_sign=key_cert_sign,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key or key, hashes.SHA384())


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


@dataclass
class BuiltAttestation:
    """An attestation object and everything a test needs to verify it (or to make assertions)."""

    data: bytes
    key_id: bytes
    client_data: bytes
    private_key: ec.EllipticCurvePrivateKey
    credential_certificate: x509.Certificate
    receipt: bytes
    auth_data: bytes
    at: datetime = NOW

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()


@dataclass
class AppAttestFactory:
    """A test root ("Test App Attestation Root CA", P-384) and intermediate ("Test App Attestation CA 1")."""

    now: datetime = NOW
    root_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    intermediate_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )

    def __post_init__(self) -> None:
        self.root = make_ca(
            _name("Test App Attestation Root CA"),
            self.root_key,
            not_before=self.now - timedelta(days=3650),
            not_after=self.now + timedelta(days=3650),
        )
        self.intermediate = self.make_intermediate()

    def make_intermediate(self, **overrides: object) -> x509.Certificate:
        options: dict[str, object] = {
            "issuer": self.root.subject,
            "issuer_key": self.root_key,
            "not_before": self.now - timedelta(days=365),
            "not_after": self.now + timedelta(days=365),
        }
        options.update(overrides)
        return make_ca(_name("Test App Attestation CA 1"), self.intermediate_key, **options)  # type: ignore[arg-type]

    @property
    def anchors(self) -> tuple[TrustAnchor, ...]:
        return (TrustAnchor.from_certificate(self.root),)

    def policy(self, *apps: AppAttestApp) -> AppAttestPolicy:
        return AppAttestPolicy(apps=apps or (AppAttestApp(TEST_APP_ID, Environment.DEVELOPMENT),), anchors=self.anchors)

    def credential_certificate(
        self,
        key: ec.EllipticCurvePrivateKey,
        nonce: bytes,
        *,
        nonce_extension: bytes | None = None,
        include_nonce: bool = True,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        issuer_name: x509.Name | None = None,
        signer_key: ec.EllipticCurvePrivateKey | None = None,
        key_id_hex: str = "",
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(key_id_hex or "credential"))
            .issuer_name(issuer_name or self.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or self.now - timedelta(days=1))
            .not_valid_after(not_after or self.now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        )
        if include_nonce:
            value = nonce_extension if nonce_extension is not None else nonce_extension_value(nonce)
            builder = builder.add_extension(x509.UnrecognizedExtension(NONCE_OID, value), critical=False)
        return builder.sign(signer_key or self.intermediate_key, hashes.SHA256())

    def attestation(
        self,
        *,
        app_id: str = TEST_APP_ID,
        environment: Environment = Environment.DEVELOPMENT,
        client_data: bytes = CLIENT_DATA,
        key: ec.EllipticCurvePrivateKey | None = None,
        counter: int = 0,
        aaguid: bytes | None = None,
        credential_id: bytes | None = None,
        flags: int = 0x40,
        auth_data: bytes | None = None,
        certified_nonce: bytes | None = None,
        nonce_extension: bytes | None = None,
        include_nonce: bool = True,
        leaf_not_before: datetime | None = None,
        leaf_not_after: datetime | None = None,
        leaf_issuer_name: x509.Name | None = None,
        leaf_signer_key: ec.EllipticCurvePrivateKey | None = None,
        intermediate: x509.Certificate | None = None,
        x5c: list[bytes] | None = None,
        receipt: bytes = b"test receipt",
        fmt: str = "apple-appattest",
        top: dict[str, object] | None = None,
    ) -> BuiltAttestation:
        """An attestation object; each argument breaks (at most) one of Apple's checks."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        key_id = hashlib.sha256(_spki_point(key.public_key())).digest()
        cose_key = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: b"x" * 32, -3: b"y" * 32})
        if auth_data is None:
            cred_id = key_id if credential_id is None else credential_id
            auth_data = (
                hashlib.sha256(app_id.encode()).digest()
                + bytes([flags])
                + counter.to_bytes(4, "big")
                + (aaguid if aaguid is not None else AAGUID[environment])
                + len(cred_id).to_bytes(2, "big")
                + cred_id
                + cose_key
            )
        nonce = hashlib.sha256(auth_data + hashlib.sha256(client_data).digest()).digest()
        leaf = self.credential_certificate(
            key,
            certified_nonce if certified_nonce is not None else nonce,
            nonce_extension=nonce_extension,
            include_nonce=include_nonce,
            not_before=leaf_not_before,
            not_after=leaf_not_after,
            issuer_name=leaf_issuer_name,
            signer_key=leaf_signer_key,
            key_id_hex=key_id.hex(),
        )
        chain = x5c if x5c is not None else [der(leaf), der(intermediate or self.intermediate)]
        obj: dict[str, object] = {"fmt": fmt, "attStmt": {"x5c": chain, "receipt": receipt}, "authData": auth_data}
        if top is not None:
            obj = top
        return BuiltAttestation(
            data=cbor2.dumps(obj),
            key_id=key_id,
            client_data=client_data,
            private_key=key,
            credential_certificate=leaf,
            receipt=receipt,
            auth_data=auth_data,
            at=self.now,
        )


def make_assertion(
    private_key: ec.EllipticCurvePrivateKey,
    *,
    client_data: bytes = CLIENT_DATA,
    counter: int = 1,
    app_id: str = TEST_APP_ID,
    flags: int = 0x40,
    authenticator_data: bytes | None = None,
    signed_client_data: bytes | None = None,
    top: dict[str, object] | None = None,
) -> bytes:
    """An assertion as the device makes it: ECDSA P-256/SHA-256 over SHA-256(authData || SHA-256(clientData))."""
    if authenticator_data is None:
        authenticator_data = hashlib.sha256(app_id.encode()).digest() + bytes([flags]) + counter.to_bytes(4, "big")
    signed = client_data if signed_client_data is None else signed_client_data
    nonce = hashlib.sha256(authenticator_data + hashlib.sha256(signed).digest()).digest()
    signature = private_key.sign(nonce, ec.ECDSA(hashes.SHA256()))
    obj = top if top is not None else {"signature": signature, "authenticatorData": authenticator_data}
    return cbor2.dumps(obj)


# --- receipts -------------------------------------------------------------------------------------


class _ReceiptAttribute(core.Sequence):
    _fields: ClassVar[list[tuple[str, type[core.Asn1Value]]]] = [
        ("type", core.Integer),
        ("version", core.Integer),
        ("value", core.OctetString),
    ]


class _ReceiptPayload(core.SetOf):
    _child_spec = _ReceiptAttribute


def receipt_payload(fields: Sequence[tuple[int, bytes]]) -> bytes:
    """DER SET OF (type, version 1, value)."""
    return _ReceiptPayload([_ReceiptAttribute({"type": n, "version": 1, "value": v}) for n, v in fields]).dump()


def _iso(moment: datetime) -> bytes:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3].encode() + b"Z"


@dataclass
class ReceiptFactory:
    """A test "Root CA - G3" (P-384), intermediate and receipt signer (P-256, with the marker extension)."""

    now: datetime = NOW
    root_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    intermediate_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    signer_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        self.root = make_ca(
            _name("Test Root CA - G3"),
            self.root_key,
            not_before=self.now - timedelta(days=3650),
            not_after=self.now + timedelta(days=3650),
        )
        self.intermediate = make_ca(
            _name("Test Application Integration CA"),
            self.intermediate_key,
            issuer=self.root.subject,
            issuer_key=self.root_key,
            not_before=self.now - timedelta(days=365),
            not_after=self.now + timedelta(days=3650),
        )
        self.signer = self.make_signer()

    def make_signer(self, *, marker: bool = True, key_cert_sign: bool = False, ca: bool = False) -> x509.Certificate:
        extra: list[tuple[x509.ExtensionType, bool]] = []
        if marker:
            extra.append((x509.UnrecognizedExtension(RECEIPT_MARKER_OID, b"\x05\x00"), False))
        return make_ca(
            _name("Test Fraud Receipt Signing"),
            self.signer_key,
            issuer=self.intermediate.subject,
            issuer_key=self.intermediate_key,
            not_before=self.now - timedelta(days=30),
            not_after=self.now + timedelta(days=365),
            ca=ca,
            key_cert_sign=key_cert_sign,
            extra=extra,
        )

    @property
    def anchors(self) -> tuple[TrustAnchor, ...]:
        return (TrustAnchor.from_certificate(self.root),)

    def policy(self, *apps: AppAttestApp, **options: object) -> ReceiptPolicy:
        return ReceiptPolicy(
            apps=apps or (AppAttestApp(TEST_APP_ID, Environment.DEVELOPMENT),),
            anchors=self.anchors,
            **options,  # type: ignore[arg-type]
        )

    def fields(
        self,
        attested_certificate: bytes,
        *,
        app_id: str = TEST_APP_ID,
        environment: str | None = "sandbox",
        receipt_type: str = "ATTEST",
        client_hash: bytes = b"\x01" * 32,
        receipt_token: str = "dGVzdC10b2tlbg==",  # noqa: S107 - receipt field 5, not a secret
        creation_time: datetime | None = None,
        risk_metric: str | None = None,
        not_before: datetime | None = None,
        expiration_time: datetime | None = None,
    ) -> list[tuple[int, bytes]]:
        created = creation_time or self.now
        fields: list[tuple[int, bytes]] = [
            (2, app_id.encode()),
            (3, attested_certificate),
            (4, client_hash),
            (5, receipt_token.encode()),
            (6, receipt_type.encode()),
        ]
        if environment is not None:
            fields.append((7, environment.encode()))
        fields.append((12, _iso(created)))
        if risk_metric is not None:
            fields.append((17, risk_metric.encode()))
        if not_before is not None:
            fields.append((19, _iso(not_before)))
        fields.append((21, _iso(expiration_time or created + timedelta(days=90))))
        return fields

    def receipt(
        self,
        attested_certificate: bytes,
        *,
        fields: Sequence[tuple[int, bytes]] | None = None,
        payload: bytes | None = None,
        signer: x509.Certificate | None = None,
        signing_key: ec.EllipticCurvePrivateKey | None = None,
        certificates: Sequence[x509.Certificate] | None = None,
        signed_attributes: bool = False,
        tamper_content: bool = False,
        **field_options: object,
    ) -> bytes:
        """A receipt; the keyword arguments of :meth:`fields` choose the attribute values."""
        if payload is None:
            payload = receipt_payload(
                fields if fields is not None else self.fields(attested_certificate, **field_options)  # type: ignore[arg-type]
            )
        signer = signer or self.signer
        signature = (signing_key or self.signer_key).sign(payload, ec.ECDSA(hashes.SHA256()))
        if tamper_content:
            payload = payload[:-1] + bytes([payload[-1] ^ 0x01])
        signer_asn1 = asn1_x509.Certificate.load(der(signer))
        signer_info: dict[str, object] = {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": signer_asn1["tbs_certificate"]["issuer"],
                        "serial_number": signer_asn1["tbs_certificate"]["serial_number"],
                    }
                }
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
        }
        if signed_attributes:
            signer_info["signed_attrs"] = [
                {"type": "content_type", "values": ["data"]},
                {"type": "message_digest", "values": [hashlib.sha256(payload).digest()]},
            ]
        chain = certificates if certificates is not None else (signer, self.intermediate, self.root)
        signed_data = cms.SignedData(
            {
                "version": "v1",
                "digest_algorithms": [{"algorithm": "sha256"}],
                "encap_content_info": {"content_type": "data", "content": payload},
                "certificates": [asn1_x509.Certificate.load(der(c)) for c in chain],
                "signer_infos": [signer_info],
            }
        )
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
