"""Path validation details: anchors by public key, the anchor certificate, critical extensions, the cache."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from attest.apple import AppAttestPolicy, IntermediateCache, ReceiptPolicy, TrustAnchor, verify_apple_attestation
from attest.apple.chain import verify_path
from attest.apple.policy import AppAttestApp, apple_app_attestation_root, apple_root_ca_g3
from attest.errors import AttestationError, ConfigurationError
from tests.attest.apple.factory import AppAttestFactory, der, make_ca


def test_bundled_roots_match_the_published_fingerprints() -> None:
    (attestation_root,) = apple_app_attestation_root()
    (g3,) = apple_root_ca_g3()
    assert attestation_root.name == "Apple App Attestation Root CA"
    assert attestation_root.fingerprint == "1ae751fd29896d0f1f13fe226c063f445d40d8938acc6245c251ecc0679330bd"
    assert g3.name == "Apple Root CA - G3"
    assert g3.fingerprint == "9b219d0fbff36a5fb32090571906bceea68617c833a3f61b81e962a8e64db8af"
    from importlib import resources

    roots = resources.files("attest.apple").joinpath("roots")
    for name, expected in (
        ("Apple_App_Attestation_Root_CA.pem", "1CB9823BA28BA6AD2D33A006941DE2AE4F513EF1D4E831B9F7E0FA7B6242C932"),
        ("Apple_Root_CA_G3.pem", "63343ABFB89A6A03EBB57E9B3F5FA7BE7C4F5C756F3017B3A8C488C3653E9179"),
    ):
        certificate = x509.load_pem_x509_certificate(roots.joinpath(name).read_bytes())
        assert hashlib.sha256(der(certificate)).hexdigest().upper() == expected


def test_policies_default_to_the_bundled_roots() -> None:
    apps = (AppAttestApp("ABCDE12345.com.example.app"),)
    assert AppAttestPolicy(apps=apps).anchors == apple_app_attestation_root()
    assert ReceiptPolicy(apps=apps).anchors == apple_root_ca_g3()


def test_anchor_is_its_key_not_its_certificate(factory: AppAttestFactory) -> None:
    # A re-issued root certificate (other serial, expired) with the same key still anchors the chain.
    reissued = make_ca(
        factory.root.subject,
        factory.root_key,
        not_before=factory.now - timedelta(days=20),
        not_after=factory.now - timedelta(days=10),
    )
    built = factory.attestation()
    chain = [der(built.credential_certificate), der(factory.intermediate), der(reissued)]
    path = verify_path(chain, factory.anchors, at=factory.now)
    assert path.anchor.public_key_der == factory.anchors[0].public_key_der


def test_certificates_after_the_anchor_are_refused(factory: AppAttestFactory) -> None:
    built = factory.attestation()
    chain = [der(built.credential_certificate), der(factory.intermediate), der(factory.root), der(factory.root)]
    with pytest.raises(AttestationError) as exc:
        verify_path(chain, factory.anchors, at=factory.now)
    assert exc.value.code == "chain.malformed"


def test_unhandled_critical_extension(factory: AppAttestFactory) -> None:
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    intermediate = factory.make_intermediate(extra=[(unknown, True)])
    built = factory.attestation(intermediate=intermediate)
    with pytest.raises(AttestationError) as exc:
        verify_path([der(built.credential_certificate), der(intermediate)], factory.anchors, at=factory.now)
    assert exc.value.code == "chain.malformed"


def test_non_ecdsa_signatures_are_refused(factory: AppAttestFactory) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_ca = (
        x509.CertificateBuilder()
        .subject_name(factory.intermediate.subject)
        .issuer_name(factory.root.subject)
        .public_key(rsa_key.public_key())
        .serial_number(1)
        .not_valid_before(factory.now - timedelta(days=1))
        .not_valid_after(factory.now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(factory.root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "leaf")]))
        .issuer_name(rsa_ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(2)
        .not_valid_before(factory.now - timedelta(days=1))
        .not_valid_after(factory.now + timedelta(days=1))
        .sign(rsa_key, hashes.SHA256())
    )
    with pytest.raises(AttestationError) as exc:
        verify_path([der(leaf), der(rsa_ca)], factory.anchors, at=factory.now)
    assert exc.value.code == "chain.signature"


def test_cache_keeps_the_path_length_constraints(factory: AppAttestFactory) -> None:
    cache = IntermediateCache()
    constrained = factory.make_intermediate(path_length=0)
    built = factory.attestation(intermediate=constrained)
    verify_path([der(built.credential_certificate), der(constrained)], factory.anchors, at=factory.now, cache=cache)
    # Now a sub-CA under the cached intermediate: one intermediate more than pathLen 0 allows.
    sub_key = ec.generate_private_key(ec.SECP384R1())
    sub = make_ca(
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Sub CA")]),
        sub_key,
        issuer=constrained.subject,
        issuer_key=factory.intermediate_key,
        not_before=factory.now - timedelta(days=1),
        not_after=factory.now + timedelta(days=1),
    )
    deep = factory.attestation(leaf_issuer_name=sub.subject, leaf_signer_key=sub_key)
    chain = [der(deep.credential_certificate), der(sub), der(constrained)]
    with pytest.raises(AttestationError) as exc:
        verify_path(chain, factory.anchors, at=factory.now, cache=cache)
    assert exc.value.code == "chain.issuer_not_ca"


def test_cache_needs_room() -> None:
    with pytest.raises(ConfigurationError):
        IntermediateCache(max_entries=0)


def test_cache_clear(factory: AppAttestFactory) -> None:
    cache = IntermediateCache()
    built = factory.attestation()
    verify_apple_attestation(
        built.data,
        key_id=built.key_id,
        client_data=built.client_data,
        policy=factory.policy(),
        at=built.at,
        cache=cache,
    )
    assert len(cache) == 1
    cache.clear()
    assert len(cache) == 0


def test_anchor_from_pem_deduplicates_keys(factory: AppAttestFactory) -> None:
    pem = factory.root.public_bytes(serialization.Encoding.PEM) * 2
    assert len(TrustAnchor.from_pem(pem)) == 1
    with pytest.raises(ConfigurationError):
        TrustAnchor.from_pem(b"garbage")


def test_warm_cache_gives_the_cold_verdict(factory: AppAttestFactory) -> None:
    """A certificate after the cached intermediate is checked as it would be without the cache."""
    cache = IntermediateCache()
    built = factory.attestation()
    leaf, intermediate = der(built.credential_certificate), der(factory.intermediate)
    verify_path([leaf, intermediate], factory.anchors, at=factory.now, cache=cache)
    for chain in ([leaf, intermediate, b"garbage"], [leaf, intermediate, intermediate]):
        for warm in (None, cache):
            with pytest.raises(AttestationError) as exc:
                verify_path(chain, factory.anchors, at=factory.now, cache=warm)
            assert exc.value.code in ("chain.malformed", "chain.name_chaining", "chain.untrusted_root")
    # With the root appended, a different (longer) path is verified and cached separately.
    with_root = [leaf, intermediate, der(factory.root)]
    assert not verify_path(with_root, factory.anchors, at=factory.now, cache=cache).cached
    assert verify_path(with_root, factory.anchors, at=factory.now, cache=cache).cached
