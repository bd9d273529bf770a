"""Attestation statements (WebAuthn Level 3 section 8) and the trust policy applied to them (section 7.1
steps 21-24 and 29), on py_webauthn's per-format verifiers.

The dispatcher is a plain mapping from ``fmt`` to a verifier. Each verifier runs py_webauthn's
``verify_<format>()`` and says which attestation type it established and whether the trust path was
validated against a trust anchor:

============================  ===========  ===========================================================
format                        type         trust path validated against
============================  ===========  ===========================================================
none (8.7)                    none         nothing to validate
packed (8.2) without x5c      self         nothing to validate
packed (8.2) with x5c         basic        the configured trust anchors, when there are any
tpm (8.3)                     attca        the configured trust anchors, when there are any
fido-u2f (8.6)                basic        the configured trust anchors, when there are any
android-key (8.4)             basic        Google's hardware attestation roots (always, by py_webauthn)
android-safetynet (8.5)       basic        GlobalSign's root (always, by py_webauthn)
apple (8.8)                   anonca       Apple's WebAuthn root (always, by py_webauthn)
============================  ===========  ===========================================================

Time is an argument, never the ambient clock: certificate validity is checked *as of* ``at``.
py_webauthn builds its X.509 store in ``webauthn.helpers.validate_certificate_chain._generate_new_cert_store``
(the hook its own docstring names for setting the store's time); this module installs a function
there that returns the same empty store with its verification time set to the ``at`` of the
verification in progress on this thread or task (a :class:`~contextvars.ContextVar`), and left at the
current time otherwise, which is what the original does. The SafetyNet timestamp check, which
py_webauthn makes against ``time.time()``, is made here against ``at``.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL.crypto import X509Store
from webauthn.helpers.parse_attestation_statement import parse_attestation_statement
from webauthn.helpers.structs import AttestationStatement
from webauthn.registration.formats.android_key import verify_android_key
from webauthn.registration.formats.android_safetynet import verify_android_safetynet
from webauthn.registration.formats.apple import verify_apple
from webauthn.registration.formats.fido_u2f import verify_fido_u2f
from webauthn.registration.formats.packed import verify_packed
from webauthn.registration.formats.tpm import verify_tpm

from fido.authenticator_data import AttestedCredentialData, AuthenticatorData
from fido.errors import AttestationFormatUnsupported, AttestationInvalid, AttestationUntrusted

#: How far a SafetyNet response's timestampMs may lie before ``at`` (the ceremony's lifetime) and after
#: it (clock skew between Google and us).
SAFETYNET_MAX_AGE = timedelta(minutes=5)
SAFETYNET_MAX_SKEW = timedelta(minutes=1)


class AttestationType(StrEnum):
    """Section 6.5.4: what the attestation says about the authenticator."""

    NONE = "none"
    SELF = "self"
    BASIC = "basic"
    ATTCA = "attca"
    ANONCA = "anonca"


@dataclass(frozen=True)
class AttestationPolicy:
    """Which attestations registration accepts (section 7.1 step 24).

    Attributes:
        require_trusted: accept only attestations whose trust path was validated against a trust
            anchor (a deployment that allows certified authenticators only). False accepts every
            statement that verifies, including ``none`` and self attestation.
        trust_anchors: PEM root certificates for the formats whose roots py_webauthn does not ship
            (packed, tpm, fido-u2f); also accepted as extra roots by the others.
    """

    require_trusted: bool = False
    trust_anchors: tuple[bytes, ...] = ()

    @classmethod
    def from_pem_bundle(cls, pem: bytes, *, require_trusted: bool) -> AttestationPolicy:
        """Split a PEM bundle into its certificates (each must parse)."""
        certificates = x509.load_pem_x509_certificates(pem)
        return cls(
            require_trusted=require_trusted,
            trust_anchors=tuple(certificate.public_bytes(Encoding.PEM) for certificate in certificates),
        )


@dataclass(frozen=True)
class VerifiedAttestation:
    """The outcome of section 7.1 steps 21-24."""

    fmt: str
    type: AttestationType
    #: The trust path was validated against a trust anchor (step 24).
    trusted: bool


@dataclass(frozen=True)
class _Statement:
    """Everything a format's verification procedure takes (section 8: attStmt, authData, clientDataHash)."""

    fields: Mapping[str, Any]
    statement: AttestationStatement
    attestation_object: bytes
    auth_data: AuthenticatorData
    credential: AttestedCredentialData
    client_data_json: bytes
    anchors: list[bytes]
    at: datetime


def _none(s: _Statement) -> tuple[AttestationType, bool]:
    # Section 8.7: the statement is the empty map.
    if s.fields:
        raise AttestationInvalid("a none attestation must have an empty attestation statement")
    return AttestationType.NONE, False


def _packed(s: _Statement) -> tuple[AttestationType, bool]:
    verify_packed(
        attestation_statement=s.statement,
        attestation_object=s.attestation_object,
        client_data_json=s.client_data_json,
        credential_public_key=s.credential.public_key,
        pem_root_certs_bytes=list(s.anchors),
    )
    if not s.statement.x5c:
        return AttestationType.SELF, False
    return AttestationType.BASIC, bool(s.anchors)


def _tpm(s: _Statement) -> tuple[AttestationType, bool]:
    verify_tpm(
        attestation_statement=s.statement,
        attestation_object=s.attestation_object,
        client_data_json=s.client_data_json,
        credential_public_key=s.credential.public_key,
        pem_root_certs_bytes=list(s.anchors),
    )
    return AttestationType.ATTCA, bool(s.anchors)


def _fido_u2f(s: _Statement) -> tuple[AttestationType, bool]:
    verify_fido_u2f(
        attestation_statement=s.statement,
        client_data_json=s.client_data_json,
        rp_id_hash=s.auth_data.rp_id_hash,
        credential_id=s.credential.credential_id,
        credential_public_key=s.credential.public_key,
        aaguid=s.credential.aaguid,
        pem_root_certs_bytes=list(s.anchors),
    )
    return AttestationType.BASIC, bool(s.anchors)


def _android_key(s: _Statement) -> tuple[AttestationType, bool]:
    verify_android_key(
        attestation_statement=s.statement,
        attestation_object=s.attestation_object,
        client_data_json=s.client_data_json,
        credential_public_key=s.credential.public_key,
        pem_root_certs_bytes=list(s.anchors),
    )
    return AttestationType.BASIC, True


def _android_safetynet(s: _Statement) -> tuple[AttestationType, bool]:
    verify_android_safetynet(
        attestation_statement=s.statement,
        attestation_object=s.attestation_object,
        client_data_json=s.client_data_json,
        pem_root_certs_bytes=list(s.anchors),
        verify_timestamp_ms=False,  # checked below against ``at``, not the system clock
    )
    issued = _safetynet_timestamp(s.statement)
    if not s.at - SAFETYNET_MAX_AGE <= issued <= s.at + SAFETYNET_MAX_SKEW:
        raise AttestationInvalid(
            f"the SafetyNet response was issued at {issued.isoformat()}, "
            f"outside [{(s.at - SAFETYNET_MAX_AGE).isoformat()}, {(s.at + SAFETYNET_MAX_SKEW).isoformat()}]"
        )
    return AttestationType.BASIC, True


def _apple(s: _Statement) -> tuple[AttestationType, bool]:
    verify_apple(
        attestation_statement=s.statement,
        attestation_object=s.attestation_object,
        client_data_json=s.client_data_json,
        credential_public_key=s.credential.public_key,
        pem_root_certs_bytes=list(s.anchors),
    )
    return AttestationType.ANONCA, True


#: Section 7.1 step 21: the formats we verify, by their registered identifier (section 8).
FORMATS: Mapping[str, Callable[[_Statement], tuple[AttestationType, bool]]] = {
    "none": _none,
    "packed": _packed,
    "tpm": _tpm,
    "fido-u2f": _fido_u2f,
    "android-key": _android_key,
    "android-safetynet": _android_safetynet,
    "apple": _apple,
}


def verify_attestation_statement(
    fmt: str,
    att_stmt: Mapping[str, Any],
    *,
    attestation_object: bytes,
    auth_data: AuthenticatorData,
    client_data_json: bytes,
    policy: AttestationPolicy,
    at: datetime,
) -> VerifiedAttestation:
    """Section 7.1 step 21 (the format), step 22 (its verification procedure), steps 23-24 (trust)."""
    # Step 21: a case-sensitive match on the registered format identifiers.
    verifier = FORMATS.get(fmt)
    if verifier is None:
        raise AttestationFormatUnsupported(f"attestation format {fmt[:40]!r} is not one this service verifies")
    credential = auth_data.attested_credential
    assert credential is not None, "registration parsing guarantees attested credential data"
    # Step 22: the format's verification procedure, with time pinned to ``at``.
    try:
        statement = parse_attestation_statement(dict(att_stmt))
        with _verification_time(at):
            attestation_type, trusted = verifier(
                _Statement(
                    fields=att_stmt,
                    statement=statement,
                    attestation_object=attestation_object,
                    auth_data=auth_data,
                    credential=credential,
                    client_data_json=client_data_json,
                    anchors=list(policy.trust_anchors),
                    at=at,
                )
            )
    except AttestationInvalid:
        raise
    # py_webauthn's verifiers read hostile certificates, ASN.1 and TPM structures with plain indexing
    # and third-party parsers (cryptography, pyOpenSSL, pyasn1); their failures are not a closed set,
    # and every one of them means that the statement did not verify.
    except Exception as exc:  # noqa: BLE001
        raise AttestationInvalid(f"the {fmt} attestation statement does not verify: {_reason(exc)}") from None
    # Steps 23-24 and 29: trust.
    if policy.require_trusted and not trusted:
        why = (
            "it names no attestation certificate"
            if attestation_type in (AttestationType.NONE, AttestationType.SELF)
            else "no trust anchor is configured for its format"
        )
        raise AttestationUntrusted(
            f"this service accepts only attestations that chain to a trust anchor, and this {fmt} one does not: {why}"
        )
    return VerifiedAttestation(fmt=fmt, type=attestation_type, trusted=trusted)


def _safetynet_timestamp(statement: AttestationStatement) -> datetime:
    """``timestampMs`` of the SafetyNet JWS payload (its signature was verified by py_webauthn)."""
    try:
        assert statement.response is not None
        payload = statement.response.split(b".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
        milliseconds = claims["timestampMs"]
        if not isinstance(milliseconds, int) or isinstance(milliseconds, bool):
            raise TypeError("timestampMs is not an integer")
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
    except (AssertionError, IndexError, KeyError, TypeError, ValueError, OverflowError, binascii.Error) as exc:
        raise AttestationInvalid(f"the SafetyNet response has no readable timestampMs: {exc}") from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


# --- the verification time of py_webauthn's X.509 store -------------------------------------------

_AT: ContextVar[datetime | None] = ContextVar("fido_attestation_at", default=None)


@contextmanager
def _verification_time(at: datetime) -> Iterator[None]:
    if at.tzinfo is None:
        raise ValueError("the verification time must carry a timezone")
    token = _AT.set(at.astimezone(UTC))
    try:
        yield
    finally:
        _AT.reset(token)


def _certificate_store() -> X509Store:
    """An empty X.509 store whose verification time is the ``at`` of the verification in progress."""
    store = X509Store()
    at = _AT.get()
    if at is not None:
        store.set_time(at)
    return store


# ``webauthn.helpers.validate_certificate_chain`` is shadowed by the function of the same name in
# ``webauthn.helpers``, so the module is fetched by its full name.
_CHAIN_MODULE = importlib.import_module("webauthn.helpers.validate_certificate_chain")
setattr(_CHAIN_MODULE, "_generate_new_cert_store", _certificate_store)  # noqa: B010 -- a private hook
