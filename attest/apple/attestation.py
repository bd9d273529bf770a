"""Verify an App Attest attestation object.

Apple, "Validating apps that connect to your server", section "Verify the attestation": the object is
CBOR ``{fmt: "apple-appattest", attStmt: {x5c, receipt}, authData}``; Apple's nine steps run below in
Apple's order, one function each (steps 2-4 build and compare the nonce; the issue that specified this
module numbers the same checks 1-8, merging them). Storing the key id, public key, receipt and counter 0
afterwards is the service's job, with the returned :class:`VerifiedAppleAttestation`.

The client data is opaque here: its format (how it binds the server's one-time challenge, and what
else the app puts in it) is the service's contract with the app. The service builds the expected
client data bytes and passes them in; steps 2-4 then prove the device attested exactly those bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from attest import der
from attest.apple.authenticator_data import (
    AuthenticatorData,
    AuthenticatorDataError,
    parse_attestation_authenticator_data,
)
from attest.apple.cbor import CborError, decode_cbor
from attest.apple.chain import IntermediateCache, VerifiedPath, extensions_of, spki_der, verify_path
from attest.apple.errors import (
    AppAttestAppIdNotAllowed,
    AppAttestCounterNotZero,
    AppAttestCredentialIdMismatch,
    AppAttestEnvironmentNotAllowed,
    AppAttestFormat,
    AppAttestKeyIdMismatch,
    AppAttestMalformed,
    AppAttestNonceMismatch,
)
from attest.apple.policy import AppAttestApp, AppAttestPolicy, Environment
from attest.errors import (
    ChainEmpty,
    ChainTooLong,
    ExtensionMalformed,
    ExtensionMissing,
    InputTooLarge,
    KeyAlgorithm,
)
from attest.jwk import public_key_to_jwk

FORMAT = "apple-appattest"
#: Genuine attestation objects are about 5.3 KiB.
MAX_ATTESTATION_SIZE = 64 * 1024
#: Apple sends the credential certificate and "Apple App Attestation CA 1"; the root may be appended.
X5C_MIN_LENGTH, X5C_MAX_LENGTH = 2, 4
NONCE_EXTENSION_OID = x509.ObjectIdentifier("1.2.840.113635.100.8.2")

#: The steps in the order they run; ``on_step`` hears each label once it has passed.
STEPS = (
    "decode",
    "1 certificate chain",
    "2-4 nonce",
    "5 key id",
    "6 App ID",
    "7 counter",
    "8 environment",
    "9 credential id",
)


@dataclass(frozen=True, slots=True)
class AttestationObject:
    """The decoded (not yet verified) attestation object."""

    x5c: tuple[bytes, ...]
    receipt: bytes
    auth_data: bytes


@dataclass(frozen=True, slots=True)
class VerifiedAppleAttestation:
    """A verified attestation: what the service stores for later assertions."""

    #: SHA-256 of the attested public key (the app's key identifier).
    key_id: bytes
    public_key: ec.EllipticCurvePublicKey = field(repr=False, compare=False)
    app_id: str
    environment: Environment
    #: The App Attest receipt (PKCS #7), for :func:`attest.apple.receipt.verify_apple_receipt` and refreshes.
    receipt: bytes = field(repr=False)
    #: Always 0 for an attestation; the first assertion must exceed it.
    sign_count: int
    #: Whether the intermediate came from the caller's :class:`IntermediateCache`.
    intermediate_cached: bool = field(default=False, compare=False)

    @property
    def public_key_der(self) -> bytes:
        """The attested key as a SubjectPublicKeyInfo, DER."""
        return spki_der(self.public_key)

    @property
    def public_key_jwk(self) -> Mapping[str, str]:
        """The attested key as a public JWK (RFC 7518 section 6.2, ``crv`` P-256)."""
        return public_key_to_jwk(self.public_key)


def verify_apple_attestation(
    attestation: bytes,
    policy: AppAttestPolicy,
    *,
    key_id: bytes,
    client_data: bytes,
    at: datetime,
    cache: IntermediateCache | None = None,
    on_step: Callable[[str], None] | None = None,
) -> VerifiedAppleAttestation:
    """Verify ``attestation`` (the CBOR object from ``attestKey``) for the key id the app reported and
    the client data whose SHA-256 the app passed as ``clientDataHash``, as of ``at`` (timezone-aware).

    Raises a subclass of :class:`attest.errors.AttestationError`; nothing else for any input bytes."""
    passed = on_step or _ignore
    _require_aware(at)
    decoded = decode_attestation_object(attestation)
    auth_data = parse_auth_data(decoded.auth_data)
    passed(STEPS[0])
    path = check_certificate_chain(decoded.x5c, policy, at=at, cache=cache)
    passed(STEPS[1])
    check_nonce(path.leaf, compute_nonce(decoded.auth_data, client_data))
    passed(STEPS[2])
    public_key = check_key_id(path.leaf, key_id)
    passed(STEPS[3])
    apps = check_app_id(auth_data.rp_id_hash, policy)
    passed(STEPS[4])
    check_counter(auth_data.sign_count)
    passed(STEPS[5])
    app = check_environment(auth_data.aaguid, apps)
    passed(STEPS[6])
    check_credential_id(auth_data.credential_id, key_id)
    passed(STEPS[7])
    return VerifiedAppleAttestation(
        key_id=bytes(key_id),
        public_key=public_key,
        app_id=app.app_id,
        environment=app.environment,
        receipt=decoded.receipt,
        sign_count=auth_data.sign_count,
        intermediate_cached=path.cached,
    )


# --- decoding ------------------------------------------------------------------------------------


def decode_attestation_object(data: bytes) -> AttestationObject:
    """The CBOR attestation object, bounded and type-checked (nothing verified yet)."""
    if len(data) > MAX_ATTESTATION_SIZE:
        raise InputTooLarge(f"attestation object is {len(data)} bytes, more than {MAX_ATTESTATION_SIZE}")
    try:
        item = decode_cbor(bytes(data))
    except CborError as exc:
        raise AppAttestMalformed(f"attestation object is not strict CBOR: {exc.reason}") from None
    top = _map(item, ("fmt", "attStmt", "authData"), "attestation object")
    if top["fmt"] != FORMAT:
        raise AppAttestFormat(f"fmt is {_show(top['fmt'])}, not {FORMAT!r}")
    statement = _map(top["attStmt"], ("x5c", "receipt"), "attStmt")
    x5c = statement["x5c"]
    if not isinstance(x5c, list) or not all(isinstance(cert, bytes) for cert in x5c):
        raise AppAttestFormat("attStmt.x5c is not an array of byte strings")
    if not x5c:
        raise ChainEmpty("attStmt.x5c holds no certificate")
    if len(x5c) < X5C_MIN_LENGTH:
        raise AppAttestFormat("attStmt.x5c holds only one certificate, not the credential certificate and its CA")
    if len(x5c) > X5C_MAX_LENGTH:
        raise ChainTooLong(f"attStmt.x5c holds {len(x5c)} certificates, more than {X5C_MAX_LENGTH}")
    receipt, auth_data = statement["receipt"], top["authData"]
    if not isinstance(receipt, bytes):
        raise AppAttestFormat("attStmt.receipt is not a byte string")
    if not isinstance(auth_data, bytes):
        raise AppAttestFormat("authData is not a byte string")
    return AttestationObject(x5c=tuple(x5c), receipt=receipt, auth_data=auth_data)


def parse_auth_data(auth_data: bytes) -> AuthenticatorData:
    """authData with its attested credential data (WebAuthn section 6.1)."""
    try:
        return parse_attestation_authenticator_data(auth_data)
    except AuthenticatorDataError as exc:
        raise AppAttestMalformed(str(exc)) from None


# --- Apple's steps --------------------------------------------------------------------------------


def check_certificate_chain(
    x5c: tuple[bytes, ...], policy: AppAttestPolicy, *, at: datetime, cache: IntermediateCache | None
) -> VerifiedPath:
    """Step 1: x5c (credential certificate first, then the intermediate) chains to Apple's App
    Attestation Root CA (the policy's anchors), every certificate valid at ``at``."""
    return verify_path(x5c, policy.anchors, at=at, cache=cache)


def compute_nonce(auth_data: bytes, client_data: bytes) -> bytes:
    """Steps 2-3: clientDataHash = SHA-256(client data), appended to authData; nonce = SHA-256 of that."""
    client_data_hash = hashlib.sha256(client_data).digest()
    return hashlib.sha256(auth_data + client_data_hash).digest()


def check_nonce(credential_certificate: x509.Certificate, nonce: bytes) -> None:
    """Step 4: the credential certificate's extension 1.2.840.113635.100.8.2, a DER SEQUENCE holding
    one [1] EXPLICIT OCTET STRING, contains exactly ``nonce`` (parsed as ASN.1, not sliced)."""
    try:
        extension = extensions_of(credential_certificate, 0).get_extension_for_oid(NONCE_EXTENSION_OID).value
    except x509.ExtensionNotFound:
        raise ExtensionMissing("the credential certificate has no nonce extension (1.2.840.113635.100.8.2)") from None
    if not isinstance(extension, x509.UnrecognizedExtension):  # pragma: no cover - cryptography knows no such OID
        raise ExtensionMalformed("the nonce extension was parsed as a known extension type")
    attested = read_nonce_extension(extension.value)
    if not hmac.compare_digest(attested, nonce):
        raise AppAttestNonceMismatch(
            f"the certified nonce {attested.hex()} is not SHA-256(authData || SHA-256(clientData)) = {nonce.hex()}"
        )


def read_nonce_extension(value: bytes) -> bytes:
    """The nonce inside the extension value: SEQUENCE { [1] EXPLICIT OCTET STRING (32 bytes) }."""
    try:
        items = der.sequence_items(der.read_element(value), "nonce extension")
        if len(items) != 1:
            raise der.DerError(f"nonce extension: SEQUENCE of {len(items)} elements, expected 1")
        if items[0].tag != 1:
            raise der.DerError(f"nonce extension: tag [{items[0].tag}], expected [1]")
        nonce = der.octet_string(der.explicit_inner(items[0], "nonce"), "nonce")
    except der.DerError as exc:
        raise ExtensionMalformed(str(exc)) from None
    if len(nonce) != hashlib.sha256().digest_size:
        raise ExtensionMalformed(f"the certified nonce is {len(nonce)} bytes, not a SHA-256 digest")
    return nonce


def check_key_id(credential_certificate: x509.Certificate, key_id: bytes) -> ec.EllipticCurvePublicKey:
    """Step 5: SHA-256 of the credential certificate's public key (the uncompressed P-256 point) is
    the key identifier the app reported. Returns the key."""
    try:
        key = credential_certificate.public_key()
    except ValueError as exc:
        raise KeyAlgorithm(f"the credential certificate's public key is unreadable: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyAlgorithm(f"the credential key is a {_key_name(key)}, not ECDSA P-256")
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    certified = hashlib.sha256(point).digest()
    if not hmac.compare_digest(certified, bytes(key_id)):
        raise AppAttestKeyIdMismatch(
            f"SHA-256 of the certified key is {certified.hex()}, the app reported key id {bytes(key_id).hex()}"
        )
    return key


def check_app_id(rp_id_hash: bytes, policy: AppAttestPolicy) -> tuple[AppAttestApp, ...]:
    """Step 6: authData's rpIdHash is SHA-256 of an allowed App ID."""
    apps = policy.apps_for(rp_id_hash)
    if not apps:
        raise AppAttestAppIdNotAllowed(
            f"rpIdHash {rp_id_hash.hex()} is not SHA-256 of an allowed App ID ({', '.join(policy.app_ids)})"
        )
    return apps


def check_counter(sign_count: int) -> None:
    """Step 7: authData's counter is 0."""
    if sign_count != 0:
        raise AppAttestCounterNotZero(f"counter is {sign_count}, an attestation's is 0")


def check_environment(aaguid: bytes, apps: tuple[AppAttestApp, ...]) -> AppAttestApp:
    """Step 8: aaguid is ``appattest`` + seven 0x00 (production) or ``appattestdevelop``
    (development), and the App ID is configured for that environment."""
    environment = Environment.from_aaguid(aaguid)
    if environment is None:
        raise AppAttestEnvironmentNotAllowed(f"aaguid {aaguid!r} is neither production nor development App Attest")
    for app in apps:
        if app.environment is environment:
            return app
    configured = ", ".join(sorted({app.environment.value for app in apps}))
    raise AppAttestEnvironmentNotAllowed(
        f"attested in {environment.value}, App ID {apps[0].app_id} is configured for {configured}"
    )


def check_credential_id(credential_id: bytes, key_id: bytes) -> None:
    """Step 9: authData's credentialId is the key identifier."""
    if not hmac.compare_digest(credential_id, bytes(key_id)):
        raise AppAttestCredentialIdMismatch(
            f"credentialId {credential_id.hex()} is not the key id {bytes(key_id).hex()}"
        )


# --- helpers --------------------------------------------------------------------------------------


def _map(item: object, members: tuple[str, ...], what: str) -> dict[str, object]:
    if not isinstance(item, dict):
        raise AppAttestFormat(f"{what} is a {type(item).__name__}, not a map")
    if set(item) != set(members):
        found = ", ".join(sorted(_show(key) for key in item))
        raise AppAttestFormat(f"{what} has members {{{found}}}, expected exactly {{{', '.join(members)}}}")
    return item


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _key_name(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name} key"
    return type(key).__name__


def _require_aware(at: datetime) -> None:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise TypeError("at must be a timezone-aware datetime")


def _ignore(_: str) -> None:
    return None
