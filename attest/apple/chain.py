"""Certificate path validation for App Attest's ``x5c`` and the receipt's signing chain (RFC 5280 section 6.1).

Both Apple chains are short and ECDSA throughout: credential certificate <- "Apple App Attestation CA 1"
<- Apple App Attestation Root CA, and receipt signer <- "Apple Application Integration CA 5 - G1" <-
Apple Root CA - G3. A trust anchor is a *public key* and a name (RFC 5280 section 6.1.1 (d)), compared as
the DER SubjectPublicKeyInfo; the anchor certificate's own validity is not checked, and a sender may
include it or not.

For each certificate from the leaf up: validity at ``at``, no unhandled critical extension, name chaining,
signature by the next certificate's key (ECDSA with SHA-2 only), and every issuer a CA (basicConstraints,
keyUsage keyCertSign, path length). An :class:`IntermediateCache` passed by the caller remembers
intermediates already verified up to an anchor, so that a server checks the one intermediate every
device sends once instead of on every attestation.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from attest.errors import (
    ChainExpired,
    ChainIssuerNotCA,
    ChainMalformed,
    ChainNameChaining,
    ChainSignature,
    ChainUntrustedRoot,
    ConfigurationError,
)

#: No genuine Apple certificate comes near this; it bounds parsing work per certificate.
MAX_CERTIFICATE_SIZE = 16 * 1024

#: The only signature algorithms in Apple's App Attest and receipt chains (and a SHA-512 sibling).
_ECDSA_HASHES: Mapping[x509.ObjectIdentifier, hashes.HashAlgorithm] = MappingProxyType(
    {
        SignatureAlgorithmOID.ECDSA_WITH_SHA256: hashes.SHA256(),
        SignatureAlgorithmOID.ECDSA_WITH_SHA384: hashes.SHA384(),
        SignatureAlgorithmOID.ECDSA_WITH_SHA512: hashes.SHA512(),
    }
)

#: Critical extensions this validator processes; any other critical extension rejects the certificate
#: (RFC 5280 section 4.2).
_HANDLED_CRITICAL = frozenset({ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE})

#: What cryptography raises for a certificate it cannot parse (some parts are parsed on first access).
CERTIFICATE_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension, x509.InvalidVersion)


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """A trusted ECDSA public key with the subject name it issues under (RFC 5280 section 6.1.1 (d))."""

    name: str
    subject: x509.Name = field(repr=False)
    #: SubjectPublicKeyInfo, DER: what identifies the anchor.
    public_key_der: bytes = field(repr=False)
    public_key: ec.EllipticCurvePublicKey = field(repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the SubjectPublicKeyInfo, hex."""
        return hashlib.sha256(self.public_key_der).hexdigest()

    @classmethod
    def from_certificate(cls, certificate: x509.Certificate) -> TrustAnchor:
        key = certificate.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ConfigurationError(f"trust anchor {describe(certificate)} has no ECDSA key")
        return cls(describe(certificate), certificate.subject, _spki(key), key)

    @classmethod
    def from_pem(cls, pem: bytes) -> tuple[TrustAnchor, ...]:
        """One anchor per PEM certificate (a key that appears twice is kept once)."""
        try:
            certificates = x509.load_pem_x509_certificates(pem)
        except ValueError as exc:
            raise ConfigurationError(f"trust anchors are not PEM certificates: {exc}") from exc
        anchors: dict[bytes, TrustAnchor] = {}
        for certificate in certificates:
            anchor = cls.from_certificate(certificate)
            anchors.setdefault(anchor.public_key_der, anchor)
        return tuple(anchors.values())


@dataclass(frozen=True, slots=True)
class VerifiedPath:
    """A certificate path that validated: its leaf, and the anchor it ends at. ``cached`` says the
    leaf's issuer was taken from an :class:`IntermediateCache` (already verified up to ``anchor``)."""

    leaf: x509.Certificate
    anchor: TrustAnchor
    cached: bool


@dataclass(frozen=True, slots=True)
class _VerifiedIssuer:
    subject: x509.Name
    public_key: ec.EllipticCurvePublicKey
    anchor: TrustAnchor
    # The intersection of the validity windows of this certificate and those above it.
    not_before: datetime
    not_after: datetime
    # How many intermediates may still sit below this certificate (None: unbounded).
    depth_allowance: int | None
    # The certificates that followed it when it was verified: a hit needs the same ones, so that the
    # verdict never depends on whether the cache was warm.
    tail: tuple[bytes, ...]


class IntermediateCache:
    """Intermediates already verified up to a trust anchor, keyed by the SHA-256 of their DER.

    An entry is used only for a caller whose anchors include the one the intermediate was verified
    against, only while the verification time lies inside the validity windows of the intermediate
    and of every certificate above it, and only when the same certificates follow it; otherwise the
    full path is checked again.
    Bounded (least recently used is dropped) and safe to share between threads. Nothing is cached
    unless the caller passes one."""

    def __init__(self, max_entries: int = 16) -> None:
        if max_entries < 1:
            raise ConfigurationError("an intermediate cache needs room for at least one entry")
        self._max_entries = max_entries
        self._entries: OrderedDict[bytes, _VerifiedIssuer] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _get(self, der: bytes, anchors: Sequence[TrustAnchor], at: datetime) -> _VerifiedIssuer | None:
        key = hashlib.sha256(der).digest()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
        if not entry.not_before <= at <= entry.not_after:
            return None
        if not any(anchor.public_key_der == entry.anchor.public_key_der for anchor in anchors):
            return None
        return entry

    def _put(self, der: bytes, entry: _VerifiedIssuer) -> None:
        key = hashlib.sha256(der).digest()
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)


def verify_path(
    certificates: Sequence[bytes],
    anchors: Sequence[TrustAnchor],
    *,
    at: datetime,
    cache: IntermediateCache | None = None,
) -> VerifiedPath:
    """Validate ``certificates`` (DER, leaf first, optionally ending with the anchor's certificate)
    up to one of ``anchors`` at time ``at``. The caller bounds the number of certificates."""
    leaf = parse_certificate(certificates[0], 0)
    check_validity(leaf, 0, at)
    check_critical_extensions(leaf, 0)
    child, child_index = leaf, 0
    verified: list[tuple[int, x509.Certificate, ec.EllipticCurvePublicKey]] = []
    anchor: TrustAnchor | None = None
    for index in range(1, len(certificates)):
        der = certificates[index]
        hit = cache._get(der, anchors, at) if cache is not None else None
        if hit is not None and hit.tail == tuple(certificates[index + 1 :]):
            if hit.depth_allowance is not None and index - 1 > hit.depth_allowance:
                raise ChainIssuerNotCA(f"certificate {index} allows fewer intermediates below it")
            check_name_chaining(child, child_index, hit.subject)
            verify_signed_by(child, child_index, hit.public_key)
            return VerifiedPath(leaf, hit.anchor, cached=True)
        issuer = parse_certificate(der, index)
        issuer_key = _public_key(issuer, index)
        issuer_subject = subject_of(issuer, index)
        anchor = _anchor_with_key(anchors, issuer_key)
        if anchor is not None:
            # The sender included the anchor's certificate: only its key counts.
            if index != len(certificates) - 1:
                raise ChainMalformed(f"certificates follow the trust anchor's certificate at {index}")
            check_name_chaining(child, child_index, issuer_subject)
            verify_signed_by(child, child_index, anchor.public_key)
            break
        check_is_ca(issuer, index, intermediates_below=index - 1)
        check_validity(issuer, index, at)
        check_critical_extensions(issuer, index)
        check_name_chaining(child, child_index, issuer_subject)
        verify_signed_by(child, child_index, issuer_key)
        verified.append((index, issuer, issuer_key))
        child, child_index = issuer, index
    else:
        anchor = _anchor_for(child, child_index, anchors)
    if cache is not None:
        _remember(cache, certificates, verified, anchor)
    return VerifiedPath(leaf, anchor, cached=False)


def _anchor_for(certificate: x509.Certificate, index: int, anchors: Sequence[TrustAnchor]) -> TrustAnchor:
    """The anchor whose key signed the top certificate of the path."""
    named = [anchor for anchor in anchors if anchor.subject == certificate.issuer]
    if not named:
        raise ChainUntrustedRoot(
            f"certificate {index} ({describe(certificate)}) is issued by "
            f"{certificate.issuer.rfc4514_string()!r}, not by a trusted root "
            f"({', '.join(anchor.name for anchor in anchors)})"
        )
    last_error: ChainSignature | None = None
    for anchor in named:
        try:
            verify_signed_by(certificate, index, anchor.public_key)
        except ChainSignature as exc:
            last_error = exc
        else:
            return anchor
    assert last_error is not None
    raise ChainSignature(f"{last_error.message}, the key of trusted root {named[0].name}")


def _remember(
    cache: IntermediateCache,
    certificates: Sequence[bytes],
    verified: list[tuple[int, x509.Certificate, ec.EllipticCurvePublicKey]],
    anchor: TrustAnchor,
) -> None:
    not_before: datetime | None = None
    not_after: datetime | None = None
    allowance: int | None = None
    # From the top of the path down, so each entry carries the constraints of those above it.
    for index, certificate, key in reversed(verified):
        start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        not_before = start if not_before is None else max(not_before, start)
        not_after = end if not_after is None else min(not_after, end)
        allowance = None if allowance is None else allowance - 1
        own = _basic_constraints(certificate)
        if own is not None and own.path_length is not None:
            allowance = own.path_length if allowance is None else min(allowance, own.path_length)
        tail = tuple(certificates[index + 1 :])
        entry = _VerifiedIssuer(certificate.subject, key, anchor, not_before, not_after, allowance, tail)
        cache._put(certificates[index], entry)


# --- the checks, one certificate at a time ----------------------------------------------------


def parse_certificate(der: bytes, index: int) -> x509.Certificate:
    """One DER X.509 certificate, size-bounded."""
    if len(der) > MAX_CERTIFICATE_SIZE:
        raise ChainMalformed(f"certificate {index} is {len(der)} bytes, more than {MAX_CERTIFICATE_SIZE}")
    try:
        certificate = x509.load_der_x509_certificate(der)
        # cryptography parses these lazily; read them here so that no later access can fail. (The
        # subject, costly to build, is read through subject_of.)
        _ = (certificate.issuer, certificate.signature_algorithm_oid)
        _ = (certificate.not_valid_before_utc, certificate.not_valid_after_utc)
    except CERTIFICATE_ERRORS as exc:
        raise ChainMalformed(f"certificate {index} is not DER X.509: {exc}") from None
    return certificate


def check_validity(certificate: x509.Certificate, index: int, at: datetime) -> None:
    """The certificate is inside its validity window at ``at`` (RFC 5280 section 6.1.3 (a)(2))."""
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if not not_before <= at <= not_after:
        raise ChainExpired(
            f"certificate {index} ({describe(certificate)}) is valid {not_before.isoformat()} .. "
            f"{not_after.isoformat()}, not at {at.isoformat()}"
        )


def check_critical_extensions(certificate: x509.Certificate, index: int) -> None:
    """No critical extension this validator does not process (RFC 5280 section 4.2)."""
    for extension in extensions_of(certificate, index):
        if extension.critical and extension.oid not in _HANDLED_CRITICAL:
            raise ChainMalformed(
                f"certificate {index} ({describe(certificate)}) has an unhandled critical extension "
                f"{extension.oid.dotted_string}"
            )


def check_name_chaining(certificate: x509.Certificate, index: int, issuer_subject: x509.Name) -> None:
    """The certificate's issuer is its issuer's subject (RFC 5280 section 6.1.3 (a)(4))."""
    if certificate.issuer != issuer_subject:
        raise ChainNameChaining(
            f"certificate {index} names issuer {certificate.issuer.rfc4514_string()!r}, but the next "
            f"certificate is {issuer_subject.rfc4514_string()!r}"
        )


def verify_signed_by(certificate: x509.Certificate, index: int, key: ec.EllipticCurvePublicKey) -> None:
    """The certificate's signature verifies with ``key`` (ECDSA with SHA-256/384/512 only)."""
    algorithm = _ECDSA_HASHES.get(certificate.signature_algorithm_oid)
    if algorithm is None:
        raise ChainSignature(
            f"certificate {index} is signed with {certificate.signature_algorithm_oid.dotted_string}, "
            "not ECDSA with SHA-2"
        )
    try:
        key.verify(certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(algorithm))
    except InvalidSignature:
        raise ChainSignature(
            f"the signature of certificate {index} ({describe(certificate)}) does not verify"
        ) from None


def check_is_ca(certificate: x509.Certificate, index: int, *, intermediates_below: int) -> None:
    """An issuer is a CA: basicConstraints cA, keyUsage keyCertSign when present, path length
    (RFC 5280 section 6.1.4 (k), (l), (n))."""
    constraints = _basic_constraints(certificate, index)
    if constraints is None or not constraints.ca:
        raise ChainIssuerNotCA(f"certificate {index} ({describe(certificate)}) issues a certificate but is not a CA")
    if constraints.path_length is not None and intermediates_below > constraints.path_length:
        raise ChainIssuerNotCA(
            f"certificate {index} ({describe(certificate)}) allows {constraints.path_length} intermediates "
            f"below it, the chain has {intermediates_below}"
        )
    try:
        usage = extensions_of(certificate, index).get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_cert_sign:
        raise ChainIssuerNotCA(f"certificate {index} ({describe(certificate)}) lacks keyUsage keyCertSign")


def extensions_of(certificate: x509.Certificate, index: int) -> x509.Extensions:
    """The certificate's extensions; an unparseable or repeated extension is malformed (RFC 5280
    section 4.2: "MUST NOT include more than one instance of a particular extension")."""
    try:
        return certificate.extensions
    except CERTIFICATE_ERRORS as exc:
        raise ChainMalformed(f"certificate {index} has malformed extensions: {exc}") from exc


def subject_of(certificate: x509.Certificate, index: int) -> x509.Name:
    """The certificate's subject name (parsed on first use, so it may still be malformed)."""
    try:
        return certificate.subject
    except CERTIFICATE_ERRORS as exc:
        raise ChainMalformed(f"certificate {index} has a malformed subject: {exc}") from None


def describe(certificate: x509.Certificate) -> str:
    """The certificate's common name, or its whole subject."""
    try:
        names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if names:
            return str(names[0].value)
        return certificate.subject.rfc4514_string() or "(empty subject)"
    except CERTIFICATE_ERRORS:
        return "(unreadable subject)"


def ec_public_key(certificate: x509.Certificate, index: int) -> ec.EllipticCurvePublicKey:
    """The certificate's public key, which must be ECDSA."""
    return _public_key(certificate, index)


def spki_der(key: ec.EllipticCurvePublicKey) -> bytes:
    """SubjectPublicKeyInfo, DER."""
    return _spki(key)


def _public_key(certificate: x509.Certificate, index: int) -> ec.EllipticCurvePublicKey:
    try:
        key = certificate.public_key()
    except CERTIFICATE_ERRORS as exc:
        raise ChainMalformed(f"certificate {index} has an unreadable public key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ChainSignature(f"certificate {index} ({describe(certificate)}) has a {type(key).__name__}, not ECDSA")
    return key


def _basic_constraints(certificate: x509.Certificate, index: int = 0) -> x509.BasicConstraints | None:
    try:
        return extensions_of(certificate, index).get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _anchor_with_key(anchors: Sequence[TrustAnchor], key: ec.EllipticCurvePublicKey) -> TrustAnchor | None:
    spki = _spki(key)
    for anchor in anchors:
        if anchor.public_key_der == spki:
            return anchor
    return None


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
