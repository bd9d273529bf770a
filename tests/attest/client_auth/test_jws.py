"""JWS signature checks with cryptography directly (RFC 7515, RFC 7518 section 3, RFC 8037, RFC
9864): tokens signed by joserfc verify, the signature encodings stay strict, and the cache of
checked keys never lets one key stand for another."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from attest.client_auth import (
    AttestationRequest,
    StaticJwksSource,
    errors,
    validate_client_attestation,
    verify_client_attestation,
)
from attest.client_auth.jwa import JWS_ALGORITHMS
from attest.client_auth.jws import ASYMMETRIC_ALGORITHMS, CompactJws, parse_compact, verify_signature
from attest.jwk import public_key_to_jwk
from tests.attest.client_auth.factory import (
    AS_ISSUER,
    ATTESTER,
    CLIENT_ID,
    NOW,
    TOKEN_URL,
    Attester,
    DeviceKey,
    es256_signer,
    make_policy,
    make_pop,
)

_ES256 = ec.ECDSA(hashes.SHA256())


def parse(token: str) -> CompactJws:
    return parse_compact(token, malformed=errors.AttestationMalformed)


def joserfc_token(alg: str, private_key: Any, claims: dict[str, Any] | None = None) -> str:
    """A JWT signed by joserfc, an independent implementation."""
    key: ECKey | RSAKey | OKPKey
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        key = ECKey.import_key(private_key)
    elif isinstance(private_key, rsa.RSAPrivateKey):
        key = RSAKey.import_key(private_key)
    else:
        key = OKPKey.import_key(private_key)
    return jwt.encode({"alg": alg}, claims or {"sub": "x"}, key, algorithms=[alg])


def test_the_registry_is_the_allow_list() -> None:
    assert frozenset(JWS_ALGORITHMS) == ASYMMETRIC_ALGORITHMS
    assert {
        *("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"),
        *("EdDSA", "Ed25519", "Ed448", "ML-DSA-44", "ML-DSA-65", "ML-DSA-87"),
    } == ASYMMETRIC_ALGORITHMS
    assert not {"none", "HS256", "HS384", "HS512"} & ASYMMETRIC_ALGORITHMS


_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_KEYS: list[tuple[str, Any]] = [
    ("ES256", ec.generate_private_key(ec.SECP256R1())),
    ("ES384", ec.generate_private_key(ec.SECP384R1())),
    ("ES512", ec.generate_private_key(ec.SECP521R1())),
    ("RS256", _RSA_KEY),
    ("RS512", _RSA_KEY),
    ("PS256", _RSA_KEY),
    ("PS384", _RSA_KEY),
    ("EdDSA", ed25519.Ed25519PrivateKey.generate()),
    ("EdDSA", ed448.Ed448PrivateKey.generate()),
    ("Ed25519", ed25519.Ed25519PrivateKey.generate()),
    ("Ed448", ed448.Ed448PrivateKey.generate()),
]


@pytest.mark.parametrize(("alg", "private_key"), _KEYS)
def test_joserfc_signatures_verify(alg: str, private_key: Any) -> None:
    jwk = dict(public_key_to_jwk(private_key.public_key()))
    token = joserfc_token(alg, private_key)
    assert verify_signature(parse(token), alg, jwk)
    assert verify_signature(parse(token), alg, jwk)  # from the cache
    forged = joserfc_token(alg, private_key, {"sub": "y"}).rsplit(".", 1)[0] + "." + token.rsplit(".", 1)[1]
    assert not verify_signature(parse(forged), alg, jwk)


@pytest.mark.parametrize(
    ("alg", "private_key"),
    [
        ("ES384", ec.generate_private_key(ec.SECP256R1())),  # the curve fixes the algorithm
        ("ES256", ec.generate_private_key(ec.SECP384R1())),
        ("RS256", ec.generate_private_key(ec.SECP256R1())),
        ("ES256", _RSA_KEY),
        ("Ed25519", ed448.Ed448PrivateKey.generate()),
        ("Ed448", ed25519.Ed25519PrivateKey.generate()),
        ("ML-DSA-44", ec.generate_private_key(ec.SECP256R1())),
    ],
)
def test_a_key_of_another_kind_is_an_algorithm_error(alg: str, private_key: Any) -> None:
    jwk = dict(public_key_to_jwk(private_key.public_key()))
    token = parse(joserfc_token("ES256", ec.generate_private_key(ec.SECP256R1())))
    for _ in range(2):  # refusals are not cached
        with pytest.raises(ValueError, match="cannot"):
            verify_signature(token, alg, jwk)


@pytest.mark.parametrize(
    "extra",
    [{"use": "enc"}, {"key_ops": ["sign"]}, {"alg": "ES384"}],
    ids=["use-enc", "key_ops-sign", "alg-ES384"],
)
def test_jwk_parameters_still_restrict_the_key(extra: dict[str, Any]) -> None:
    """RFC 7517 sections 4.2-4.4 (``use``, ``key_ops``, ``alg``), as joserfc checks them."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = {**public_key_to_jwk(private_key.public_key()), **extra}
    token = parse(joserfc_token("ES256", private_key))
    for _ in range(2):
        with pytest.raises(ValueError, match="cannot be used"):
            verify_signature(token, "ES256", jwk)
    assert verify_signature(token, "ES256", dict(public_key_to_jwk(private_key.public_key())))


def test_cnf_key_restricted_by_its_parameters_cannot_sign_the_pop() -> None:
    attester, device = Attester(), DeviceKey()
    attestation = attester.forge(claims={"cnf": {"jwk": {**device.jwk, "use": "enc"}}}, device=device)
    policy = make_policy(attester)
    request = AttestationRequest(attestations=(attestation,), pops=(make_pop(device),), client_id=CLIENT_ID)
    with pytest.raises(errors.PopAlg):
        validate_client_attestation(request, policy, now=NOW)


def test_es256_signature_encodings() -> None:
    """RFC 7518 section 3.4: exactly 64 octets of R || S; DER and other lengths never verify."""
    attester = Attester()
    private_key = attester.ring.active().private_key
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)
    raw = es256_signer(private_key)
    policy = make_policy(attester)

    def check(signer: Any) -> None:
        verify_client_attestation(attester.forge(signer=signer), policy, now=NOW)

    check(raw)
    for wrong in (
        lambda data: private_key.sign(data, _ES256),  # DER, as OpenSSL returns it
        lambda data: raw(data)[:63],
        lambda data: raw(data) + b"\x00",
        lambda data: b"\x00" + raw(data),
        lambda data: raw(data)[:32] + bytes(32),
    ):
        with pytest.raises(errors.AttestationSignature):
            check(wrong)


def test_signature_segment_must_be_strict_base64url() -> None:
    attester = Attester()
    policy = make_policy(attester)
    token = attester.forge()
    head, signature = token.rsplit(".", 1)
    verify_client_attestation(token, policy, now=NOW)
    assert len(signature) == 86  # 64 octets: two unused bits in the last character
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(signature[-1])
    non_canonical = signature[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last | 1]
    for variant in (signature + "==", non_canonical, signature.replace("-", "+").replace("_", "/") + "+/"):
        with pytest.raises(errors.AttestationMalformed):
            verify_client_attestation(f"{head}.{variant}", policy, now=NOW)


def test_another_key_under_the_same_kid_is_not_confused() -> None:
    """The cache is keyed by every JWK member: a JWKS that swaps the key behind a kid is checked
    against the new key, in both directions."""
    attester, impostor = Attester(), Attester()
    kid = attester.ring.active().kid
    swapped = {"keys": [{**impostor.ring.active().public_jwk(), "kid": kid}]}
    genuine_policy = make_policy(attester)
    swapped_policy = make_policy(jwks=StaticJwksSource(swapped))
    genuine = attester.issue(DeviceKey())
    impostor_private = impostor.ring.active().private_key
    assert isinstance(impostor_private, ec.EllipticCurvePrivateKey)
    by_impostor = attester.forge(signer=es256_signer(impostor_private))
    for _ in range(2):
        verify_client_attestation(genuine, genuine_policy, now=NOW)
        with pytest.raises(errors.AttestationSignature):
            verify_client_attestation(genuine, swapped_policy, now=NOW)
        verify_client_attestation(by_impostor, swapped_policy, now=NOW)
        with pytest.raises(errors.AttestationSignature):
            verify_client_attestation(by_impostor, genuine_policy, now=NOW)


def test_joserfc_issued_attestation_and_pop_validate() -> None:
    """A request whose attestation and PoP joserfc signed passes the whole of section 7."""
    attester, device = Attester(), DeviceKey()
    signing_key = attester.ring.active()
    assert device.ec_key is not None
    now_s = int(NOW.timestamp())
    attestation = jwt.encode(
        {"typ": "oauth-client-attestation+jwt", "alg": "ES256", "kid": signing_key.kid},
        {"iss": ATTESTER, "sub": CLIENT_ID, "iat": now_s - 10, "exp": now_s + 600, "cnf": {"jwk": device.jwk}},
        ECKey.import_key(signing_key.private_key),  # type: ignore[arg-type]
        algorithms=["ES256"],
    )
    pop = jwt.encode(
        {"typ": "oauth-client-attestation-pop+jwt", "alg": "ES256"},
        {"aud": AS_ISSUER, "jti": secrets.token_urlsafe(12), "iat": now_s},
        ECKey.import_key(device.ec_key),
        algorithms=["ES256"],
    )
    request = AttestationRequest(attestations=(attestation,), pops=(pop,), url=TOKEN_URL, client_id=CLIENT_ID)
    validated = validate_client_attestation(request, make_policy(attester), now=NOW)
    assert validated.client_id == CLIENT_ID
    assert dict(validated.attestation.cnf_jwk) == device.jwk


def test_our_issued_attestation_verifies_with_joserfc() -> None:
    attester, device = Attester(), DeviceKey()
    token = attester.issue(device)
    public = ECKey.import_key(attester.ring.active().public_jwk())  # type: ignore[arg-type]
    decoded = jwt.decode(token, public, algorithms=["ES256"])
    assert decoded.claims["cnf"] == {"jwk": device.jwk}
