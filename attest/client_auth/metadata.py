"""What an authorization server or resource server publishes about client attestation
(draft-ietf-oauth-attestation-based-client-auth-10 section 8, section 7.6, section 6.3), and
the challenge endpoint's response."""

from __future__ import annotations

from typing import Any

from attest.client_auth.policy import ATTESTATION_POP_JWT, DPOP_COMBINED, ClientAttestationPolicy
from attest.client_auth.validator import DPOP_NONCE_HEADER

#: ``token_endpoint_auth_methods_supported`` values (draft section 15.6 and section 15.7).
AUTH_METHOD_ATTEST_JWT = "attest_jwt_client_auth"
AUTH_METHOD_ATTEST_JWT_DPOP = "attest_jwt_client_auth_dpop"
#: The Proof-of-Possession method meaning "a Client Attestation may be omitted" (section 7.6).
POP_METHOD_NONE = "none"


def client_attestation_pop_methods_supported(
    policy: ClientAttestationPolicy, *, attestation_optional: bool = False
) -> list[str]:
    """The ``client_attestation_pop_methods_supported`` value (section 7.6): the accepted methods,
    plus ``none`` when clients may leave the attestation out."""
    methods = [method for method in (ATTESTATION_POP_JWT, DPOP_COMBINED) if method in policy.pop_methods]
    if attestation_optional:
        methods.append(POP_METHOD_NONE)
    return methods


def client_attestation_metadata(
    policy: ClientAttestationPolicy,
    *,
    challenge_endpoint: str | None = None,
    attestation_optional: bool = False,
    authorization_server: bool = True,
) -> dict[str, Any]:
    """Metadata members to merge into RFC 8414 (``authorization_server=True``) or RFC 9728
    (protected resource) metadata.

    ``token_endpoint_auth_methods_supported`` lists only the attestation methods: merge it with the
    server's other methods. ``challenge_endpoint`` is included when the server runs one (section 6.3).
    """
    metadata: dict[str, Any] = {}
    if authorization_server:
        auth_methods = []
        if ATTESTATION_POP_JWT in policy.pop_methods:
            auth_methods.append(AUTH_METHOD_ATTEST_JWT)
        if DPOP_COMBINED in policy.pop_methods:
            auth_methods.append(AUTH_METHOD_ATTEST_JWT_DPOP)
        metadata["token_endpoint_auth_methods_supported"] = auth_methods
    metadata["client_attestation_signing_alg_values_supported"] = sorted(policy.attestation_algs)
    metadata["client_attestation_pop_signing_alg_values_supported"] = sorted(policy.pop_algs)
    metadata["client_attestation_pop_methods_supported"] = client_attestation_pop_methods_supported(
        policy, attestation_optional=attestation_optional
    )
    if DPOP_COMBINED in policy.pop_methods:
        # Section 8: required when DPoP is the proof of possession in combined mode.
        metadata["dpop_signing_alg_values_supported"] = sorted(policy.dpop_algs)
    if challenge_endpoint is not None:
        metadata["challenge_endpoint"] = challenge_endpoint
    return metadata


def challenge_response(
    challenge: str | None, *, dpop_nonce: str | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Body and headers of a challenge endpoint response (section 6.3): ``attestation_challenge``
    when the server issues attestation challenges, the DPoP nonce in ``DPoP-Nonce`` when it uses
    DPoP nonces, and ``Cache-Control: no-store`` always."""
    body = {} if challenge is None else {"attestation_challenge": challenge}
    headers = {"Cache-Control": "no-store"}
    if dpop_nonce is not None:
        headers[DPOP_NONCE_HEADER] = dpop_nonce
    return body, headers
