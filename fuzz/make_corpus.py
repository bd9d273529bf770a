"""Build the seed corpora of fuzz/corpus/<target>/ from the real samples in fixtures/.

``.venv/bin/python fuzz/make_corpus.py`` rewrites every target's directory (deterministically: run it
again after changing a target's framing or the fixtures, and commit the result). Each seed is a real
sample in its target's framing (:mod:`fuzz.framing`), with the context it verifies in (time,
challenge, key id, App ID ...), so that fuzzing starts from inputs that pass every check; a few
known attacks are added where the fixtures have none. The corpus stays small (a few files per target).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path.insert(0, str(ROOT))

from attest.jwk import b64url, public_key_to_jwk  # noqa: E402
from fuzz import fuzz_android_chain, fuzz_apple_attestation, fuzz_apple_receipt, fuzz_client_auth  # noqa: E402
from fuzz.framing import chunk, instant, pack, uint  # noqa: E402

CORPUS = ROOT / "fuzz" / "corpus"
FIXTURES = ROOT / "fixtures"
KEY_DESCRIPTION_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.1.17")
APPLE_NONCE_OID = x509.ObjectIdentifier("1.2.840.113635.100.8.2")

Seeds = dict[str, bytes]


# --- fixtures ------------------------------------------------------------------------------------


def android_chain(name: str) -> list[bytes]:
    pem = (FIXTURES / "android" / f"{name}.pem").read_bytes()
    return [cert.public_bytes(serialization.Encoding.DER) for cert in x509.load_pem_x509_certificates(pem)]


def android_challenge(name: str) -> bytes:
    """The challenge of a chain (fixtures/android/PROVENANCE.md: "challenge", or the JSON's value)."""
    path = FIXTURES / "android" / f"{name}.json"
    if name.startswith(("caiman", "tegu")):
        text = re.sub(r"^\s*//.*$", "", path.read_text(), flags=re.MULTILINE)
        return base64.b64decode(json.loads(text)["attestationChallenge"])
    return b"challenge"


def key_description(der: bytes) -> bytes:
    extension = x509.load_der_x509_certificate(der).extensions.get_extension_for_oid(KEY_DESCRIPTION_OID)
    assert isinstance(extension.value, x509.UnrecognizedExtension)
    return extension.value.value


def apple_samples(kind: str) -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = json.loads((FIXTURES / "apple" / "samples.json").read_text())[kind]
    return samples


def day(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=UTC)


def apple_point(pem: str) -> bytes:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "-", name)


# --- one builder per target ------------------------------------------------------------------------

#: Android chains: (fixture, a time inside its window, flags); see fixtures/android/PROVENANCE.md.
ANDROID_CHAINS = (
    ("caiman/sdk36/TEE_EC_RKP", "2025-09-30", fuzz_android_chain.CHECK_APP),
    ("tegu/sdk36/SB_EC_2026_ROOT", "2026-03-01", fuzz_android_chain.STRONGBOX),
    ("blueline/sdk28/TEE_EC_NONE", "2026-11-24", fuzz_android_chain.RELAXED_BOOT | fuzz_android_chain.CHECK_APP),
    ("akita/sdk34/TEE_RSA_NONE", "2024-09-20", fuzz_android_chain.RELAXED_BOOT),
    ("tokay/sdk37/TEE_MLDSA_RKP", "2026-05-01", fuzz_android_chain.RELAXED_BOOT),
    ("invalid/tags_not_in_ascending_order", "2025-01-01", fuzz_android_chain.RELAXED_BOOT),
)
#: invalid/malformed_rot_device_locked.pem: its own 89-byte challenge (tests/attest/android/test_verify_fixtures.py).
MALFORMED_ROT_CHALLENGE = bytes.fromhex(
    "019b115a17fdf26b371309467080d0aec1b5a0c1c6a7a3350b920560659fa79b97a21a751a9bf9f031323b99253619dcc4c31a4a8aba03"
    "35006321620f2c70b3e80f0c504f6474b5f487898fe5877cf2d9d7c2cd255e235fa7"
)


def android_chain_seeds() -> Seeds:
    seeds = {}
    for name, at, flags in ANDROID_CHAINS:
        seeds[safe_name(name)] = pack(
            instant(day(at)), uint(flags, 1), chunk(android_challenge(name)), b"".join(android_chain(name))
        )
    rot = "invalid/malformed_rot_device_locked"
    seeds[safe_name(rot)] = pack(
        instant(day("2025-01-01")), uint(0, 1), chunk(MALFORMED_ROT_CHALLENGE), b"".join(android_chain(rot))
    )
    return seeds


def key_description_seeds() -> Seeds:
    names = (
        "blueline/sdk28/TEE_EC_NONE",  # attestation version 3
        "akita/sdk34/TEE_RSA_BASE+IMEI",  # 300, device identifiers
        "caiman/sdk36/TEE_EC_RKP",  # 400
        "tokay/sdk37/TEE_MLDSA_FACTORY",  # 500, ML-DSA
        "allow_while_on_body",  # allowWhileOnBody
        "invalid/malformed_rot_device_locked",  # BER BOOLEAN deviceLocked
        "invalid/tags_not_in_ascending_order",  # tags out of order
    )
    return {safe_name(name): key_description(android_chain(name)[0]) for name in names}


def der_seeds() -> Seeds:
    attestation = apple_samples("attestations")[2]
    credential = x509.load_der_x509_certificate(_x5c(attestation)[0])
    nonce = credential.extensions.get_extension_for_oid(APPLE_NONCE_OID).value
    assert isinstance(nonce, x509.UnrecognizedExtension)
    receipt = base64.b64decode(apple_samples("receipts")[1]["receipt_b64"])
    content = cms.ContentInfo.load(receipt)["content"]["encap_content_info"]["content"].native
    return {
        "key-description-caiman": key_description(android_chain("caiman/sdk36/TEE_EC_RKP")[0]),
        "apple-nonce-extension": nonce.value,
        "apple-credential-certificate": _x5c(attestation)[0],
        "apple-receipt-payload": content,
    }


def _x5c(attestation: Mapping[str, Any]) -> list[bytes]:
    import cbor2

    x5c: list[bytes] = cbor2.loads(base64.b64decode(attestation["attestation_b64"]))["attStmt"]["x5c"]
    return x5c


def status_list_seeds() -> Seeds:
    return {
        "google-sample": (FIXTURES / "android" / "status-list-sample.json").read_bytes(),
        "empty": b'{"entries": {}}',
        "padded-uppercase-serial": b'{"entries": {"00C35D": {"status": "SUSPENDED"}, "1": {"status": "REVOKED"}}}',
    }


def apple_attestation_seeds() -> Seeds:
    seeds = {}
    for sample in apple_samples("attestations"):
        flags = (
            fuzz_apple_attestation.PRODUCTION
            if sample["environment"] == "production"
            else fuzz_apple_attestation.DEVELOPMENT
        )
        seeds[safe_name(sample["name"])] = pack(
            instant(day(sample["verify_at"])),
            uint(flags, 1),
            chunk(base64.b64decode(sample["key_id_b64"])),
            chunk(base64.b64decode(sample["client_data_b64"])),
            chunk(sample["app_id"].encode()),
            base64.b64decode(sample["attestation_b64"]),
        )
    return seeds


def apple_assertion_seeds() -> Seeds:
    return {
        safe_name(sample["name"]): pack(
            uint(sample["stored_counter"], 4),
            chunk(apple_point(sample["public_key_pem"])),
            chunk(base64.b64decode(sample["client_data_b64"])),
            chunk(sample["app_id"].encode()),
            base64.b64decode(sample["assertion_b64"]),
        )
        for sample in apple_samples("assertions")
    }


def apple_receipt_seeds() -> Seeds:
    wanted = {
        "ios-14.2/receipt-1-attest",  # ATTEST, BER (indefinite lengths)
        "ios-14.2/receipt-2-receipt",  # RECEIPT, DER, fresh
        "ios-14.3/receipt-1-attest",
        "ios-14.4-beta-1/receipt-3-receipt",
    }
    seeds = {}
    for sample in apple_samples("receipts"):
        if sample["name"] not in wanted:
            continue
        flags = fuzz_apple_receipt.DEVELOPMENT
        if sample["name"] == "ios-14.2/receipt-2-receipt":
            flags |= fuzz_apple_receipt.FRESH
        seeds[safe_name(sample["name"])] = pack(
            instant(day(sample["verify_at"])),
            uint(flags, 1),
            chunk(sample["app_id"].encode()),
            chunk(apple_point(sample["public_key_pem"])),
            base64.b64decode(sample["receipt_b64"]),
        )
    # The production receipt inside the production attestation, read without a stored key.
    production = next(s for s in apple_samples("attestations") if s["environment"] == "production")
    import cbor2

    receipt = cbor2.loads(base64.b64decode(production["attestation_b64"]))["attStmt"]["receipt"]
    seeds["node-app-attest-production"] = pack(
        instant(day("2024-02-07T21:08:56.308Z")),
        uint(fuzz_apple_receipt.PRODUCTION, 1),
        chunk(production["app_id"].encode()),
        chunk(b""),
        receipt,
    )
    return seeds


def apple_client_data_seeds() -> Seeds:
    """The service's client data around the real App Attest public keys of the samples."""
    challenge = b64url(hashlib.sha256(b"fuzz").digest())
    seeds = {}
    for sample in apple_samples("assertions")[:2]:
        point = apple_point(sample["public_key_pem"])
        jwk = dict(public_key_to_jwk(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)))
        seeds[safe_name(sample["name"])] = json.dumps({"challenge": challenge, "jwk": jwk}).encode()
    seeds["attack-duplicate-member"] = b'{"challenge": "a", "challenge": "b", "jwk": ' + json.dumps(jwk).encode() + b"}"
    seeds["attack-private-member"] = json.dumps({"challenge": challenge, "jwk": {**jwk, "d": jwk["x"]}}).encode()
    return seeds


# --- client_auth: header lines -------------------------------------------------------------------

DRAFT = json.loads((FIXTURES / "oauth" / "abca-draft-10-examples.json").read_text("utf-8"))
DRAFT_IAT = 1772487595


def _segments(token: str) -> tuple[bytes, bytes]:
    header, claims, _ = token.split(".")
    return base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)), base64.urlsafe_b64decode(
        claims + "=" * (-len(claims) % 4)
    )


def _signed(name: str, header: Mapping[str, Any] | bytes, claims: Mapping[str, Any] | bytes) -> str:
    def text(value: Mapping[str, Any] | bytes) -> str:
        return value.decode("latin-1") if isinstance(value, bytes) else json.dumps(value, separators=(",", ":"))

    return f"Fuzz-Sign-{name}: {text(header)}{fuzz_client_auth.SEPARATOR}{text(claims)}"


def client_auth_seeds() -> Seeds:
    device_jwk = dict(public_key_to_jwk(fuzz_client_auth.DEVICE_KEY.public_key()))
    now = int(fuzz_client_auth.NOW.timestamp())
    issuer = "https://attester.example.com"
    client = "https://client.example.com"
    attestation_header = {"typ": "oauth-client-attestation+jwt", "alg": "ES256", "kid": fuzz_client_auth.ATTESTER_KID}
    attestation_claims = {"iss": issuer, "sub": client, "iat": now - 60, "exp": now + 3600, "cnf": {"jwk": device_jwk}}
    pop_header = {"typ": "oauth-client-attestation-pop+jwt", "alg": "ES256"}
    pop_claims = {"aud": fuzz_client_auth.AUDIENCE, "jti": "pop-1", "iat": now, "challenge": "fuzz-challenge"}
    dpop_header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": device_jwk}
    dpop_claims = {
        "jti": "dpop-1",
        "htm": "POST",
        "htu": fuzz_client_auth.REQUEST_URL,
        "iat": now,
        "nonce": "fuzz-nonce",
    }
    attestation = _signed("Attestation", attestation_header, attestation_claims)
    context = f"Fuzz-Issuer: {issuer}\nFuzz-Client-Id: {client}"

    def lines(*items: str) -> bytes:
        return "\n".join(items).encode("latin-1")

    draft_header, draft_claims = _segments(DRAFT["attestation"])
    resigned_header = draft_header.replace(b'"kid":"11"', b'"kid":"%s"' % fuzz_client_auth.ATTESTER_KID.encode())
    assert resigned_header != draft_header
    hs256 = {**attestation_header, "alg": "HS256"}
    return {
        "pop": lines(context, attestation, _signed("Pop", pop_header, pop_claims), "Fuzz-Require-Challenge: 1"),
        "dpop-combined": lines(
            context, attestation, _signed("Dpop", dpop_header, dpop_claims), "Fuzz-Require-Nonce: 1"
        ),
        "pop-and-dpop-with-access-token": lines(
            context,
            "Fuzz-Access-Token: at-1",
            attestation,
            _signed("Pop", pop_header, pop_claims),
            _signed("Dpop", dpop_header, {**dpop_claims, "ath": b64url(hashlib.sha256(b"at-1").digest())}),
        ),
        "draft-examples-as-sent": lines(
            f"Fuzz-Now: {DRAFT_IAT + 20}",
            f"OAuth-Client-Attestation: {DRAFT['attestation']}",
            f"OAuth-Client-Attestation-PoP: {DRAFT['pop']}",
        ),
        "draft-attestation-resigned-with-draft-pop": lines(
            f"Fuzz-Now: {DRAFT_IAT + 20}",
            "Fuzz-Require-Challenge: 1",
            _signed("Attestation", resigned_header, draft_claims),
            f"OAuth-Client-Attestation-PoP: {DRAFT['pop']}",
        ),
        "attack-alg-none": lines(
            context, _signed("Attestation", {**attestation_header, "alg": "none"}, attestation_claims)
        ),
        "attack-hs256": lines(
            context, _signed("Attestation", hs256, attestation_claims), _signed("Pop", pop_header, pop_claims)
        ),
        "attack-jku-injection": lines(
            context,
            _signed("Attestation", {**attestation_header, "jku": "https://evil.example/jwks"}, attestation_claims),
            _signed("Pop", pop_header, pop_claims),
        ),
        "attack-private-cnf": lines(
            context,
            _signed(
                "Attestation", attestation_header, {**attestation_claims, "cnf": {"jwk": {**device_jwk, "d": "AAAA"}}}
            ),
            _signed("Pop", pop_header, pop_claims),
        ),
        "attack-expired": lines(
            context,
            _signed("Attestation", attestation_header, {**attestation_claims, "exp": now - 3600}),
            _signed("Pop", pop_header, pop_claims),
        ),
    }


BUILDERS: Mapping[str, Callable[[], Seeds]] = {
    "android_chain": android_chain_seeds,
    "apple_assertion": apple_assertion_seeds,
    "apple_attestation": apple_attestation_seeds,
    "apple_client_data": apple_client_data_seeds,
    "apple_receipt": apple_receipt_seeds,
    "client_auth": client_auth_seeds,
    "der": der_seeds,
    "key_description": key_description_seeds,
    "status_list": status_list_seeds,
}


def main() -> int:
    total = 0
    for target, build in BUILDERS.items():
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.iterdir():
            stale.unlink()
        for name, data in sorted(build().items()):
            (directory / name).write_bytes(data)
            total += len(data)
        print(f"{target}: {len(list(directory.iterdir()))} seeds")
    print(f"total {total / 1024:.0f} KiB in {CORPUS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
