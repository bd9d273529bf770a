"""``POST /v1/attest/android``: Android Key Attestation (+ Play Integrity) -> Client Attestation JWT.

The attested Keystore key becomes ``cnf.jwk``: the app signs its PoP (or DPoP) proofs with it. When
the client is configured for Play Integrity, the request's ``integrity_token`` is verified after the
key attestation, bound to the same consumed challenge and the attested package
(:mod:`attest.server.play_integrity`); ``attestation.play_integrity`` in the token says what it
established."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from attest.android.key_description import SecurityLevel
from attest.android.policy import AndroidPolicy, AppIdentityPolicy
from attest.android.verify import verify_android_attestation
from attest.server.challenges import Purpose
from attest.server.clients import AndroidClientConfig
from attest.server.issuance import issue_token
from attest.server.play_integrity import check_play_integrity, claim_of
from attest.server.routes.dependencies import limit_per_address, request_audit, runtime_of
from attest.server.runtime import Runtime
from attest.server.schemas import AndroidAttestRequest, TokenResponse, decode_base64
from attest.server.verdict_transaction import verdict_transaction
from attest.tokens.client_attestation import AttestationVerdict

router = APIRouter(tags=["attest"])

_LEVEL_CLAIM = {
    SecurityLevel.SOFTWARE: "software",
    SecurityLevel.TRUSTED_ENVIRONMENT: "tee",
    SecurityLevel.STRONG_BOX: "strongbox",
}


@router.post("/v1/attest/android", response_model=TokenResponse)
def attest_android(
    body: AndroidAttestRequest, request: Request, runtime: Annotated[Runtime, Depends(runtime_of)]
) -> TokenResponse:
    limit_per_address(request, runtime, "attest")
    chain = [decode_base64(item, f"certificate_chain[{index}]") for index, item in enumerate(body.certificate_chain)]
    now = runtime.now()
    status_list = runtime.status_list.current()  # may fetch: before the transaction opens
    audit = request_audit(request, runtime, event="attest.android", client_id=body.client_id, platform="android")
    with verdict_transaction(
        runtime.engine.begin, audit, now=now, one_statement=runtime.one_statement_verdicts
    ) as transaction:
        client = runtime.clients.get(body.client_id, platform="android")
        assert isinstance(client.config, AndroidClientConfig)
        challenge = transaction.present_challenge(body.challenge, client_id=client.client_id, purpose=Purpose.ATTEST)
        result = verify_android_attestation(
            chain,
            policy_for(client.config, challenge, runtime),
            at=now,
            status_list=status_list,
            intermediate_cache=runtime.android_intermediates,
        )
        # A remote Play Integrity decode holds this request's pooled connection (no lock: nothing is
        # written yet) while Google answers; the pool is as large as the worker's thread pool.
        integrity = check_play_integrity(
            client.config,
            body.integrity_token,
            challenge=challenge,
            attested_packages=result.package_names,
            decoders=runtime.play_integrity,
            at=now,
        )
        transaction.consume_challenge(body.challenge, client_id=client.client_id, purpose=Purpose.ATTEST)
    verdict = AttestationVerdict(
        platform="android",
        security_level=_LEVEL_CLAIM[result.keymint_security_level],
        environment=None,
        app_checked=result.app_checked,
        revocation_checked=result.revocation.checked,
        play_integrity=claim_of(integrity),
    )
    return issue_token(runtime, client, result.public_key_jwk, verdict)


def policy_for(config: AndroidClientConfig, challenge: bytes, runtime: Runtime) -> AndroidPolicy:
    return AndroidPolicy(
        challenge=challenge,
        app=AppIdentityPolicy(
            package_names=frozenset(config.packages),
            signer_digests=frozenset(bytes.fromhex(digest) for digest in config.signer_digests),
        ),
        trust_anchors=runtime.android_anchors,
        min_security_level=SecurityLevel.STRONG_BOX
        if config.min_security_level == "strongbox"
        else SecurityLevel.TRUSTED_ENVIRONMENT,
        require_verified_boot=config.require_verified_boot,
        require_locked_bootloader=config.require_locked_bootloader,
        min_os_version=config.min_os_version,
        min_os_patch_level=config.min_os_patch_level,
        revocation=runtime.settings.revocation,
    )
