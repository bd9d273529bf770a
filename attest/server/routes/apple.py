"""``POST /v1/attest/apple`` and ``POST /v1/attest/apple/assertion``: App Attest -> Client Attestation JWT.

``cnf.jwk`` is the Secure Enclave key named in the client data (see
:mod:`attest.server.apple_client_data`), since App Attest keys cannot sign JWTs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from attest.apple.assertion import verify_apple_assertion
from attest.apple.attestation import verify_apple_attestation
from attest.apple.policy import AppAttestApp, AppAttestPolicy, Environment
from attest.server.app_attest_keys import store_attested_key
from attest.server.apple_client_data import parse_apple_client_data
from attest.server.challenges import Purpose
from attest.server.clients import AppleClientConfig, RegisteredClient
from attest.server.errors import RequestMalformed
from attest.server.issuance import issue_token
from attest.server.routes.dependencies import limit_per_address, request_audit, runtime_of
from attest.server.runtime import Runtime
from attest.server.schemas import AppleAssertionRequest, AppleAttestRequest, TokenResponse, decode_base64
from attest.server.verdict_transaction import verdict_transaction
from attest.tokens.client_attestation import AttestationVerdict

router = APIRouter(tags=["attest"])


@router.post("/v1/attest/apple", response_model=TokenResponse)
def attest_apple(
    body: AppleAttestRequest, request: Request, runtime: Annotated[Runtime, Depends(runtime_of)]
) -> TokenResponse:
    limit_per_address(request, runtime, "attest")
    key_id = _key_id(body.key_id)
    attestation = decode_base64(body.attestation_object, "attestation_object")
    client_data_bytes = decode_base64(body.client_data, "client_data")
    now = runtime.now()
    audit = request_audit(request, runtime, event="attest.apple", client_id=body.client_id, platform="apple")
    with verdict_transaction(runtime.engine.begin, audit, now=now) as transaction:
        client_data = parse_apple_client_data(client_data_bytes)
        client = runtime.clients.get(body.client_id, platform="apple")
        transaction.present_challenge(client_data.challenge, client_id=client.client_id, purpose=Purpose.ATTEST)
        attested = verify_apple_attestation(
            attestation,
            key_id=key_id,
            client_data=client_data_bytes,
            policy=policy_for(client, runtime),
            at=now,
            cache=runtime.apple_intermediates,
        )
        transaction.consume_challenge(client_data.challenge, client_id=client.client_id, purpose=Purpose.ATTEST)
        store_attested_key(transaction.database, attested, client_id=client.client_id, risk_metric=None, now=now)
    return issue_token(runtime, client, client_data.jwk, _verdict(attested.environment))


@router.post("/v1/attest/apple/assertion", response_model=TokenResponse)
def assert_apple(
    body: AppleAssertionRequest, request: Request, runtime: Annotated[Runtime, Depends(runtime_of)]
) -> TokenResponse:
    limit_per_address(request, runtime, "attest")
    key_id = _key_id(body.key_id)
    assertion = decode_base64(body.assertion, "assertion")
    client_data_bytes = decode_base64(body.client_data, "client_data")
    now = runtime.now()
    audit = request_audit(request, runtime, event="assert.apple", client_id=body.client_id, platform="apple")
    with verdict_transaction(
        runtime.engine.begin, audit, now=now, one_statement=runtime.one_statement_verdicts
    ) as transaction:
        client_data = parse_apple_client_data(client_data_bytes)
        client = runtime.clients.get(body.client_id, platform="apple")
        stored = runtime.app_attest_keys.load(transaction.database, key_id, client_id=client.client_id)
        transaction.present_challenge(client_data.challenge, client_id=client.client_id, purpose=Purpose.ASSERTION)
        verified = verify_apple_assertion(
            assertion,
            client_data=client_data_bytes,
            public_key=stored.public_key,
            counter=stored.counter,
            policy=policy_for(client, runtime),
        )
        transaction.consume_challenge(client_data.challenge, client_id=client.client_id, purpose=Purpose.ASSERTION)
        transaction.write(
            runtime.app_attest_keys.counter_advance(
                stored, client_id=client.client_id, new_counter=verified.counter, now=now
            )
        )
    return issue_token(runtime, client, client_data.jwk, _verdict(Environment(stored.environment)))


def policy_for(client: RegisteredClient, runtime: Runtime) -> AppAttestPolicy:
    config = client.config
    assert isinstance(config, AppleClientConfig)
    environment = Environment(config.environment)
    return AppAttestPolicy(
        apps=tuple(AppAttestApp(app_id, environment) for app_id in config.app_ids), anchors=runtime.apple_anchors
    )


def _verdict(environment: Environment) -> AttestationVerdict:
    return AttestationVerdict(
        platform="apple",
        security_level="secure_enclave",
        environment=environment.value,
        app_checked=True,
        revocation_checked=False,
    )


def _key_id(value: str) -> bytes:
    key_id = decode_base64(value, "key_id")
    if len(key_id) != 32:
        raise RequestMalformed("key_id must be the base64 of a 32-byte key identifier")
    return key_id
