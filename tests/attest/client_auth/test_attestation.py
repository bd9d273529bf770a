"""Client Attestation JWT rules (draft section 4 and section 7.1) on tokens we sign ourselves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from attest.client_auth import errors, verify_client_attestation
from attest.client_auth.errors import ClientAuthError
from attest.tokens import AttestationVerdict
from tests.attest.client_auth.factory import (
    ATTESTER,
    CLIENT_ID,
    NOW,
    Attester,
    DeviceKey,
    b64,
    encode_jws,
    es256_signer,
    hs256_signer,
    make_policy,
    no_signature,
)


def reject(token: str, attester: Attester, expected: type[ClientAuthError], **policy: object) -> ClientAuthError:
    with pytest.raises(expected) as caught:
        verify_client_attestation(token, make_policy(attester, **policy), now=NOW, client_id=CLIENT_ID)
    return caught.value


def test_issued_attestation_verifies() -> None:
    attester, device = Attester(), DeviceKey()
    verdict = AttestationVerdict("apple", "secure_enclave", "production", True, False)
    verified = verify_client_attestation(
        attester.issue(device, verdict=verdict), make_policy(attester), now=NOW, client_id=CLIENT_ID
    )
    assert verified.client_id == CLIENT_ID
    assert verified.issuer == ATTESTER
    assert dict(verified.cnf_jwk) == device.jwk
    assert verified.verdict == verdict
    assert verified.expires_at == NOW + timedelta(hours=1)


def test_client_id_is_optional_but_must_match_when_sent() -> None:
    attester = Attester()
    token = attester.issue(DeviceKey())
    assert verify_client_attestation(token, make_policy(attester), now=NOW).client_id == CLIENT_ID
    reject(attester.issue(DeviceKey(), client_id="someone-else"), attester, errors.SubMismatch)


def test_alg_none_is_refused() -> None:
    attester = Attester()
    token = attester.forge(header={"alg": "none"}, signer=no_signature)
    reject(token, attester, errors.AttestationAlg)
    unsigned = token.rsplit(".", 1)[0] + "."
    reject(unsigned, attester, errors.AttestationMalformed)


def test_hs256_keyed_with_the_public_key_is_refused() -> None:
    # The classic algorithm confusion: the attacker MACs with the attester's published key.
    attester = Attester()
    public_key = attester.ring.active().private_key.public_key()
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for secret in (pem, attester.ring.active().public_jwk()["x"].encode()):
        token = attester.forge(header={"alg": "HS256"}, signer=hs256_signer(secret))
        reject(token, attester, errors.AttestationAlg)


def test_policy_cannot_allow_mac_or_none() -> None:
    from attest.errors import ConfigurationError

    for alg in ("HS256", "none"):
        with pytest.raises(ConfigurationError):
            make_policy(attestation_algs=frozenset({"ES256", alg}))


def test_alg_must_be_on_the_allow_list_and_match_the_key() -> None:
    attester = Attester()
    reject(attester.issue(DeviceKey()), attester, errors.AttestationAlg, attestation_algs=frozenset({"ES384"}))
    reject(attester.forge(header={"alg": "ES384"}), attester, errors.AttestationAlg)  # key published for ES256


def test_unknown_or_missing_kid() -> None:
    attester = Attester()
    reject(attester.forge(header={"kid": "not-a-key"}), attester, errors.AttestationUnknownKid)
    reject(attester.forge(drop_header=("kid",)), attester, errors.AttestationUnknownKid)
    reject(attester.issue(DeviceKey()), Attester(), errors.AttestationUnknownKid)  # another attester's JWKS


def test_signature_by_another_key_under_the_right_kid() -> None:
    attester = Attester()
    impostor = ec.generate_private_key(ec.SECP256R1())
    reject(attester.forge(signer=es256_signer(impostor)), attester, errors.AttestationSignature)


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "x5c"])
def test_key_headers_are_refused(name: str) -> None:
    # The attacker signs with its own key and points at it; the JWKS must stay the only source.
    attester = Attester()
    attacker = ec.generate_private_key(ec.SECP256R1())
    values = {
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "jwk": DeviceKey(attacker).jwk,
        "x5c": [b64(b"not a certificate")],
    }
    token = attester.forge(header={name: values[name]}, signer=es256_signer(attacker))
    reject(token, attester, errors.AttestationKeyHeader)


def test_expired() -> None:
    attester = Attester()
    token = attester.issue(DeviceKey(), now=NOW - timedelta(hours=2))
    error = reject(token, attester, errors.AttestationExpired)
    assert error.oauth_error == "use_fresh_attestation"
    # Within the skew it still passes.
    token = attester.issue(DeviceKey(), now=NOW - timedelta(hours=1, seconds=30))
    verify_client_attestation(token, make_policy(attester), now=NOW)


def test_not_yet_valid() -> None:
    attester = Attester()
    reject(attester.forge(claims={"nbf": int(NOW.timestamp()) + 600}), attester, errors.AttestationNotYetValid)
    reject(attester.forge(claims={"iat": int(NOW.timestamp()) + 600}), attester, errors.AttestationNotYetValid)


def test_max_age() -> None:
    attester = Attester()
    token = attester.issue(DeviceKey(), now=NOW - timedelta(minutes=30))
    reject(token, attester, errors.AttestationStale, max_attestation_age=timedelta(minutes=10))
    reject(attester.forge(drop_claims=("iat",)), attester, errors.AttestationStale, max_attestation_age=timedelta(1))
    verify_client_attestation(token, make_policy(attester, max_attestation_age=timedelta(hours=1)), now=NOW)


@pytest.mark.parametrize("typ", [None, "JWT", "oauth-client-attestation-pop+jwt", "dpop+jwt"])
def test_wrong_typ(typ: str | None) -> None:
    attester = Attester()
    token = attester.forge(header={"typ": typ}) if typ else attester.forge(drop_header=("typ",))
    reject(token, attester, errors.AttestationTyp)


def test_typ_is_a_media_type() -> None:
    attester = Attester()
    token = attester.forge(header={"typ": "application/OAuth-Client-Attestation+JWT"})
    verify_client_attestation(token, make_policy(attester), now=NOW)


def test_issuer_must_be_the_configured_attester() -> None:
    attester = Attester()
    reject(attester.forge(claims={"iss": "https://elsewhere.example"}), attester, errors.AttestationIssuer)
    reject(attester.forge(drop_claims=("iss",)), attester, errors.AttestationIssuer)
    token = attester.forge(drop_claims=("iss",))
    verify_client_attestation(token, make_policy(attester, attester_issuer=None), now=NOW)


@pytest.mark.parametrize(
    ("claims", "drop"),
    [({}, ("sub",)), ({}, ("exp",)), ({"exp": "tomorrow"}, ()), ({"sub": 42}, ()), ({"iat": True}, ())],
)
def test_required_claims(claims: dict[str, object], drop: tuple[str, ...]) -> None:
    attester = Attester()
    reject(attester.forge(claims=claims, drop_claims=drop), attester, errors.AttestationClaims)


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "k", "priv"])
def test_private_key_in_cnf(member: str) -> None:
    attester = Attester()
    jwk = {**DeviceKey().jwk, member: b64(b"secret")}
    reject(attester.forge(claims={"cnf": {"jwk": jwk}}), attester, errors.CnfPrivate)


def test_real_private_key_in_cnf() -> None:
    attester, device = Attester(), DeviceKey()
    assert device.ec_key is not None
    d = device.ec_key.private_numbers().private_value.to_bytes(32, "big")
    reject(attester.forge(claims={"cnf": {"jwk": {**device.jwk, "d": b64(d)}}}), attester, errors.CnfPrivate)


def test_cnf_missing_or_malformed() -> None:
    attester = Attester()
    reject(attester.forge(drop_claims=("cnf",)), attester, errors.CnfMissing)
    reject(attester.forge(claims={"cnf": {"jkt": "abc"}}), attester, errors.CnfMissing)
    off_curve = {**DeviceKey().jwk, "y": b64(b"\x01" * 32)}
    reject(attester.forge(claims={"cnf": {"jwk": off_curve}}), attester, errors.CnfMalformed)
    short = {**DeviceKey().jwk, "x": b64(b"\x01" * 31)}
    reject(attester.forge(claims={"cnf": {"jwk": short}}), attester, errors.CnfMalformed)
    reject(attester.forge(claims={"cnf": {"jwk": {"kty": "oct"}}}), attester, errors.CnfMalformed)
    x25519 = {"kty": "OKP", "crv": "X25519", "x": b64(b"\x09" * 32)}
    reject(attester.forge(claims={"cnf": {"jwk": x25519}}), attester, errors.CnfMalformed)


def test_ml_dsa_cnf_is_accepted() -> None:
    attester, device = Attester(), DeviceKey.ml_dsa()
    verified = verify_client_attestation(attester.issue(device), make_policy(attester), now=NOW)
    assert verified.cnf_jwk["kty"] == "AKP"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d.e",
        "not base64!.e30.AA",
        "e30.e30.AA;param=1",
        b64(b"[]") + ".e30.AA",
        b64(b'{"alg":"ES256","alg":"none"}') + ".e30.AA",
        b64(b'{"alg":"ES256"}') + "=.e30.AA",
    ],
)
def test_malformed(token: str) -> None:
    attester = Attester()
    reject(token, attester, errors.AttestationMalformed)


def test_crit_and_b64_extensions_are_refused() -> None:
    attester = Attester()
    reject(attester.forge(header={"crit": ["exp"], "exp": 1}), attester, errors.AttestationMalformed)
    reject(attester.forge(header={"b64": False}), attester, errors.AttestationMalformed)


def test_signature_covers_the_claims() -> None:
    attester = Attester()
    header, _, signature = attester.issue(DeviceKey()).split(".")
    tampered = encode_jws({}, {"sub": "x"}, no_signature).split(".")[1]
    reject(f"{header}.{tampered}.{signature}", attester, errors.AttestationSignature)
