"""Verify and decode an App Attest receipt.

Apple, "Assessing fraud risk", section "Verify the receipt": the receipt is a PKCS #7 (CMS, RFC 5652)
SignedData whose content is a DER ``SET OF ReceiptAttribute``, ``ReceiptAttribute ::= SEQUENCE { type
INTEGER, version INTEGER, value OCTET STRING }``. Steps 1-6 run below; the fields decoded are

====  ======================  ==============================================================
type  field                   value
====  ======================  ==============================================================
2     App ID                  UTF-8 ``TEAMID.bundle.id``
3     attested public key     the credential certificate (DER X.509)
4     client hash             bytes (the attestation's clientDataHash in an ATTEST receipt)
5     token                   ASCII
6     receipt type            ``ATTEST`` or ``RECEIPT``
7     environment             ``sandbox`` or ``production`` (not in Apple's table; in every sample)
12    creation time           ISO-8601 UTC
17    risk metric             decimal digits (RECEIPT only)
19    not before              ISO-8601 UTC (RECEIPT only): earliest time to ask for a refresh
21    expiration time         ISO-8601 UTC: after it Apple no longer refreshes the receipt
====  ======================  ==============================================================

Apple's receipts are BER (indefinite lengths) with no CMS signed attributes: the signature covers the
content octets directly. Signed attributes are therefore refused, not half-supported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from attest import der
from attest.apple.chain import (
    describe,
    ec_public_key,
    extensions_of,
    parse_certificate,
    spki_der,
    verify_path,
)
from attest.apple.errors import (
    ReceiptAppIdNotAllowed,
    ReceiptEnvironmentNotAllowed,
    ReceiptFromFuture,
    ReceiptMalformed,
    ReceiptPublicKeyMismatch,
    ReceiptSignature,
    ReceiptSignerNotAllowed,
    ReceiptStale,
)
from attest.apple.policy import Environment, ReceiptPolicy
from attest.errors import AttestationError, ChainTooLong, InputTooLarge

#: Genuine receipts are under 4 KiB.
MAX_RECEIPT_SIZE = 64 * 1024
#: Apple sends signer, intermediate and root.
MAX_RECEIPT_CERTIFICATES = 4
#: Genuine payloads have 8 to 10 attributes.
MAX_ATTRIBUTES = 64

FIELD_APP_ID = 2
FIELD_ATTESTED_PUBLIC_KEY = 3
FIELD_CLIENT_HASH = 4
FIELD_TOKEN = 5
FIELD_RECEIPT_TYPE = 6
FIELD_ENVIRONMENT = 7
FIELD_CREATION_TIME = 12
FIELD_RISK_METRIC = 17
FIELD_NOT_BEFORE = 19
FIELD_EXPIRATION_TIME = 21
_REQUIRED_FIELDS = (
    FIELD_APP_ID,
    FIELD_ATTESTED_PUBLIC_KEY,
    FIELD_CLIENT_HASH,
    FIELD_TOKEN,
    FIELD_RECEIPT_TYPE,
    FIELD_CREATION_TIME,
    FIELD_EXPIRATION_TIME,
)

_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z")
_DIGITS = re.compile(r"\d{1,9}")
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
#: What asn1crypto may raise while lazily parsing hostile BER.
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)

#: The steps in the order they run; ``on_step`` hears each label once it has passed.
STEPS = ("decode", "1 signature", "2 certificate chain", "3 payload", "4 App ID", "5 creation time", "6 public key")


class ReceiptType(StrEnum):
    """Field 6: ATTEST for the receipt inside an attestation, RECEIPT for one returned by a refresh."""

    ATTEST = "ATTEST"
    RECEIPT = "RECEIPT"


@dataclass(frozen=True, slots=True)
class AppleReceipt:
    """A verified receipt, decoded."""

    app_id: str
    #: Field 3: the credential certificate, DER.
    attested_certificate: bytes = field(repr=False)
    public_key: ec.EllipticCurvePublicKey = field(repr=False, compare=False)
    client_hash: bytes = field(repr=False)
    token: str = field(repr=False)
    receipt_type: ReceiptType
    #: Field 7, or None when absent (the policy then rejects the receipt).
    environment: Environment | None
    creation_time: datetime
    risk_metric: int | None
    not_before: datetime | None
    expiration_time: datetime
    #: The receipt as received (PKCS #7): what a refresh sends.
    raw: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class SignedReceipt:
    """The decoded CMS envelope (nothing verified yet): content, signature, signer and the chain
    ordered from the signer up as far as the certificates in the receipt reach."""

    content: bytes
    signature: bytes
    digest: hashes.HashAlgorithm
    chain: tuple[bytes, ...]


def verify_apple_receipt(
    receipt: bytes,
    policy: ReceiptPolicy,
    *,
    at: datetime,
    public_key: ec.EllipticCurvePublicKey | None = None,
    on_step: Callable[[str], None] | None = None,
) -> AppleReceipt:
    """Verify ``receipt`` as of ``at`` (timezone-aware) and decode its fields. With ``public_key``
    (the key stored at attestation) step 6 checks the receipt is about that key; without it, step 6
    is skipped and the caller must compare ``public_key`` of the result itself.

    Raises a subclass of :class:`attest.errors.AttestationError`; nothing else for any receipt bytes."""
    passed = on_step or _ignore
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise TypeError("at must be a timezone-aware datetime")
    signed = decode_receipt(receipt)
    passed(STEPS[0])
    signer = check_signature(signed)
    passed(STEPS[1])
    check_signing_chain(signed, signer, policy, at=at)
    passed(STEPS[2])
    decoded = parse_payload(signed.content, raw=bytes(receipt))
    passed(STEPS[3])
    check_app_id(decoded, policy)
    passed(STEPS[4])
    check_creation_time(decoded, policy, at=at)
    passed(STEPS[5])
    if public_key is not None:
        check_public_key(decoded, public_key)
    passed(STEPS[6])
    return decoded


# --- decoding the envelope -----------------------------------------------------------------------


def decode_receipt(data: bytes) -> SignedReceipt:
    """The CMS SignedData: one signer (issuer and serial number), SHA-2 with ECDSA, no signed
    attributes, encapsulated ``data`` content, at most four certificates."""
    if len(data) > MAX_RECEIPT_SIZE:
        raise InputTooLarge(f"receipt is {len(data)} bytes, more than {MAX_RECEIPT_SIZE}")
    try:
        return _decode_receipt(bytes(data))
    except _PARSE_ERRORS as exc:
        raise ReceiptMalformed(f"receipt is not a PKCS #7 SignedData: {exc}") from None


def _decode_receipt(data: bytes) -> SignedReceipt:
    info = cms.ContentInfo.load(data, strict=True)
    if info["content_type"].native != "signed_data":
        raise ReceiptMalformed(f"receipt content type is {info['content_type'].native}, not signed data")
    signed_data = info["content"]
    encapsulated = signed_data["encap_content_info"]
    if encapsulated["content_type"].native != "data":
        raise ReceiptMalformed(f"encapsulated content type is {encapsulated['content_type'].native}, not data")
    content = encapsulated["content"].native
    if not isinstance(content, bytes):
        raise ReceiptMalformed("the receipt has no encapsulated content")
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise ReceiptMalformed(f"the receipt has {len(signer_infos)} signers, not 1")
    signer_info = signer_infos[0]
    if signer_info["signed_attrs"].native is not None:
        raise ReceiptMalformed("the receipt has CMS signed attributes; Apple's receipts carry none")
    digest = _HASHES.get(signer_info["digest_algorithm"]["algorithm"].native)
    signature_algorithm = signer_info["signature_algorithm"]["algorithm"].native
    if digest is None or signature_algorithm not in ("ecdsa", f"{digest.name}_ecdsa"):
        raise ReceiptMalformed(
            f"the receipt is signed with {signature_algorithm} over "
            f"{signer_info['digest_algorithm']['algorithm'].native}, not ECDSA with SHA-2"
        )
    signature = signer_info["signature"].native
    if not isinstance(signature, bytes):
        raise ReceiptMalformed("the receipt's signature is missing")
    chain = _order_chain(signer_info["sid"], signed_data["certificates"])
    return SignedReceipt(content=content, signature=signature, digest=digest, chain=chain)


def _order_chain(sid: cms.SignerIdentifier, bag: cms.CertificateSet | None) -> tuple[bytes, ...]:
    """The signer's certificate, then its issuer, and so on, from the receipt's certificates."""
    if sid.name != "issuer_and_serial_number":
        raise ReceiptMalformed("the signer is not identified by issuer and serial number")
    certificates = [] if bag is None or bag.native is None else list(bag)
    if len(certificates) > MAX_RECEIPT_CERTIFICATES:
        raise ChainTooLong(
            f"the receipt carries {len(certificates)} certificates, more than {MAX_RECEIPT_CERTIFICATES}"
        )
    parsed = []
    for choice in certificates:
        if choice.name != "certificate":
            raise ReceiptMalformed(f"the receipt carries a {choice.name}, not an X.509 certificate")
        tbs = choice.chosen["tbs_certificate"]
        parsed.append((tbs["issuer"].dump(), tbs["subject"].dump(), tbs["serial_number"].native, choice.chosen.dump()))
    wanted_issuer, wanted_serial = sid.chosen["issuer"].dump(), sid.chosen["serial_number"].native
    current = next((c for c in parsed if c[0] == wanted_issuer and c[2] == wanted_serial), None)
    if current is None:
        raise ReceiptMalformed("the receipt does not carry its signer's certificate")
    chain = [current]
    while len(chain) < len(parsed):
        issuer = next((c for c in parsed if c[1] == current[0] and c not in chain), None)
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return tuple(item[3] for item in chain)


# --- Apple's steps --------------------------------------------------------------------------------


def check_signature(signed: SignedReceipt) -> x509.Certificate:
    """Step 1: the CMS signature verifies over the content with the signer certificate's key.
    Returns the signer certificate."""
    signer = parse_certificate(signed.chain[0], 0)
    key = ec_public_key(signer, 0)
    try:
        key.verify(signed.signature, signed.content, ec.ECDSA(signed.digest))
    except InvalidSignature:
        raise ReceiptSignature(f"the receipt's signature does not verify with {describe(signer)}") from None
    return signer


def check_signing_chain(
    signed: SignedReceipt, signer: x509.Certificate, policy: ReceiptPolicy, *, at: datetime
) -> None:
    """Step 2: the signing certificate chains to Apple Root CA - G3 (the policy's anchors), valid at
    ``at``, and is an App Attest receipt-signing certificate (digitalSignature, marker extension)."""
    verify_path(signed.chain, policy.anchors, at=at)
    extensions = extensions_of(signer, 0)
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.digital_signature:
        raise ReceiptSignerNotAllowed(f"{describe(signer)} is not allowed to sign (keyUsage)")
    if policy.signer_marker_oid is not None:
        try:
            extensions.get_extension_for_oid(x509.ObjectIdentifier(policy.signer_marker_oid))
        except x509.ExtensionNotFound:
            raise ReceiptSignerNotAllowed(
                f"{describe(signer)} lacks the App Attest receipt-signing extension {policy.signer_marker_oid}"
            ) from None


def parse_payload(content: bytes, *, raw: bytes) -> AppleReceipt:
    """Step 3: the DER SET OF (type, version, value) attributes, into typed fields."""
    try:
        values = _attributes(content)
        missing = [str(number) for number in _REQUIRED_FIELDS if number not in values]
        if missing:
            raise ReceiptMalformed(f"the receipt lacks field(s) {', '.join(missing)}")
        certificate = parse_certificate(values[FIELD_ATTESTED_PUBLIC_KEY], 0)
        return AppleReceipt(
            app_id=_text(values, FIELD_APP_ID),
            attested_certificate=values[FIELD_ATTESTED_PUBLIC_KEY],
            public_key=ec_public_key(certificate, 0),
            client_hash=values[FIELD_CLIENT_HASH],
            token=_text(values, FIELD_TOKEN),
            receipt_type=_receipt_type(values),
            environment=_environment(values),
            creation_time=_time(values, FIELD_CREATION_TIME),
            risk_metric=_risk_metric(values),
            not_before=_optional_time(values, FIELD_NOT_BEFORE),
            expiration_time=_time(values, FIELD_EXPIRATION_TIME),
            raw=raw,
        )
    except AttestationError as exc:
        if isinstance(exc, ReceiptMalformed):
            raise
        raise ReceiptMalformed(f"field {FIELD_ATTESTED_PUBLIC_KEY} (attested public key): {exc.message}") from None


def check_app_id(receipt: AppleReceipt, policy: ReceiptPolicy) -> None:
    """Step 4: field 2 is an allowed App ID, and field 7 an environment it is configured for."""
    environments = policy.environments_for(receipt.app_id)
    if not environments:
        allowed = ", ".join(dict.fromkeys(app.app_id for app in policy.apps))
        raise ReceiptAppIdNotAllowed(f"the receipt is for App ID {receipt.app_id!r}, not one of {allowed}")
    if receipt.environment is None or receipt.environment not in environments:
        stated = "no environment" if receipt.environment is None else receipt.environment.receipt_name
        configured = ", ".join(sorted(env.receipt_name for env in environments))
        raise ReceiptEnvironmentNotAllowed(
            f"the receipt states {stated}; {receipt.app_id} is configured for {configured}"
        )


def check_creation_time(receipt: AppleReceipt, policy: ReceiptPolicy, *, at: datetime) -> None:
    """Step 5: field 12 is not after ``at`` (beyond the clock skew) and, when the policy sets a
    maximum age, no older than that (Apple: no more than five minutes for a fresh receipt)."""
    if receipt.creation_time > at + policy.clock_skew:
        raise ReceiptFromFuture(
            f"the receipt was created at {receipt.creation_time.isoformat()}, after {at.isoformat()} "
            f"(+{policy.clock_skew} skew)"
        )
    if policy.max_age is not None and receipt.creation_time < at - policy.max_age:
        raise ReceiptStale(
            f"the receipt was created at {receipt.creation_time.isoformat()}, more than {policy.max_age} "
            f"before {at.isoformat()}"
        )


def check_public_key(receipt: AppleReceipt, public_key: ec.EllipticCurvePublicKey) -> None:
    """Step 6: field 3's public key is the one stored after the attestation."""
    if spki_der(receipt.public_key) != spki_der(public_key):
        raise ReceiptPublicKeyMismatch("the receipt's attested public key is not the stored key")


# --- the payload's fields -------------------------------------------------------------------------


def _attributes(content: bytes) -> dict[int, bytes]:
    try:
        items = der.set_items(der.read_element(content), "receipt payload")
        if len(items) > MAX_ATTRIBUTES:
            raise ReceiptMalformed(f"the receipt has {len(items)} attributes, more than {MAX_ATTRIBUTES}")
        values: dict[int, bytes] = {}
        for item in items:
            members = der.sequence_items(item, "receipt attribute")
            if len(members) != 3:
                raise der.DerError(f"receipt attribute has {len(members)} members, not 3 (type, version, value)")
            number = der.integer(members[0], "attribute type")
            der.integer(members[1], "attribute version")
            value = der.octet_string(members[2], "attribute value")
            if number in values:
                raise ReceiptMalformed(f"field {number} appears twice")
            values[number] = value
    except der.DerError as exc:
        raise ReceiptMalformed(f"the receipt payload is not the documented DER: {exc}") from None
    return values


def _text(values: dict[int, bytes], number: int) -> str:
    try:
        return values[number].decode("utf-8")
    except UnicodeDecodeError:
        raise ReceiptMalformed(f"field {number} is not UTF-8 text") from None


def _receipt_type(values: dict[int, bytes]) -> ReceiptType:
    text = _text(values, FIELD_RECEIPT_TYPE)
    try:
        return ReceiptType(text)
    except ValueError:
        raise ReceiptMalformed(f"field {FIELD_RECEIPT_TYPE} (receipt type) is {text[:20]!r}") from None


def _environment(values: dict[int, bytes]) -> Environment | None:
    if FIELD_ENVIRONMENT not in values:
        return None
    text = _text(values, FIELD_ENVIRONMENT)
    environment = Environment.from_receipt_name(text)
    if environment is None:
        raise ReceiptMalformed(f"field {FIELD_ENVIRONMENT} (environment) is {text[:20]!r}")
    return environment


def _risk_metric(values: dict[int, bytes]) -> int | None:
    text = _text(values, FIELD_RISK_METRIC) if FIELD_RISK_METRIC in values else ""
    if not text:
        return None
    if not _DIGITS.fullmatch(text):
        raise ReceiptMalformed(f"field {FIELD_RISK_METRIC} (risk metric) is {text[:20]!r}, not a number")
    return int(text)


def _optional_time(values: dict[int, bytes], number: int) -> datetime | None:
    if number not in values or not values[number]:
        return None
    return _time(values, number)


def _time(values: dict[int, bytes], number: int) -> datetime:
    text = _text(values, number)
    match = _TIME.fullmatch(text)
    if match is None:
        raise ReceiptMalformed(f"field {number} is {text[:40]!r}, not an ISO-8601 UTC time")
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=UTC,
        )
    except ValueError:
        raise ReceiptMalformed(f"field {number} is {text!r}, not a valid time") from None


def _ignore(_: str) -> None:
    return None
