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

An :class:`IntermediateCache` remembers every run of certificates above the attested one that passed
these steps ("suffixes": ``chain[k:]`` for k >= 1). A chain whose suffix is known is looked up by its
DER before anything is parsed; only the certificates below the suffix are parsed and put through the
same steps, against the remembered issuer key and name. The shared Droid CA2/CA3 of Remote Key
Provisioning are thus validated once per process, and a device seen before costs one signature.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from attest.android.key_description import KEY_DESCRIPTION_OID
from attest.der import DerError, read_header
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
    #: SHA-256 of the SubjectPublicKeyInfo, hex.
    fingerprint: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", hashlib.sha256(self.public_key_der).hexdigest())

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
    certificate was sent it is the last one (``anchor_certificate_included``). ``serials_hex`` are
    their serial numbers as the status list keys them (computed when not given)."""

    certificates: tuple[x509.Certificate, ...]
    anchor: TrustAnchor
    anchor_certificate_included: bool
    remotely_provisioned: bool
    serials_hex: tuple[str, ...] = field(default=(), repr=False, compare=False)
    #: The attested certificate's public key, as read once during validation (read here when not given).
    attested_key: CertificatePublicKeyTypes | None = field(default=None, repr=False, compare=False)
    #: Its SubjectPublicKeyInfo as encoded in the certificate, when validation located it (else None).
    attested_spki: bytes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.serials_hex) != len(self.certificates):
            object.__setattr__(self, "serials_hex", tuple(serial_hex(cert) for cert in self.certificates))
        if self.attested_key is None:
            object.__setattr__(self, "attested_key", public_key_of(self.certificates[0]))

    @property
    def attested(self) -> x509.Certificate:
        return self.certificates[0]

    @property
    def attested_public_key(self) -> CertificatePublicKeyTypes:
        key = self.attested_key
        assert key is not None  # always set by __post_init__
        return key


@dataclass(frozen=True, slots=True)
class _VerifiedSuffix:
    """What a full validation established about ``chain[k:]`` (k >= 1, ``chain[k]`` below the anchor):
    reused for a chain ending in the same DER, with the same anchors, while ``at`` is in its window."""

    anchors: TrustAnchors
    certificates: tuple[x509.Certificate, ...]  # chain[k:], parsed
    serials_hex: tuple[str, ...]
    subject: x509.Name  # of chain[k]: the name chain[k - 1] must be issued by
    subject_der: bytes | None  # the same name as encoded in chain[k] (None if it could not be located)
    public_key: CertificatePublicKeyTypes  # of chain[k]: the key chain[k - 1] must be signed by
    anchor: TrustAnchor
    anchor_certificate_included: bool
    remotely_provisioned: bool
    not_before: datetime  # the latest notBefore of the suffix's certificates below the anchor
    not_after: datetime  # the earliest notAfter of those
    #: The largest index chain[k] may have so that every pathLenConstraint of the suffix admits the
    #: certificates below it (RFC 5280 section 6.1.4 (m)); None: unconstrained.
    max_index: int | None

    def usable(self, anchors: TrustAnchors, index: int, at: datetime, not_before_leeway: timedelta) -> bool:
        """Would full validation of the suffix pass again, at ``index`` of a chain, at time ``at``?"""
        return (
            (self.anchors is anchors or self.anchors == anchors)
            and self.not_before - not_before_leeway <= at <= self.not_after
            and (self.max_index is None or index <= self.max_index)
        )


#: How many attested certificates' subject names an :class:`IntermediateCache` remembers as read.
_MAX_NAMES = 256


class IntermediateCache:
    """Remembers the certificates above the attested one that passed full path validation, so that
    the chain every device of a batch sends is validated once and only the attested certificate is
    checked per call.

    An entry is a suffix of a chain (``chain[k:]``, k >= 1), keyed by the suffix's DER: a chain is
    matched on its longest known suffix, so that intermediates shared by many devices (RKP's Droid
    CA2/CA3) are validated once for all of them. An entry is used only with the trust anchors it was
    validated against, only while the verification time lies inside the validity windows of its
    certificates (outside them, full validation runs again and names the certificate that fails), and
    only where its path length constraints admit the certificates below it. Revocation is not cached:
    the status list is consulted on every call. Bounded (LRU) and thread-safe. Pass one explicitly;
    there is no module-level cache."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[bytes, ...], _VerifiedSuffix] = OrderedDict()
        self._names: dict[bytes, None] = {}
        self._lock = threading.Lock()

    def has_read_name(self, name_der: bytes) -> bool:
        """Was a certificate name with exactly these bytes read without error before? (Reading one is a
        pure function of its bytes; attested certificates of one device share their subject.)"""
        return name_der in self._names

    def remember_name(self, name_der: bytes) -> None:
        with self._lock:
            if len(self._names) >= _MAX_NAMES:
                self._names.pop(next(iter(self._names)))  # the earliest read
            self._names[name_der] = None

    def get(self, key: tuple[bytes, ...]) -> _VerifiedSuffix | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[bytes, ...], entry: _VerifiedSuffix) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._names.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def longest_known_suffix(
        self, certificates: Sequence[bytes], anchors: TrustAnchors, *, at: datetime, not_before_leeway: timedelta
    ) -> tuple[int, _VerifiedSuffix] | None:
        """The smallest k >= 1 such that ``certificates[k:]`` is a usable entry, with the entry. None
        for a chain that parsing rejects by its length alone (that error comes first)."""
        if not 1 < len(certificates) <= MAX_CHAIN_LENGTH:
            return None
        for index in range(1, len(certificates)):
            try:
                entry = self.get(tuple(certificates[index:]))
            except TypeError:  # an unhashable item: not a certificate any entry was made from
                return None
            if entry is not None and entry.usable(anchors, index, at, not_before_leeway):
                return index, entry
        return None


# --- step 0: parse ------------------------------------------------------------------------------


def parse_chain(certificates: Sequence[bytes]) -> tuple[x509.Certificate, ...]:
    """Parse DER certificates, leaf first, within the size bounds."""
    if not certificates:
        raise ChainEmpty("the certificate chain is empty")
    if len(certificates) > MAX_CHAIN_LENGTH:
        raise ChainTooLong(f"{len(certificates)} certificates; at most {MAX_CHAIN_LENGTH} are accepted")
    return tuple(parse_certificate(der, index) for index, der in enumerate(certificates))


def parse_certificate(
    der: bytes, index: int, *, read_issuer: bool = True, read_subject: bool = True
) -> x509.Certificate:
    """Parse one DER certificate within the size bound, names included (``read_issuer=False``,
    ``read_subject=False``: the caller knows that name's bytes to be those of a name that was read
    before, so reading it could not fail)."""
    if not isinstance(der, bytes | bytearray):
        raise ChainMalformed(f"certificate {index} is not bytes")
    if len(der) > MAX_CERTIFICATE_SIZE:
        raise ChainTooLong(f"certificate {index} is {len(der)} bytes; at most {MAX_CERTIFICATE_SIZE}")
    try:
        certificate = x509.load_der_x509_certificate(bytes(der))
        # Names are parsed on first access: read them now, so that their errors are typed here.
        if read_subject:
            certificate.subject  # noqa: B018
        if read_issuer:
            certificate.issuer  # noqa: B018
    except (ValueError, TypeError, x509.InvalidVersion) as exc:
        raise ChainMalformed(f"certificate {index} is not a valid DER X.509 certificate: {exc}") from exc
    return certificate


class EncodedFields(NamedTuple):
    """Fields of a DER certificate's tbsCertificate exactly as encoded (RFC 5280 section 4.1)."""

    issuer: bytes
    subject: bytes
    subject_public_key_info: bytes


def encoded_fields(der: bytes) -> EncodedFields | None:
    """The issuer, subject and SubjectPublicKeyInfo of a DER certificate as encoded, found by walking
    the headers of tbsCertificate (serialNumber, signature, issuer, validity, subject, ... after the
    optional version); None if the bytes have another shape."""
    spans: list[tuple[int, int]] = []
    try:
        _, _, start, end = read_header(der, 0, len(der))  # Certificate
        _, _, offset, end = read_header(der, start, end)  # tbsCertificate
        if der[offset] == 0xA0:  # version [0] EXPLICIT
            offset = read_header(der, offset, end)[3]
        for _ in range(6):
            after = read_header(der, offset, end)[3]
            spans.append((offset, after))
            offset = after
    except (DerError, IndexError):
        return None
    return EncodedFields(*(der[start:end] for start, end in (spans[2], spans[4], spans[5])))


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


def verify_encoded_chain(
    certificates: Sequence[bytes],
    anchors: TrustAnchors,
    *,
    at: datetime,
    not_before_leeway: timedelta = timedelta(0),
    cache: IntermediateCache | None = None,
) -> VerifiedChain:
    """Parse and validate DER ``certificates`` (leaf first) against ``anchors`` at time ``at``
    (RFC 5280 section 6.1). With a ``cache``, the longest run of certificates above the leaf that was
    validated before is neither parsed nor validated again; the verdict is the same as without it."""
    known = (
        cache.longest_known_suffix(certificates, anchors, at=at, not_before_leeway=not_before_leeway)
        if cache is not None
        else None
    )
    if cache is None or known is None:
        chain = parse_chain(certificates)
        remember = cache if cache is not None and _cacheable(certificates) else None
        return _verify_and_remember(chain, certificates, anchors, at, not_before_leeway, remember)
    index, suffix = known
    below, chained, attested_spki = _parse_below(certificates, index, suffix, cache)
    return _verify_below_suffix(
        below, suffix, certificates, at, not_before_leeway, cache, chained=chained, attested_spki=attested_spki
    )


def verify_chain(
    chain: Sequence[x509.Certificate],
    anchors: TrustAnchors,
    *,
    at: datetime,
    not_before_leeway: timedelta = timedelta(0),
    cache: IntermediateCache | None = None,
    encoded: Sequence[bytes] | None = None,
) -> VerifiedChain:
    """Validate parsed ``chain`` (leaf first) against ``anchors`` at time ``at`` (RFC 5280 section 6.1).

    With a ``cache``, intermediates validated before are not validated again; ``encoded`` (the DER the
    chain was parsed from) spares re-encoding them for the cache key."""
    if cache is None:
        encoded = ()
    elif encoded is None or len(encoded) != len(chain):
        encoded = [certificate.public_bytes(serialization.Encoding.DER) for certificate in chain]
    known = (
        cache.longest_known_suffix(encoded, anchors, at=at, not_before_leeway=not_before_leeway)
        if cache is not None
        else None
    )
    if cache is None or known is None:
        remember = cache if cache is not None and _cacheable(encoded) else None
        return _verify_and_remember(chain, encoded, anchors, at, not_before_leeway, remember)
    index, suffix = known
    return _verify_below_suffix(tuple(chain[:index]), suffix, encoded, at, not_before_leeway, cache, chained=False)


def _parse_below(
    certificates: Sequence[bytes], index: int, suffix: _VerifiedSuffix, cache: IntermediateCache
) -> tuple[tuple[x509.Certificate, ...], bool, bytes | None]:
    """Parse ``certificates[:index]``, under a known suffix, as :func:`parse_chain` would. The issuer
    name of the top one is not read when its bytes are those of the suffix's subject: then it reads
    the same and chains (RFC 5280 section 6.1.3 (a)(4)), which the second value says. When the top one
    is the attested certificate, its subject is not read when the cache has read those bytes before
    (the keys of a device share one), and the third value is its SubjectPublicKeyInfo as encoded."""
    below = [parse_certificate(der, position) for position, der in enumerate(certificates[: index - 1])]
    top = certificates[index - 1]
    fields = encoded_fields(top) if type(top) is bytes else None
    if fields is None:
        below.append(parse_certificate(top, index - 1))
        return tuple(below), False, None
    chained = suffix.subject_der is not None and fields.issuer == suffix.subject_der
    attested = index == 1
    known_subject = attested and cache.has_read_name(fields.subject)
    below.append(parse_certificate(top, index - 1, read_issuer=not chained, read_subject=not known_subject))
    if attested and not known_subject:
        cache.remember_name(fields.subject)
    return tuple(below), chained, fields.subject_public_key_info if attested else None


def _cacheable(certificates: Sequence[bytes]) -> bool:
    """Can the suffixes of a chain that parsed be remembered (keyed by their DER)?"""
    return all(type(der) is bytes for der in certificates)


def _verify_and_remember(
    chain: Sequence[x509.Certificate],
    encoded: Sequence[bytes],
    anchors: TrustAnchors,
    at: datetime,
    not_before_leeway: timedelta,
    cache: IntermediateCache | None,
) -> VerifiedChain:
    """Full validation: placement, anchor, then every certificate from the anchor down."""
    check_extension_placement(chain)
    anchor, included = find_anchor(chain, anchors)
    path = chain[:-1] if included else chain
    issuer_key = _anchor_key(anchor)
    issuer_name = chain[-1].subject if included else None
    # From the anchor down to the attested certificate (RFC 5280 section 6.1.3).
    keys = _verify_path_down(path, len(path) - 1, issuer_key, issuer_name, at, not_before_leeway)
    verified = VerifiedChain(
        certificates=tuple(chain),
        anchor=anchor,
        anchor_certificate_included=included,
        remotely_provisioned=_provisioned(chain),
        attested_key=keys[0],
    )
    if cache is not None and len(path) > 1:
        top = len(path) - 1
        suffix = _suffix_entry(anchors, verified, encoded[top], top, keys[top], None)
        cache.put(tuple(encoded[top:]), suffix)
        _remember_below(cache, anchors, verified, encoded, top, suffix, keys)
    return verified


def _verify_below_suffix(
    below: tuple[x509.Certificate, ...],
    suffix: _VerifiedSuffix,
    encoded: Sequence[bytes],
    at: datetime,
    not_before_leeway: timedelta,
    cache: IntermediateCache,
    *,
    chained: bool,
    attested_spki: bytes | None = None,
) -> VerifiedChain:
    """Validation of ``below`` (the certificates under a known suffix) with the checks and in the order
    of :func:`_verify_and_remember`; the suffix passed them already and carries no attestation extension.
    ``chained``: the top one's issuer name is the suffix's subject byte for byte (no need to compare)."""
    check_extension_placement(below)
    index = len(below)
    issuer_name = None if chained else suffix.subject
    keys = _verify_path_down(below, index - 1, suffix.public_key, issuer_name, at, not_before_leeway)
    verified = VerifiedChain(
        certificates=below + suffix.certificates,
        anchor=suffix.anchor,
        anchor_certificate_included=suffix.anchor_certificate_included,
        remotely_provisioned=suffix.remotely_provisioned or _provisioned(below),
        serials_hex=tuple([serial_hex(cert) for cert in below]) + suffix.serials_hex,
        attested_key=keys[0],
        attested_spki=attested_spki,
    )
    if index > 1:
        _remember_below(cache, suffix.anchors, verified, encoded, index, suffix, keys)
    return verified


def _verify_path_down(
    path: Sequence[x509.Certificate],
    top: int,
    issuer_key: object,
    issuer_name: x509.Name | None,
    at: datetime,
    not_before_leeway: timedelta,
) -> dict[int, CertificatePublicKeyTypes]:
    """Check ``path[top]`` down to ``path[0]``, each against the one above it; their public keys."""
    keys: dict[int, CertificatePublicKeyTypes] = {}
    for index in range(top, -1, -1):
        certificate = path[index]
        if index > 0:
            check_is_ca(certificate, index, intermediates_below=index - 1)
        _check_certificate(certificate, index, issuer_key, issuer_name, at, not_before_leeway)
        # The leaf's key too: an unreadable one is rejected here, with or without a cache.
        issuer_key = keys[index] = public_key_of(certificate)
        if index > 0:  # the name the next one down must name as its issuer
            issuer_name = certificate.subject
    return keys


def _remember_below(
    cache: IntermediateCache,
    anchors: TrustAnchors,
    verified: VerifiedChain,
    encoded: Sequence[bytes],
    index: int,
    above: _VerifiedSuffix,
    keys: Mapping[int, CertificatePublicKeyTypes],
) -> None:
    """Cache the suffixes starting below ``index`` (whose own suffix is ``above``), down to ``chain[1:]``."""
    for position in range(index - 1, 0, -1):
        above = _suffix_entry(anchors, verified, encoded[position], position, keys[position], above)
        cache.put(tuple(encoded[position:]), above)


def _suffix_entry(
    anchors: TrustAnchors,
    verified: VerifiedChain,
    der: bytes,
    index: int,
    key: CertificatePublicKeyTypes,
    above: _VerifiedSuffix | None,
) -> _VerifiedSuffix:
    """The entry for ``verified.certificates[index:]``, built on the entry for the suffix one above it
    (None when ``index`` is the top of the path)."""
    certificate = verified.certificates[index]
    encoded = encoded_fields(der)
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    max_index = _max_index(certificate, index)
    if above is not None:
        not_before, not_after = max(not_before, above.not_before), min(not_after, above.not_after)
        if above.max_index is not None:
            max_index = above.max_index - 1 if max_index is None else min(max_index, above.max_index - 1)
    return _VerifiedSuffix(
        anchors=anchors,
        certificates=verified.certificates[index:],
        serials_hex=verified.serials_hex[index:],
        subject=certificate.subject,
        subject_der=encoded.subject if encoded is not None else None,
        public_key=key,
        anchor=verified.anchor,
        anchor_certificate_included=verified.anchor_certificate_included,
        remotely_provisioned=_provisioned(verified.certificates[index:], start=index),
        not_before=not_before,
        not_after=not_after,
        max_index=max_index,
    )


def _provisioned(certificates: Sequence[x509.Certificate], start: int = 0) -> bool:
    """Does a certificate carry the provisioning information extension (Remote Key Provisioning)?"""
    for index, certificate in enumerate(certificates, start):
        if _has_extension(certificate, index, _PROVISIONING_INFO):
            return True
    return False


def _max_index(certificate: x509.Certificate, index: int) -> int | None:
    """The largest index at which the certificate's pathLenConstraint admits the intermediates below
    it (``index - 1 <= pathLen``); None without one."""
    try:
        constraints = extensions_of(certificate, index).get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None
    return None if constraints.path_length is None else constraints.path_length + 1


def _check_certificate(
    certificate: x509.Certificate,
    index: int,
    issuer_key: object,
    issuer_name: x509.Name | None,
    at: datetime,
    not_before_leeway: timedelta,
) -> None:
    """Name chaining, signature and validity of one certificate (RFC 5280 section 6.1.3 (a))."""
    if issuer_name is not None:
        check_name_chaining(certificate, issuer_name, index)
    if not _signed_by(certificate, issuer_key):
        raise ChainSignature(f"certificate {index} ({_describe(certificate)}) is not signed by its issuer's key")
    check_validity(certificate, index, at=at, not_before_leeway=not_before_leeway)


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
        key = serialization.load_der_public_key(issuer_spki)
    except (UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return _signed_by(certificate, key)


def _anchor_key(anchor: TrustAnchor) -> object:
    """The anchor's key object, or None when it cannot be loaded (then nothing verifies with it)."""
    try:
        return serialization.load_der_public_key(anchor.public_key_der)
    except (UnsupportedAlgorithm, ValueError, TypeError):
        return None


def _signed_by(certificate: x509.Certificate, key: object) -> bool:
    """Does ``certificate``'s signature verify with the public key object ``key``?"""
    try:
        _verify_signature(certificate, key)
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
