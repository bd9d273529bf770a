"""Library throughput on one core: one function per operation, each returning a :class:`Row` with our
rate, the raw floor of the same run and, where there is one, a peer library on the same input.

The floor of an operation is just the signature work it cannot avoid, done with ``cryptography`` on
objects parsed beforehand: no verifier can beat it. Inputs are real samples from ``fixtures/`` (Android
chains, App Attest objects, WebAuthn responses); the JWT figures use freshly generated P-256 keys.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt
from joserfc.jwk import ECKey

from attest.android import AndroidPolicy, parse_status_list, verify_android_attestation
from attest.android import IntermediateCache as AndroidIntermediateCache
from attest.apple import (
    AppAttestApp,
    AppAttestPolicy,
    Environment,
    verify_apple_assertion,
    verify_apple_attestation,
)
from attest.apple import IntermediateCache as AppleIntermediateCache
from attest.client_auth import (
    AttestationRequest,
    ClientAttestationPolicy,
    StaticJwksSource,
    validate_client_attestation,
)
from attest.jwk import public_key_to_jwk
from attest.tokens import AttestationVerdict, KeyState, generate_signing_key, issue_client_attestation
from bench.timing import Budget, rates
from fido import base64url
from fido.authentication import StoredCredential, parse_authentication_response, verify_authentication
from fido.public_key import load_public_key
from fido.relying_party import RelyingParty

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

OURS, FLOOR, PEER = "ours", "floor", "peer"


@dataclass(frozen=True)
class Row:
    """One operation's figures. ``floor_ops_per_s`` is the signature work alone; ``peer`` names the
    library measured on the same input (None: no peer)."""

    name: str
    ops_per_s: float
    floor_ops_per_s: float
    floor: str
    peer: str | None = None
    peer_ops_per_s: float | None = None

    @property
    def ratio_to_floor(self) -> float:
        """Floor ops/s over ours: 1.0 is the limit, 2.0 means we take twice the signature time."""
        return self.floor_ops_per_s / self.ops_per_s

    @property
    def speedup_vs_peer(self) -> float | None:
        """Our ops/s over the peer's, on the same input."""
        return None if self.peer_ops_per_s is None else self.ops_per_s / self.peer_ops_per_s


@dataclass(frozen=True)
class Case:
    """One operation ready to run: ours, its floor, and its peer when there is one."""

    name: str
    ours: Callable[[], object]
    floor: Callable[[], object]
    #: What the floor does, e.g. "2 signatures: P-384 + P-384".
    floor_what: str
    peer_name: str | None = None
    peer: Callable[[], object] | None = None
    #: Entered around the measurement (pyattest's fixed clock).
    context: Callable[[], AbstractContextManager[object]] = nullcontext


def measure(cases: Iterable[Case], budget: Budget) -> Iterator[Row]:
    """The figures of each case: ours, floor and peer taking turns (:func:`bench.timing.rates`)."""
    for case in cases:
        operations = {OURS: case.ours, FLOOR: case.floor}
        if case.peer is not None:
            operations[PEER] = case.peer
        with case.context():
            figures = rates(operations, budget)
        peer = figures.get(PEER)
        yield Row(
            name=case.name,
            ops_per_s=figures[OURS],
            floor_ops_per_s=figures[FLOOR],
            floor=case.floor_what,
            peer=case.peer_name if peer is not None else None,
            peer_ops_per_s=peer,
        )


# --- signature floors -------------------------------------------------------------------------------


def verify_certificate_signature(child: x509.Certificate, issuer_key: object) -> None:
    """The one signature check of a certificate, on already parsed objects."""
    algorithm = child.signature_hash_algorithm
    assert algorithm is not None
    if isinstance(issuer_key, ec.EllipticCurvePublicKey):
        issuer_key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(algorithm))
    elif isinstance(issuer_key, rsa.RSAPublicKey):
        parameters = child.signature_algorithm_parameters
        assert isinstance(parameters, padding.PKCS1v15 | padding.PSS)
        issuer_key.verify(child.signature, child.tbs_certificate_bytes, parameters, algorithm)
    else:
        raise TypeError(f"no floor for {type(issuer_key).__name__}")


def _key_name(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(key.curve.name, key.curve.name)
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    return type(key).__name__


# --- Android Key Attestation --------------------------------------------------------------------------


@dataclass(frozen=True)
class AndroidSample:
    name: str
    what: str
    at: datetime
    locked: bool


ANDROID_SAMPLES = (
    AndroidSample("caiman/sdk36/TEE_EC_RKP", "Pixel 9 Pro, RKP", datetime(2025, 9, 30, tzinfo=UTC), True),
    AndroidSample("tegu/sdk36/TEE_EC_2026_ROOT", "Pixel 9a, RKP, P-384 root", datetime(2026, 3, 1, tzinfo=UTC), True),
    AndroidSample("blueline/sdk28/TEE_RSA_NONE", "Pixel 3, factory RSA", datetime(2026, 11, 24, tzinfo=UTC), False),
)


def _without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


def android_cases(sample: AndroidSample, *, describe: bool = False) -> list[Case]:
    """Cold (every signature of the chain checked) and with verified intermediates cached (only the
    attested certificate's signature is left), on a real chain at its capture time."""
    base = FIXTURES / "android" / sample.name
    certificates = [
        c.public_bytes(serialization.Encoding.DER)
        for c in x509.load_pem_x509_certificates(base.with_suffix(".pem").read_bytes())
    ]
    expected = json.loads(_without_comments(base.with_suffix(".json").read_text()))
    policy = AndroidPolicy(
        challenge=base64.b64decode(expected["attestationChallenge"]),
        app=None,
        require_verified_boot=sample.locked,
        require_locked_bootloader=sample.locked,
    )
    status_list = parse_status_list((FIXTURES / "android" / "status-list-sample.json").read_bytes())
    cache = AndroidIntermediateCache()
    parsed = [x509.load_der_x509_certificate(der) for der in certificates]
    keys = [certificate.public_key() for certificate in parsed]
    pairs = list(itertools.pairwise(zip(parsed, keys, strict=True)))

    def cold() -> object:
        return verify_android_attestation(certificates, policy, at=sample.at, status_list=status_list)

    def cached() -> object:
        return verify_android_attestation(
            certificates, policy, at=sample.at, status_list=status_list, intermediate_cache=cache
        )

    def every_signature() -> None:
        for (child, _), (_, issuer_key) in pairs:
            verify_certificate_signature(child, issuer_key)

    def leaf_signature() -> None:
        verify_certificate_signature(parsed[0], keys[1])

    every = " + ".join(_key_name(issuer_key) for (_, _), (_, issuer_key) in pairs)
    suffix = f" ({sample.what})" if describe else ""
    return [
        Case(f"Android chain cold{suffix}", cold, every_signature, f"{len(pairs)} signatures: {every}"),
        Case(f"Android chain cached{suffix}", cached, leaf_signature, f"1 signature: {_key_name(keys[1])}"),
    ]


# --- Apple App Attest ----------------------------------------------------------------------------------

#: The production attestation (node-app-attest) and its verification time (see fixtures/apple/PROVENANCE.md).
APPLE_ATTESTATION_SAMPLE = "node-app-attest/attestation-production"
APPLE_AT = datetime(2024, 2, 7, tzinfo=UTC)
#: A real assertion (devicecheck-appattest, iOS 14.3).
APPLE_ASSERTION_SAMPLE = "ios-14.3/assertion"
PYATTEST = "pyattest 1.0.5"


def _apple_samples() -> tuple[dict[str, str], dict[str, str]]:
    manifest = json.loads((FIXTURES / "apple" / "samples.json").read_text())
    attestation = next(item for item in manifest["attestations"] if item["name"] == APPLE_ATTESTATION_SAMPLE)
    assertion = next(item for item in manifest["assertions"] if item["name"] == APPLE_ASSERTION_SAMPLE)
    return attestation, assertion


@dataclass(frozen=True)
class _Pyattest:
    """pyattest's two verifications on our samples."""

    attest: Callable[[], object]
    assert_: Callable[[], object]


def _pyattest(
    attestation: bytes,
    key_id: bytes,
    client_data: bytes,
    app_id: str,
    assertion: bytes,
    assertion_client_data: bytes,
    assertion_app_id: str,
    assertion_key: ec.EllipticCurvePublicKey,
) -> _Pyattest | None:
    try:
        from pyattest.assertion import Assertion  # type: ignore[import-untyped,unused-ignore]
        from pyattest.attestation import Attestation  # type: ignore[import-untyped,unused-ignore]
        from pyattest.configs.apple import AppleConfig  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    config = AppleConfig(key_id=key_id, app_id=app_id, production=True)
    assertion_config = AppleConfig(key_id=b"", app_id=assertion_app_id, production=False)
    expected_hash = hashlib.sha256(assertion_client_data).digest()

    def attest_once() -> None:
        # pyattest pops from the x5c list it is given, so each run decodes a fresh object. (An event
        # loop per call costs well under 1% of pyattest's time.)
        asyncio.run(Attestation(attestation, client_data, config).verify())

    def assert_once() -> None:
        Assertion(assertion, expected_hash, assertion_key, assertion_config).verify()

    return _Pyattest(attest_once, assert_once)


def _fixed_clock() -> AbstractContextManager[object]:
    """pyattest checks the chain at the current time: travel to the sample's. Our verifiers take the
    time as an argument and never read the clock."""
    import time_machine

    return time_machine.travel(APPLE_AT, tick=False)


def apple_cases() -> list[Case]:
    """Attestation cold (both chain signatures) and with the verified intermediate cached, and an
    assertion; pyattest on the same samples, under a fixed clock, as the peer."""
    attestation_item, assertion_item = _apple_samples()
    attestation = base64.b64decode(attestation_item["attestation_b64"])
    key_id = base64.b64decode(attestation_item["key_id_b64"])
    client_data = base64.b64decode(attestation_item["client_data_b64"])
    app_id = attestation_item["app_id"]
    policy = AppAttestPolicy(apps=(AppAttestApp(app_id, Environment.PRODUCTION),))

    assertion = base64.b64decode(assertion_item["assertion_b64"])
    assertion_client_data = base64.b64decode(assertion_item["client_data_b64"])
    assertion_key = serialization.load_pem_public_key(assertion_item["public_key_pem"].encode())
    assert isinstance(assertion_key, ec.EllipticCurvePublicKey)
    assertion_app_id = assertion_item["app_id"]
    assertion_policy = AppAttestPolicy(apps=(AppAttestApp(assertion_app_id, Environment.DEVELOPMENT),))

    cache = AppleIntermediateCache()

    def cold() -> object:
        return verify_apple_attestation(attestation, key_id=key_id, client_data=client_data, policy=policy, at=APPLE_AT)

    def cached() -> object:
        return verify_apple_attestation(
            attestation, key_id=key_id, client_data=client_data, policy=policy, at=APPLE_AT, cache=cache
        )

    def assert_once() -> object:
        return verify_apple_assertion(
            assertion, client_data=assertion_client_data, public_key=assertion_key, counter=0, policy=assertion_policy
        )

    x5c = cbor2.loads(attestation)["attStmt"]["x5c"]
    leaf, intermediate = (x509.load_der_x509_certificate(der) for der in x5c[:2])
    intermediate_key = intermediate.public_key()
    root = policy.anchors[0].public_key

    def leaf_signature() -> None:
        verify_certificate_signature(leaf, intermediate_key)

    def both_signatures() -> None:
        verify_certificate_signature(leaf, intermediate_key)
        verify_certificate_signature(intermediate, root)

    decoded_assertion = cbor2.loads(assertion)
    nonce = hashlib.sha256(
        decoded_assertion["authenticatorData"] + hashlib.sha256(assertion_client_data).digest()
    ).digest()
    es256 = ec.ECDSA(hashes.SHA256())

    def assertion_signature() -> None:
        assertion_key.verify(decoded_assertion["signature"], nonce, es256)

    peer = _pyattest(
        attestation, key_id, client_data, app_id, assertion, assertion_client_data, assertion_app_id, assertion_key
    )
    leaf_curve, root_curve = _key_name(intermediate_key), _key_name(root)
    if peer is None:
        return [
            Case("App Attest attestation cold", cold, both_signatures, f"2 signatures: {leaf_curve} + {root_curve}"),
            Case("App Attest attestation cached", cached, leaf_signature, f"1 signature: {leaf_curve}"),
            Case("App Attest assertion", assert_once, assertion_signature, "1 signature: P-256"),
        ]
    return [
        Case(
            "App Attest attestation cold",
            cold,
            both_signatures,
            f"2 signatures: {leaf_curve} + {root_curve}",
            PYATTEST,
            peer.attest,
            context=_fixed_clock,
        ),
        Case(
            "App Attest attestation cached",
            cached,
            leaf_signature,
            f"1 signature: {leaf_curve}",
            PYATTEST,
            # pyattest has no cache: the same verification, measured again next to our cached one.
            peer.attest,
            context=_fixed_clock,
        ),
        Case(
            "App Attest assertion",
            assert_once,
            assertion_signature,
            "1 signature: P-256",
            PYATTEST,
            peer.assert_,
            context=_fixed_clock,
        ),
    ]


# --- WebAuthn sign-in -------------------------------------------------------------------------------------

WEBAUTHN_SAMPLES = {"ES256": "auth-ec2-localhost", "EdDSA": "auth-okp-ed25519", "RS256": "auth-rsa-uv"}
BARE_WEBAUTHN = "webauthn 3 (bare)"


def webauthn_case(algorithm: str) -> Case:
    """A sign-in assertion from the PublicKeyCredential JSON to the verdict, through our fido layer
    (which adds strict base64url, duplicate members, userHandle, backup flags, key shape) and through
    bare py_webauthn, on the same real response. The database work of the route is not measured."""
    from webauthn import verify_authentication_response

    document: dict[str, Any] = json.loads((FIXTURES / "webauthn" / f"{WEBAUTHN_SAMPLES[algorithm]}.json").read_text())
    credential: dict[str, Any] = document["credential"]
    challenge = base64url.decode(document["expected_challenge_b64url"], max_bytes=1024)
    public_key_cose = base64url.decode(document["credential_public_key_b64url"], max_bytes=4096)
    assert challenge is not None
    assert public_key_cose is not None
    sign_count: int = document["credential_current_sign_count"]
    uv: bool = document["require_user_verification"]
    rp = RelyingParty.configure(
        rp_id=document["expected_rp_id"], name="bench", web_origins=[document["expected_origin"]]
    )
    parsed = parse_authentication_response(credential)
    handle = parsed.user_handle or b"\x01" * 32
    flags = parsed.authenticator_data[32]
    stored = StoredCredential(
        credential_id=parsed.credential_id,
        user_handle=handle,
        public_key=public_key_cose,
        sign_count=sign_count,
        backup_eligible=bool(flags & 0x08),
        backup_state=bool(flags & 0x10),
    )
    expected_handle = None if parsed.user_handle else handle

    def ours() -> object:
        return verify_authentication(
            parse_authentication_response(credential),
            credential=stored,
            challenge=challenge,
            rp=rp,
            require_user_verification=uv,
            expected_user_handle=expected_handle,
        )

    def bare() -> object:
        return verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=document["expected_rp_id"],
            expected_origin=document["expected_origin"],
            credential_public_key=public_key_cose,
            credential_current_sign_count=sign_count,
            require_user_verification=uv,
        )

    key = load_public_key(public_key_cose).key
    signed = parsed.authenticator_data + hashlib.sha256(parsed.client_data_json).digest()
    signature = parsed.signature

    def floor() -> None:
        # The assertion signature alone, with cryptography on the key loaded beforehand (section 6.3.3).
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, signed)

    name = "WebAuthn login verify" if algorithm == "ES256" else f"WebAuthn login verify ({algorithm})"
    return Case(name, ours, floor, f"1 signature: {algorithm}", BARE_WEBAUTHN, bare)


# --- Client Attestation JWT ---------------------------------------------------------------------------------

JWT_NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
AUDIENCE = "https://as.bench.example"
ISSUER = "https://attest.bench.example"


class AcceptingReplayStore:
    """A replay store that remembers nothing: the store is the caller's (a SQL table in the service), so
    the validator is measured without it, and one PoP can be validated over and over."""

    def check_and_store(self, key: str, *, expires_at: datetime, now: datetime) -> bool:
        return True


def _raw_to_der(signature: bytes) -> bytes:
    half = len(signature) // 2
    return encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))


def _jws_parts(token: str) -> tuple[bytes, bytes]:
    header, claims, signature = token.split(".")
    return f"{header}.{claims}".encode("ascii"), _raw_to_der(base64url.decode(signature, max_bytes=256) or b"")


def jwt_cases() -> list[Case]:
    """Issuing a Client Attestation JWT (floor: one ES256 signature) and validating it with its PoP
    as an authorization server does (floor: two ES256 verifications)."""
    key = generate_signing_key("ES256", now=JWT_NOW, state=KeyState.ACTIVE)
    device = ec.generate_private_key(ec.SECP256R1())
    cnf_jwk = dict(public_key_to_jwk(device.public_key()))
    verdict = AttestationVerdict(
        platform="android", security_level="tee", environment=None, app_checked=True, revocation_checked=True
    )

    def issue() -> str:
        return issue_client_attestation(
            key=key,
            issuer=ISSUER,
            client_id="bench-app",
            cnf_jwk=cnf_jwk,
            verdict=verdict,
            ttl=timedelta(minutes=10),
            now=JWT_NOW,
        )

    token = issue()
    signing_input, _ = _jws_parts(token)
    private_key = key.private_key
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)
    es256 = ec.ECDSA(hashes.SHA256())

    def one_signature() -> None:
        private_key.sign(signing_input, es256)

    pop = jwt.encode(
        {"typ": "oauth-client-attestation-pop+jwt", "alg": "ES256"},
        {"aud": AUDIENCE, "jti": "bench-pop", "iat": int(JWT_NOW.timestamp())},
        ECKey.import_key(device),
    )
    policy = ClientAttestationPolicy(
        audience=AUDIENCE,
        jwks=StaticJwksSource({"keys": [key.public_jwk()]}),
        replay_store=AcceptingReplayStore(),
        attester_issuer=ISSUER,
    )
    request = AttestationRequest(
        attestations=(token,), pops=(pop,), method="POST", url=f"{AUDIENCE}/token", client_id="bench-app"
    )

    def validate() -> object:
        return validate_client_attestation(request, policy, now=JWT_NOW)

    attester_public = private_key.public_key()
    device_public = device.public_key()
    token_input, token_signature = _jws_parts(token)
    pop_input, pop_signature = _jws_parts(pop)

    def two_verifications() -> None:
        attester_public.verify(token_signature, token_input, es256)
        device_public.verify(pop_signature, pop_input, es256)

    return [
        Case("Client Attestation JWT issue", issue, one_signature, "1 signature: ES256 sign"),
        # Attestation + PoP; the replay store is excluded (the service's is a SQL table).
        Case("Client Attestation JWT validate", validate, two_verifications, "2 signatures: ES256 + ES256"),
    ]


# --- all of them ---------------------------------------------------------------------------------------------


def library_cases(*, variants: bool) -> Iterator[Case]:
    """Every library case (built lazily, one group at a time); ``variants`` adds the other Android
    chains and WebAuthn algorithms."""
    yield from android_cases(ANDROID_SAMPLES[0])
    yield from apple_cases()
    yield webauthn_case("ES256")
    yield from jwt_cases()
    if variants:
        for sample in ANDROID_SAMPLES[1:]:
            yield from android_cases(sample, describe=True)
        yield webauthn_case("EdDSA")
        yield webauthn_case("RS256")


def measure_library(budget: Budget, *, variants: bool) -> Iterator[Row]:
    """Every library row."""
    return measure(library_cases(variants=variants), budget)
