"""The attested key as a JWK and as SubjectPublicKeyInfo DER, read from the certificate's encoding.

The attested key becomes ``cnf.jwk`` of the Client Attestation JWT. An EC key's JWK coordinates are
unsigned big-endian integers of the curve's size (RFC 7518 section 6.2.1), and its SubjectPublicKeyInfo
in canonical DER ends with exactly those bytes, in its uncompressed point (RFC 5480 sections 2.1.1 and
2.2). When the certificate encodes the key so, the JWK is cut from those bytes and the
SubjectPublicKeyInfo is used as it is: exporting the key would give the same, at the cost of encoding
the point again. Any other key or encoding is exported with ``cryptography``
(:func:`attest.jwk.public_key_to_jwk`): for an RSA key that is faster than reading the modulus and
exponent out of the DER in Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from attest.jwk import b64url, public_key_to_jwk

#: The DER of an EC SubjectPublicKeyInfo up to its point: id-ecPublicKey with the namedCurve OID, then the
#: BIT STRING header and 0x04, "uncompressed" (RFC 5480 sections 2.1.1 and 2.2); with each, the curve's
#: name in ``cryptography``, its JWK name and its coordinate size.
EC_SPKI_PREFIXES: Mapping[bytes, tuple[str, str, int]] = MappingProxyType(
    {
        bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03010703420004"): ("secp256r1", "P-256", 32),
        bytes.fromhex("3076301006072a8648ce3d020106052b8104002203620004"): ("secp384r1", "P-384", 48),
        bytes.fromhex("30819b301006072a8648ce3d020106052b810400230381860004"): ("secp521r1", "P-521", 66),
    }
)


def attested_key(key: CertificatePublicKeyTypes, encoded: bytes | None) -> tuple[Mapping[str, str], bytes]:
    """``key`` as a JWK and as SubjectPublicKeyInfo DER. ``encoded``: the SubjectPublicKeyInfo as the
    certificate encodes it (the bytes ``key`` was read from), or None."""
    if encoded is not None:
        jwk = _ec_jwk(key, encoded)
        if jwk is not None:
            return jwk, encoded
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public_key_to_jwk(key), spki


def _ec_jwk(key: CertificatePublicKeyTypes, encoded: bytes) -> Mapping[str, str] | None:
    """The JWK of an EC key whose encoding is a named-curve prefix and an uncompressed point."""
    for prefix, (curve, crv, size) in EC_SPKI_PREFIXES.items():
        if len(encoded) == len(prefix) + 2 * size and encoded.startswith(prefix):
            if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != curve:
                return None
            point = len(prefix)
            return MappingProxyType(
                {
                    "kty": "EC",
                    "crv": crv,
                    "x": b64url(encoded[point : point + size]),
                    "y": b64url(encoded[point + size :]),
                }
            )
    return None
