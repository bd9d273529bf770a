"""The token layer: the attester's signing keys and JWKS (``keys``), and the Client Attestation JWT
it issues (``client_attestation``), per draft-ietf-oauth-attestation-based-client-auth-10."""

from attest.tokens.client_attestation import (
    CLIENT_ATTESTATION_TYP,
    VERDICT_CLAIM,
    AttestationVerdict,
    PlayIntegrityClaim,
    issue_client_attestation,
)
from attest.tokens.keys import (
    SIGNING_ALGORITHMS,
    KeyRing,
    KeyState,
    SigningKey,
    generate_signing_key,
    load_signing_key,
    private_key_from_pem,
    private_key_to_pem,
)

__all__ = [
    "CLIENT_ATTESTATION_TYP",
    "SIGNING_ALGORITHMS",
    "VERDICT_CLAIM",
    "AttestationVerdict",
    "KeyRing",
    "KeyState",
    "PlayIntegrityClaim",
    "SigningKey",
    "generate_signing_key",
    "issue_client_attestation",
    "load_signing_key",
    "private_key_from_pem",
    "private_key_to_pem",
]
