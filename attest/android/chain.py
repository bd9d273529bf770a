"""Certificate path validation for Android Key Attestation chains (RFC 5280 section 6.1).

The chain is what ``KeyStore.getCertificateChain()`` returns: the attested key's certificate first,
then the attestation key's certificate, intermediates (factory-provisioned, or the short-lived
"Droid CA2/CA3" of Remote Key Provisioning) and usually the root. The trust anchor is a *public key*
(RFC 5280 section 6.1.1 (d)): the chain ends at a certificate whose key is a trusted anchor key, or at
a certificate signed by one. The anchor certificate itself is not checked for validity, so a chain
ending in Google's expired 2016 root certificate is valid while the certificates below it are.

Steps, in order: parse and bound the input; check where the attestation extension is; find the
anchor; then for each certificate from the anchor down: name chaining, signature, issuer is a CA
(with path length), validity at ``at``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from attest.android.key_description import KEY_DESCRIPTION_OID
from attest.errors import (
    ChainEmpty,
    ChainExpired,
    ChainExtended,
    ChainIssuerNotCA,
    ChainMalformed,
    ChainNameChaining,
    ChainSignature,
    ChainTooLong,
    ChainUntrustedRoot,
    ExtensionDuplicate,
    ExtensionMissing,
)

#: Genuine chains have 3 (factory) to 5 (RKP) certificates; a bound stops CPU exhaustion.
MAX_CHAIN_LENGTH = 8
#: An ML-DSA-87 leaf is under 8 KiB; nothing genuine comes near this.
MAX_CERTIFICATE_SIZE = 16 * 1024

PROVISIONING_INFO_OID = "1.3.6.1.4.1.11129.2.1.30"
_KEY_DESCRIPTION = x509.ObjectIdentifier(KEY_DESCRIPTION_OID)
_PROVISIONING_INFO = x509.ObjectIdentifier(PROVISIONING_INFO_OID)


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """A trusted public key and a name to report it by (RFC 5280 section 6.1.1 (d))."""

    name: str
    public_key_der: bytes  # SubjectPublicKeyInfo, DER

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the SubjectPublicKeyInfo, hex."""
        return hashlib.sha256(self.public_key_der).hexdigest()

    def public_key(self) -> CertificatePublicKeyTypes:
        return serialization.load_der_public_key(self.public_key_der)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class TrustAnchors:
    """The set of anchor keys a chain may end at."""

    anchors: tuple[TrustAnchor, ...]

    def find(self, public_key_der: bytes) -> TrustAnchor | None:
        for anchor in self.anchors:
            if anchor.public_key_der == public_key_der:
                return anchor
        return None

    @classmethod
    def from_pem_certificates(cls, pem: bytes) -> TrustAnchors:
        """Anchors from the keys of PEM certificates (duplicates of one key are kept once)."""
        anchors: dict[bytes, TrustAnchor] = {}
        for certificate in x509.load_pem_x509_certificates(pem):
            spki = _spki(certificate)
            anchors.setdefault(spki, TrustAnchor(_describe(certificate), spki))
        return cls(tuple(anchors.values()))


@cache
def google_hardware_attestation_roots() -> TrustAnchors:
    """Google's hardware attestation root keys, bundled as package data (see roots/README.md):
    the RSA-4096 key of roots 1-4 and the ECDSA P-384 "Key Attestation CA1" key."""
    pem = b"".join(
        item.read_bytes()
        for item in sorted(resources.files("attest.android").joinpath("roots").iterdir(), key=lambda p: p.name)
        if item.name.endswith(".pem")
    )
    anchors = TrustAnchors.from_pem_certificates(pem).anchors
    return TrustAnchors(tuple(TrustAnchor(_google_root_name(a), a.public_key_der) for a in anchors))


def _google_root_name(anchor: TrustAnchor) -> str:
    key = anchor.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"Google Hardware Attestation Root (RSA-{key.key_size})"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "Google Key Attestation CA1 (ECDSA P-384)"
    return anchor.name


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    """What the result and the CLI say about one certificate of the chain."""

    index: int
    subject: str
    issuer: str
    serial_number_hex: str
    not_before: datetime
    not_after: datetime
    public_key_algorithm: str
    sha256_fingerprint: str


@dataclass(frozen=True, slots=True)
class VerifiedChain:
    """A chain that passed path validation. ``certificates`` are leaf first; when the anchor's own
    certificate was sent it is the last one (``anchor_certificate_included``)."""

    certificates: tuple[x509.Certificate, ...]
    anchor: TrustAnchor
    anchor_certificate_included: bool
    remotely_provisioned: bool

    @property
    def attested(self) -> x509.Certificate:
        return self.certificates[0]


@dataclass(frozen=True, slots=True)
class _VerifiedIntermediates:
    """What a full validation established about ``chain[1:]``; reused while ``at`` is in its window."""

    anchor: TrustAnchor
    anchor_certificate_included: bool
    remotely_provisioned: bool
    issuer_spki: bytes  # the attestation key, which signs the leaf
    issuer_name: x509.Name
    not_before: datetime  # the latest notBefore of the intermediates
    not_after: datetime  # the earliest notAfter of the intermediates


class IntermediateCache:
    """Remembers intermediates (everything above the attested certificate) that passed full path
    validation, so that the chain every device of a batch sends is validated once and only the
    attested certificate is checked per call.

    Keyed by the SHA-256 fingerprints of the intermediates and of the trust anchors; an entry is used
    only while the verification time lies inside the intermediates' joint validity window (outside it,
    full validation runs again and names the certificate that fails). Bounded (LRU) and thread-safe.
    Pass one explicitly; there is no module-level cache."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[bytes, _VerifiedIntermediates] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> _VerifiedIntermediates | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: bytes, entry: _VerifiedIntermediates) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


# --- step 0: parse ------------------------------------------------------------------------------


def parse_chain(certificates: Sequence[bytes]) -> tuple[x509.Certificate, ...]:
    """Parse DER certificates, leaf first, within the size bounds."""
    if not certificates:
        raise ChainEmpty("the certificate chain is empty")
    if len(certificates) > MAX_CHAIN_LENGTH:
        raise ChainTooLong(f"{len(certificates)} certificates; at most {MAX_CHAIN_LENGTH} are accepted")
    parsed = []
    for index, der in enumerate(certificates):
        if not isinstance(der, bytes | bytearray):
            raise ChainMalformed(f"certificate {index} is not bytes")
        if len(der) > MAX_CERTIFICATE_SIZE:
            raise ChainTooLong(f"certificate {index} is {len(der)} bytes; at most {MAX_CERTIFICATE_SIZE}")
        try:
            certificate = x509.load_der_x509_certificate(bytes(der))
            # Names are parsed on first access: read them now, so that their errors are typed here.
            certificate.subject  # noqa: B018
            certificate.issuer  # noqa: B018
        except (ValueError, TypeError, x509.InvalidVersion) as exc:
            raise ChainMalformed(f"certificate {index} is not a valid DER X.509 certificate: {exc}") from exc
        parsed.append(certificate)
    return tuple(parsed)


def extensions_of(certificate: x509.Certificate, index: int) -> x509.Extensions:
    """The certificate's extensions (parsed on first access); an unreadable set is ``chain.malformed``,
    the attestation extension twice ``extension.duplicate``."""
    try:
        return certificate.extensions
    except x509.DuplicateExtension as exc:
        if exc.oid == _KEY_DESCRIPTION:
            raise ExtensionDuplicate(f"certificate {index} carries the attestation extension twice") from exc
        raise ChainMalformed(f"certificate {index} repeats extension {exc.oid.dotted_string}") from exc
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.UnsupportedGeneralNameType) as exc:
        # cryptography raises TypeError for some malformed names (a BIT STRING attribute value).
        raise ChainMalformed(f"certificate {index} has unreadable extensions: {exc}") from exc


# --- step 1: where the attestation extension may be ---------------------------------------------


def check_extension_placement(chain: Sequence[x509.Certificate]) -> None:
    """Only the first certificate may carry the attestation extension (Google: "Only the target
    certificate should contain an attestation extension")."""
    carriers = [index for index, cert in enumerate(chain) if _has_extension(cert, index, _KEY_DESCRIPTION)]
    if 1 in carriers:
        raise ChainExtended(
            f"certificate 0 ({_describe(chain[0])}) was issued by an attested key (certificate 1): "
            "a certificate below the attested key is not part of a genuine chain"
        )
    others = [index for index in carriers if index != 0]
    if others:
        raise ExtensionDuplicate(f"certificate {others[0]} carries an attestation extension; only the attested one may")
    if not carriers:
        raise ExtensionMissing(f"certificate 0 ({_describe(chain[0])}) carries no attestation extension")


# --- step 2: the anchor -------------------------------------------------------------------------


def find_anchor(chain: Sequence[x509.Certificate], anchors: TrustAnchors) -> tuple[TrustAnchor, bool]:
    """The anchor the chain ends at, and whether the anchor's own certificate is the last one."""
    last = chain[-1]
    anchor = anchors.find(_spki(last))
    if anchor is not None and len(chain) > 1:
        return anchor, True
    for candidate in anchors.anchors:
        if _signature_verifies(last, candidate.public_key_der):
            return candidate, False
    raise ChainUntrustedRoot(
        f"certificate {len(chain) - 1} ({_describe(last)}, issuer {last.issuer.rfc4514_string()}) "
        "does not chain to a trusted attestation root key"
    )


# --- step 3: the path ---------------------------------------------------------------------------


def verify_chain(
    chain: Sequence[x509.Certificate],
    anchors: TrustAnchors,
    *,
    at: datetime,
    not_before_leeway: timedelta = timedelta(0),
    cache: IntermediateCache | None = None,
    encoded: Sequence[bytes] | None = None,
) -> VerifiedChain:
    """Validate ``chain`` (leaf first) against ``anchors`` at time ``at`` (RFC 5280 section 6.1).

    With a ``cache``, intermediates validated before are not validated again; ``encoded`` (the DER the
    chain was parsed from) spares re-encoding them for the cache key."""
    key = _cache_key(chain, anchors, encoded) if cache is not None and len(chain) > 1 else None
    known = cache.get(key) if cache is not None and key is not None else None
    if known is not None and known.not_before - not_before_leeway <= at <= known.not_after:
        # The intermediates carry no attestation extension (checked when they were cached).
        if not _has_extension(chain[0], 0, _KEY_DESCRIPTION):
            raise ExtensionMissing(f"certificate 0 ({_describe(chain[0])}) carries no attestation extension")
        _check_certificate(chain[0], 0, known.issuer_spki, known.issuer_name, at, not_before_leeway)
        return VerifiedChain(tuple(chain), known.anchor, known.anchor_certificate_included, known.remotely_provisioned)

    check_extension_placement(chain)

    anchor, included = find_anchor(chain, anchors)
    path = chain[:-1] if included else chain
    issuer_key = anchor.public_key_der
    issuer_name = chain[-1].subject if included else None
    # From the anchor down to the attested certificate (RFC 5280 section 6.1.3).
    for index in range(len(path) - 1, -1, -1):
        certificate = path[index]
        if index > 0:
            check_is_ca(certificate, index, intermediates_below=index - 1)
        _check_certificate(certificate, index, issuer_key, issuer_name, at, not_before_leeway)
        issuer_key = _spki(certificate)
        issuer_name = certificate.subject
    verified = VerifiedChain(
        certificates=tuple(chain),
        anchor=anchor,
        anchor_certificate_included=included,
        remotely_provisioned=any(_has_extension(cert, index, _PROVISIONING_INFO) for index, cert in enumerate(chain)),
    )
    if cache is not None and key is not None and len(path) > 1:
        intermediates = path[1:]
        cache.put(
            key,
            _VerifiedIntermediates(
                anchor=anchor,
                anchor_certificate_included=included,
                remotely_provisioned=verified.remotely_provisioned,
                issuer_spki=_spki(chain[1]),
                issuer_name=chain[1].subject,
                not_before=max(cert.not_valid_before_utc for cert in intermediates),
                not_after=min(cert.not_valid_after_utc for cert in intermediates),
            ),
        )
    return verified


def _check_certificate(
    certificate: x509.Certificate,
    index: int,
    issuer_spki: bytes,
    issuer_name: x509.Name | None,
    at: datetime,
    not_before_leeway: timedelta,
) -> None:
    """Name chaining, signature and validity of one certificate (RFC 5280 section 6.1.3 (a))."""
    if issuer_name is not None:
        check_name_chaining(certificate, issuer_name, index)
    if not _signature_verifies(certificate, issuer_spki):
        raise ChainSignature(f"certificate {index} ({_describe(certificate)}) is not signed by its issuer's key")
    check_validity(certificate, index, at=at, not_before_leeway=not_before_leeway)


def _cache_key(chain: Sequence[x509.Certificate], anchors: TrustAnchors, encoded: Sequence[bytes] | None) -> bytes:
    digest = hashlib.sha256()
    for anchor in anchors.anchors:
        digest.update(hashlib.sha256(anchor.public_key_der).digest())
    if encoded is None or len(encoded) != len(chain):
        encoded = [certificate.public_bytes(serialization.Encoding.DER) for certificate in chain]
    for der in encoded[1:]:
        digest.update(hashlib.sha256(der).digest())
    return digest.digest()


def check_name_chaining(certificate: x509.Certificate, issuer_name: x509.Name, index: int) -> None:
    """RFC 5280 section 6.1.3 (a)(4): the issuer name is the issuer's subject name."""
    if certificate.issuer == issuer_name or _normalized(certificate.issuer) == _normalized(issuer_name):
        return
    raise ChainNameChaining(
        f"certificate {index} names issuer {certificate.issuer.rfc4514_string()!r}, "
        f"but the next certificate is {issuer_name.rfc4514_string()!r}"
    )


def check_is_ca(certificate: x509.Certificate, index: int, *, intermediates_below: int) -> None:
    """RFC 5280 section 6.1.4 (k), (l), (n): an issuer has basicConstraints cA, keyCertSign when
    keyUsage is present, and a pathLenConstraint that admits the certificates below it."""
    try:
        constraints = extensions_of(certificate, index).get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise ChainIssuerNotCA(
            f"certificate {index} ({_describe(certificate)}) issues certificates but has no basicConstraints"
        ) from None
    if not constraints.ca:
        raise ChainIssuerNotCA(f"certificate {index} ({_describe(certificate)}) issues certificates but is not a CA")
    if constraints.path_length is not None and intermediates_below > constraints.path_length:
        raise ChainIssuerNotCA(
            f"certificate {index} ({_describe(certificate)}) allows {constraints.path_length} intermediates "
            f"below it; the chain has {intermediates_below}"
        )
    try:
        usage = extensions_of(certificate, index).get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_cert_sign:
        raise ChainIssuerNotCA(f"certificate {index} ({_describe(certificate)}) lacks keyUsage keyCertSign")


def check_validity(certificate: x509.Certificate, index: int, *, at: datetime, not_before_leeway: timedelta) -> None:
    """RFC 5280 section 6.1.3 (a)(2): ``at`` lies in the certificate's validity period."""
    if at < certificate.not_valid_before_utc - not_before_leeway:
        raise ChainExpired(
            f"certificate {index} ({_describe(certificate)}) is not valid before "
            f"{certificate.not_valid_before_utc.isoformat()} (checked at {at.isoformat()})"
        )
    if at > certificate.not_valid_after_utc:
        raise ChainExpired(
            f"certificate {index} ({_describe(certificate)}) expired at "
            f"{certificate.not_valid_after_utc.isoformat()} (checked at {at.isoformat()})"
        )


# --- summaries ----------------------------------------------------------------------------------


def summarize(chain: Sequence[x509.Certificate]) -> tuple[CertificateSummary, ...]:
    return tuple(
        CertificateSummary(
            index=index,
            subject=certificate.subject.rfc4514_string(),
            issuer=certificate.issuer.rfc4514_string(),
            serial_number_hex=serial_hex(certificate),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            public_key_algorithm=_key_algorithm_name(certificate),
            sha256_fingerprint=hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest(),
        )
        for index, certificate in enumerate(chain)
    )


def serial_hex(certificate: x509.Certificate) -> str:
    """The serial number in lowercase hex, as Google's status list keys it."""
    return format(certificate.serial_number, "x")


# --- internals ----------------------------------------------------------------------------------


def public_key_of(certificate: x509.Certificate) -> CertificatePublicKeyTypes:
    """The certificate's public key; an unreadable one is ``chain.malformed``."""
    try:
        return certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ChainMalformed(f"the public key of {_describe(certificate)} cannot be read: {exc}") from exc


def _spki(certificate: x509.Certificate) -> bytes:
    return public_key_of(certificate).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _has_extension(certificate: x509.Certificate, index: int, oid: x509.ObjectIdentifier) -> bool:
    return any(extension.oid == oid for extension in extensions_of(certificate, index))


def _describe(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string() or f"serial {serial_hex(certificate)}"


def _normalized(name: x509.Name) -> str:
    return " ".join(name.rfc4514_string().casefold().split())


def _key_algorithm_name(certificate: x509.Certificate) -> str:
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    return type(key).__name__.removesuffix("PublicKey")


def _signature_verifies(certificate: x509.Certificate, issuer_spki: bytes) -> bool:
    """Does ``certificate``'s signature verify with the key ``issuer_spki``?"""
    try:
        _verify_signature(certificate, serialization.load_der_public_key(issuer_spki))
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _verify_signature(certificate: x509.Certificate, key: object) -> None:
    signature, tbs = certificate.signature, certificate.tbs_certificate_bytes
    hash_algorithm = certificate.signature_hash_algorithm
    if isinstance(key, ec.EllipticCurvePublicKey):
        if hash_algorithm is None:
            raise InvalidSignature
        key.verify(signature, tbs, ec.ECDSA(hash_algorithm))
    elif isinstance(key, rsa.RSAPublicKey):
        parameters = certificate.signature_algorithm_parameters
        if hash_algorithm is None or not isinstance(parameters, padding.PKCS1v15 | padding.PSS):
            raise InvalidSignature
        key.verify(signature, tbs, parameters, hash_algorithm)
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        key.verify(signature, tbs)
    else:
        raise InvalidSignature
