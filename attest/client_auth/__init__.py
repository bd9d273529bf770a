"""The validator an authorization server or resource server uses to authenticate clients by
OAuth 2.0 Attestation-Based Client Authentication (draft-ietf-oauth-attestation-based-client-auth-10).

Modules are named for the artifact they check: ``attestation`` (the Client Attestation JWT,
section 7.1), ``pop`` (the PoP JWT, section 7.2), ``dpop`` (RFC 9449 proofs and combined mode,
section 7.3), ``validator`` (the request-level rules of section 7); ``jwks`` and ``replay`` are the
injected key source and replay memory, ``metadata`` what the server publishes (section 8), and
``fastapi`` a ready-made dependency. ``errors`` holds the error family and OAuth error codes.
"""

from attest.client_auth.attestation import VerifiedAttestation, verify_client_attestation
from attest.client_auth.dpop import VerifiedDpop, verify_dpop_proof
from attest.client_auth.jwks import HttpJwksSource, JwksSource, StaticJwksSource
from attest.client_auth.metadata import (
    challenge_response,
    client_attestation_metadata,
    client_attestation_pop_methods_supported,
)
from attest.client_auth.policy import (
    ATTESTATION_POP_JWT,
    DPOP_COMBINED,
    ChallengeChecker,
    ClientAttestationPolicy,
)
from attest.client_auth.pop import VerifiedPop, verify_attestation_pop
from attest.client_auth.replay import InMemoryReplayStore, ReplayStore, SqlReplayStore
from attest.client_auth.validator import (
    AttestationRequest,
    ValidatedClient,
    validate_client_attestation,
)

__all__ = [
    "ATTESTATION_POP_JWT",
    "DPOP_COMBINED",
    "AttestationRequest",
    "ChallengeChecker",
    "ClientAttestationPolicy",
    "HttpJwksSource",
    "InMemoryReplayStore",
    "JwksSource",
    "ReplayStore",
    "SqlReplayStore",
    "StaticJwksSource",
    "ValidatedClient",
    "VerifiedAttestation",
    "VerifiedDpop",
    "VerifiedPop",
    "challenge_response",
    "client_attestation_metadata",
    "client_attestation_pop_methods_supported",
    "validate_client_attestation",
    "verify_attestation_pop",
    "verify_client_attestation",
    "verify_dpop_proof",
]
