"""Hypothesis: malformed clientDataJSON, authenticatorData and attestationObject (random bytes, mutations
of genuine responses, and well-formed CBOR / JSON of the wrong shape) only ever produce a typed error
with a code; over HTTP, only a 4xx problem+json with a code, never a 500."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest.errors import AttestationError
from fido import base64url
from fido.attestation import FORMATS, AttestationPolicy
from fido.authentication import StoredCredential, parse_authentication_response, verify_authentication
from fido.registration import parse_registration_response, verify_registration
from fido.relying_party import RelyingParty
from tests.fido.authenticator import ES256, UV, SoftAuthenticator, authenticator_data, cose_key, generate_key
from tests.fido.service import ORIGIN, Passkeys, start_passkeys

RP = RelyingParty.configure(rp_id="example.com", name="Example", web_origins=[ORIGIN])
CHALLENGE = b"\x11" * 32
NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)

# --- strategies ------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
client_data_members = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["webauthn.create", "webauthn.get"]) | json_values,
        "challenge": st.just(base64url.encode(CHALLENGE)) | json_values,
        "origin": st.just(ORIGIN) | json_values,
        "crossOrigin": json_values,
        "topOrigin": json_values,
        "tokenBinding": json_values,
    },
)
cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.binary(max_size=64)
    | st.text(max_size=16),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.integers(-5, 5) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
statement_keys = st.sampled_from(["alg", "sig", "x5c", "ver", "certInfo", "pubArea", "response", "ecdaaKeyId"])
statements = st.dictionaries(statement_keys, cbor_values | st.lists(st.binary(max_size=80), max_size=3), max_size=5)


def mutated(original: bytes) -> st.SearchStrategy[bytes]:
    """``original`` with a byte flipped, a slice removed, or bytes inserted."""
    size = len(original)

    def flip(position: int, bit: int) -> bytes:
        index = position % size
        return original[:index] + bytes([original[index] ^ (1 << bit)]) + original[index + 1 :]

    return st.one_of(
        st.builds(flip, st.integers(0, size - 1), st.integers(0, 7)),
        st.builds(
            lambda a, b: original[: min(a, b)] + original[max(a, b) :], st.integers(0, size), st.integers(0, size)
        ),
        st.builds(
            lambda at, extra: original[:at] + extra + original[at:],
            st.integers(0, size),
            st.binary(min_size=1, max_size=8),
        ),
    )


def genuine_registration() -> dict[str, Any]:
    options = {
        "rp": {"id": "example.com"},
        "user": {"id": base64url.encode(b"\x01" * 64)},
        "challenge": base64url.encode(CHALLENGE),
    }
    return SoftAuthenticator(attestation="self").create(options, origin=ORIGIN)


REGISTRATION = genuine_registration()
GENUINE_CDJ = base64url.decode(REGISTRATION["response"]["clientDataJSON"], max_bytes=4096) or b""
GENUINE_AO = base64url.decode(REGISTRATION["response"]["attestationObject"], max_bytes=65536) or b""
GENUINE_AUTH_DATA = cbor2.loads(GENUINE_AO)["authData"]


def register(client_data: bytes, attestation_object: bytes) -> None:
    credential = dict(REGISTRATION)
    credential["response"] = {
        "clientDataJSON": base64url.encode(client_data),
        "attestationObject": base64url.encode(attestation_object),
    }
    verify_registration(
        parse_registration_response(credential),
        challenge=CHALLENGE,
        rp=RP,
        require_user_verification=False,
        policy=AttestationPolicy(),
        at=NOW,
    )


def only_coded_errors(action: Any) -> None:
    """``action`` succeeds or raises a coded ``webauthn.*`` error; anything else propagates and fails."""
    error: AttestationError | None = None
    try:
        action()
    except AttestationError as raised:
        error = raised
    if error is not None:
        assert error.code.startswith("webauthn."), error.code
        assert error.message


# --- the pure layer -----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    client_data=st.binary(max_size=300)
    | mutated(GENUINE_CDJ)
    | client_data_members.map(lambda m: json.dumps(m).encode())
)
def test_client_data_json(client_data: bytes) -> None:
    only_coded_errors(lambda: register(client_data, GENUINE_AO))


@settings(max_examples=150, deadline=None)
@given(attestation_object=st.binary(max_size=400) | mutated(GENUINE_AO) | cbor_values.map(cbor2.dumps))
def test_attestation_object(attestation_object: bytes) -> None:
    only_coded_errors(lambda: register(GENUINE_CDJ, attestation_object))


@settings(max_examples=200, deadline=None)
@given(
    fmt=st.sampled_from(sorted(FORMATS)) | st.text(max_size=10),
    statement=statements,
    auth_data=st.just(GENUINE_AUTH_DATA) | mutated(GENUINE_AUTH_DATA) | st.binary(max_size=300),
)
def test_attestation_statements_of_every_format(fmt: str, statement: dict[str, Any], auth_data: bytes) -> None:
    attestation_object = cbor2.dumps({"fmt": fmt, "attStmt": statement, "authData": auth_data})
    only_coded_errors(lambda: register(GENUINE_CDJ, attestation_object))


@settings(max_examples=150, deadline=None)
@given(
    flags=st.integers(0, 255),
    tail=st.binary(max_size=200) | cbor_values.map(cbor2.dumps),
    key=st.just(cose_key(generate_key(ES256), ES256)) | cbor_values.map(cbor2.dumps),
)
def test_authenticator_data(flags: int, tail: bytes, key: bytes) -> None:
    stored = StoredCredential(
        credential_id=b"\x05" * 32,
        user_handle=b"\x01" * 64,
        public_key=key,
        sign_count=3,
        backup_eligible=False,
        backup_state=False,
    )
    auth_data = authenticator_data("example.com", flags, 4, tail)
    cdj = json.dumps({"type": "webauthn.get", "challenge": base64url.encode(CHALLENGE), "origin": ORIGIN}).encode()
    credential = {
        "id": base64url.encode(b"\x05" * 32),
        "rawId": base64url.encode(b"\x05" * 32),
        "type": "public-key",
        "response": {
            "clientDataJSON": base64url.encode(cdj),
            "authenticatorData": base64url.encode(auth_data),
            "signature": base64url.encode(hashlib.sha256(auth_data).digest()),
            "userHandle": base64url.encode(b"\x01" * 64),
        },
    }
    only_coded_errors(
        lambda: verify_authentication(
            parse_authentication_response(credential),
            credential=stored,
            challenge=CHALLENGE,
            rp=RP,
            require_user_verification=bool(flags & UV),
        )
    )
    only_coded_errors(lambda: register(GENUINE_CDJ, cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})))


# --- over HTTP ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Passkeys:
    tmp_path: Path = tmp_path_factory.mktemp("properties")
    # Hundreds of hypothesis examples come from one address: the per-address rate limit is not under test.
    return start_passkeys(f"sqlite:///{tmp_path / 'attest.db'}", tmp_path, fixed_time=NOW, rate_limit_per_address=0)


credential_members = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=20) | json_values,
        "rawId": st.text(max_size=20) | json_values,
        "type": st.just("public-key") | json_values,
        "response": st.fixed_dictionaries(
            {},
            optional={
                "clientDataJSON": st.binary(max_size=200).map(base64url.encode) | json_values,
                "attestationObject": st.binary(max_size=300).map(base64url.encode) | json_values,
                "authenticatorData": st.binary(max_size=200).map(base64url.encode) | json_values,
                "signature": st.binary(max_size=80).map(base64url.encode) | json_values,
                "userHandle": st.binary(max_size=70).map(base64url.encode) | json_values,
                "transports": json_values,
            },
        )
        | json_values,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(credential=credential_members, which=st.sampled_from(["registration", "authentication"]))
def test_http_answers_4xx_problems_only(api: Passkeys, credential: dict[str, Any], which: str) -> None:
    if which == "registration":
        started = api.http.post("/v1/passkeys/registration/options", json={"username": "prop-user"})
    else:
        started = api.http.post("/v1/passkeys/authentication/options", json={})
    assert started.status_code == 200, started.text
    response = api.http.post(
        f"/v1/passkeys/{which}/verify", json={"ceremony_id": started.json()["ceremony_id"], "credential": credential}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attestation_object=mutated(GENUINE_AO), client_data=st.just(None) | mutated(GENUINE_CDJ))
def test_http_mutated_registrations(api: Passkeys, attestation_object: bytes, client_data: bytes | None) -> None:
    started = api.http.post("/v1/passkeys/registration/options", json={"username": "prop-user"}).json()
    options = started["options"]
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    credential["response"]["attestationObject"] = base64url.encode(attestation_object)
    if client_data is not None:
        credential["response"]["clientDataJSON"] = base64url.encode(client_data)
    response = api.http.post(
        "/v1/passkeys/registration/verify", json={"ceremony_id": started["ceremony_id"], "credential": credential}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"].startswith("webauthn.")
