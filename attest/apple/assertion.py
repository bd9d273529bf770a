"""Verify an App Attest assertion.

Apple, "Validating apps that connect to your server", section "Verify the assertion": the assertion is
CBOR ``{signature, authenticatorData}``, signed by the attested key over
nonce = SHA-256(authenticatorData || SHA-256(clientData)). Steps 1-5 run below; step 6 (the client data
embeds the challenge the server issued) belongs to the service, which owns the client data format and
passes the expected bytes in.

This is a pure function: it returns the new counter and stores nothing. The service must store it
atomically (compare-and-set against the counter it passed in), or two concurrent requests could both
pass with the same counter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from attest.apple.authenticator_data import (
    AuthenticatorData,
    AuthenticatorDataError,
    parse_assertion_authenticator_data,
)
from attest.apple.cbor import CborError, decode_cbor
from attest.apple.errors import (
    AssertionAppIdNotAllowed,
    AssertionCounterNotIncreasing,
    AssertionMalformed,
    AssertionSignature,
)
from attest.apple.policy import AppAttestApp, AppAttestPolicy
from attest.errors import InputTooLarge, KeyAlgorithm

#: Genuine assertions are about 120 bytes.
MAX_ASSERTION_SIZE = 4 * 1024
MAX_COUNTER = 0xFFFFFFFF

#: ECDSA with SHA-256 (ES256): the assertion's signature algorithm. Stateless, built once.
_ES256 = ec.ECDSA(hashes.SHA256())

#: The steps in the order they run; ``on_step`` hears each label once it has passed.
STEPS = ("decode", "1-3 signature", "4 App ID", "5 counter")


@dataclass(frozen=True, slots=True)
class AssertionObject:
    """The decoded (not yet verified) assertion."""

    signature: bytes
    authenticator_data: bytes


@dataclass(frozen=True, slots=True)
class VerifiedAppleAssertion:
    """A verified assertion. Store ``counter`` in place of the previous one (atomically)."""

    app_id: str
    counter: int


def verify_apple_assertion(
    assertion: bytes,
    policy: AppAttestPolicy,
    *,
    client_data: bytes,
    public_key: ec.EllipticCurvePublicKey,
    counter: int,
    on_step: Callable[[str], None] | None = None,
) -> VerifiedAppleAssertion:
    """Verify ``assertion`` (from ``generateAssertion``) over ``client_data`` with the public key
    stored at attestation and the last accepted ``counter`` (0 after attestation).

    Raises a subclass of :class:`attest.errors.AttestationError` for any assertion bytes."""
    passed = on_step or _ignore
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        raise KeyAlgorithm("the stored App Attest key must be an ECDSA P-256 public key")
    if not 0 <= counter <= MAX_COUNTER:
        raise ValueError(f"the stored counter {counter} is outside 0..{MAX_COUNTER}")
    decoded = decode_assertion_object(assertion)
    authenticator_data = parse_authenticator_data(decoded.authenticator_data)
    passed(STEPS[0])
    check_signature(decoded, compute_nonce(decoded.authenticator_data, client_data), public_key)
    passed(STEPS[1])
    app = check_app_id(authenticator_data.rp_id_hash, policy)
    passed(STEPS[2])
    new_counter = check_counter(authenticator_data.sign_count, counter)
    passed(STEPS[3])
    return VerifiedAppleAssertion(app_id=app.app_id, counter=new_counter)


def decode_assertion_object(data: bytes) -> AssertionObject:
    """The CBOR map ``{signature: bstr, authenticatorData: bstr}``, bounded and type-checked."""
    if len(data) > MAX_ASSERTION_SIZE:
        raise InputTooLarge(f"assertion is {len(data)} bytes, more than {MAX_ASSERTION_SIZE}")
    try:
        item = decode_cbor(bytes(data))
    except CborError as exc:
        raise AssertionMalformed(f"assertion is not strict CBOR: {exc.reason}") from None
    if not isinstance(item, dict) or set(item) != {"signature", "authenticatorData"}:
        raise AssertionMalformed("assertion is not a map of exactly {signature, authenticatorData}")
    signature, authenticator_data = item["signature"], item["authenticatorData"]
    if not isinstance(signature, bytes) or not isinstance(authenticator_data, bytes):
        raise AssertionMalformed("signature and authenticatorData must be byte strings")
    return AssertionObject(signature=signature, authenticator_data=authenticator_data)


def parse_authenticator_data(data: bytes) -> AuthenticatorData:
    """The 37-byte authenticatorData: rpIdHash, flags, counter."""
    try:
        return parse_assertion_authenticator_data(data)
    except AuthenticatorDataError as exc:
        raise AssertionMalformed(str(exc)) from None


def compute_nonce(authenticator_data: bytes, client_data: bytes) -> bytes:
    """Steps 1-2: clientDataHash = SHA-256(clientData); nonce = SHA-256(authenticatorData || clientDataHash)."""
    return hashlib.sha256(authenticator_data + hashlib.sha256(client_data).digest()).digest()


def check_signature(decoded: AssertionObject, nonce: bytes, public_key: ec.EllipticCurvePublicKey) -> None:
    """Step 3: the signature (ECDSA P-256 with SHA-256, DER) verifies over nonce with the stored key."""
    try:
        public_key.verify(decoded.signature, nonce, _ES256)
    except InvalidSignature:
        raise AssertionSignature("the assertion signature does not verify with the stored public key") from None


def check_app_id(rp_id_hash: bytes, policy: AppAttestPolicy) -> AppAttestApp:
    """Step 4: authenticatorData's rpIdHash is SHA-256 of an allowed App ID."""
    apps = policy.apps_for(rp_id_hash)
    if not apps:
        raise AssertionAppIdNotAllowed(
            f"rpIdHash {rp_id_hash.hex()} is not SHA-256 of an allowed App ID ({', '.join(policy.app_ids)})"
        )
    return apps[0]


def check_counter(sign_count: int, stored: int) -> int:
    """Step 5: the counter is greater than the stored one (which is 0 after attestation)."""
    if sign_count <= stored:
        raise AssertionCounterNotIncreasing(f"counter {sign_count} is not greater than the stored {stored}")
    return sign_count


def _ignore(_: str) -> None:
    return None
