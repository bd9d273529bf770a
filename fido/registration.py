"""Registering a passkey: the creation options (WebAuthn Level 3 section 5.4) and the verification of
the authenticator's response (section 7.1, "Registering a New Credential").

Pure: JSON and bytes in, a frozen :class:`VerifiedRegistration` or a typed error out, the time of
verification an argument. Storing the credential (step 26 onwards) is the caller's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from webauthn import generate_registration_options
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from fido import credential_json
from fido.attestation import AttestationPolicy, VerifiedAttestation, verify_attestation_statement
from fido.authenticator_data import parse_authenticator_data, verify_authenticator_data
from fido.cbor import CborError, decode_exact
from fido.client_data import CREATE, parse_client_data, verify_client_data
from fido.errors import AttestationObjectMalformed, AuthenticatorDataMalformed, CredentialIdInvalid
from fido.public_key import SUPPORTED_ALGORITHMS, load_public_key
from fido.relying_party import RelyingParty


@dataclass(frozen=True)
class UserEntity:
    """Section 5.4.3: the account a passkey is created for. ``id`` is the user handle: random bytes,
    never personal data (section 14.6.1)."""

    id: bytes
    name: str
    display_name: str


@dataclass(frozen=True)
class CredentialDescriptor:
    """Section 5.8.3: a registered credential, for excludeCredentials / allowCredentials."""

    id: bytes
    transports: tuple[str, ...] = ()

    def to_py_webauthn(self) -> PublicKeyCredentialDescriptor:
        return PublicKeyCredentialDescriptor(
            id=self.id, transports=[AuthenticatorTransport(t) for t in self.transports] or None
        )


def registration_options(
    *,
    rp: RelyingParty,
    user: UserEntity,
    challenge: bytes,
    exclude: Sequence[CredentialDescriptor],
    require_user_verification: bool,
    attestation: str,
    timeout: timedelta,
) -> dict[str, Any]:
    """PublicKeyCredentialCreationOptionsJSON (section 5.4, serialized per section 5.1.8):
    a discoverable credential preferred (``residentKey: preferred``), the user's existing passkeys
    excluded so that one authenticator is not registered twice, ES256, EdDSA and RS256 offered."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user.id,
        user_name=user.name,
        user_display_name=user.display_name,
        challenge=challenge,
        timeout=int(timeout.total_seconds() * 1000),
        attestation=AttestationConveyancePreference(attestation),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            require_resident_key=False,
            user_verification=UserVerificationRequirement.REQUIRED
            if require_user_verification
            else UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[descriptor.to_py_webauthn() for descriptor in exclude],
        supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
    )
    return options_to_json_dict(options)


@dataclass(frozen=True)
class RegistrationResponse:
    """A RegistrationResponseJSON (section 5.1.8), decoded."""

    credential_id: bytes
    client_data_json: bytes
    attestation_object: bytes
    transports: tuple[str, ...]
    authenticator_attachment: str | None


def parse_registration_response(credential: Mapping[str, Any]) -> RegistrationResponse:
    """The members of a RegistrationResponseJSON that registration uses (section 7.1 steps 3-4)."""
    raw_id = credential_json.credential_id(credential)
    response = credential_json.response_of(credential)
    return RegistrationResponse(
        credential_id=raw_id,
        client_data_json=credential_json.binary(
            response, "clientDataJSON", max_bytes=credential_json.MAX_CLIENT_DATA_BYTES
        ),
        attestation_object=credential_json.binary(
            response, "attestationObject", max_bytes=credential_json.MAX_STRUCTURE_BYTES
        ),
        transports=credential_json.transports(response),
        authenticator_attachment=credential_json.authenticator_attachment(credential),
    )


@dataclass(frozen=True)
class VerifiedRegistration:
    """What the relying party stores as the credential record (section 4, "credential record").

    Attributes:
        credential_id: the credential ID (at most 1023 bytes).
        public_key: the COSE_Key exactly as the authenticator encoded it.
        algorithm: its COSE algorithm (-7 ES256, -8 EdDSA, -257 RS256).
        sign_count: the signature counter at creation (0 for most passkeys).
        aaguid: the authenticator model, as a UUID string (all zeros when not disclosed).
        attestation: the format, attestation type and whether it chained to a trust anchor.
        user_verified: the UV flag (``uvInitialized`` of the record).
        backup_eligible: the BE flag: a synced (multi-device) passkey; fixed for the credential's life.
        backup_state: the BS flag: currently backed up.
        transports: how the client can reach the authenticator (for allowCredentials).
        authenticator_attachment: "platform" or "cross-platform", when the client said.
    """

    credential_id: bytes
    public_key: bytes
    algorithm: COSEAlgorithmIdentifier
    sign_count: int
    aaguid: str
    attestation: VerifiedAttestation
    user_verified: bool
    backup_eligible: bool
    backup_state: bool
    transports: tuple[str, ...]
    authenticator_attachment: str | None


def verify_registration(
    response: RegistrationResponse,
    *,
    challenge: bytes,
    rp: RelyingParty,
    require_user_verification: bool,
    policy: AttestationPolicy,
    at: datetime,
    algorithms: tuple[COSEAlgorithmIdentifier, ...] = SUPPORTED_ALGORITHMS,
) -> VerifiedRegistration:
    """Section 7.1 steps 5-25, in order. ``challenge`` is the one this ceremony issued; ``at`` is the
    instant at which attestation certificates must be valid."""
    # Steps 5-6: clientDataJSON, UTF-8 JSON.
    client_data = parse_client_data(response.client_data_json)
    # Steps 7-11: type, challenge, origin, cross-origin; step 12: clientDataHash is client_data.hash.
    verify_client_data(client_data, expected_type=CREATE, challenge=challenge, rp=rp)
    # Step 13: CBOR-decode the attestationObject into fmt, authData and attStmt.
    fmt, auth_data_bytes, att_stmt = _decode_attestation_object(response.attestation_object)
    auth_data = parse_authenticator_data(auth_data_bytes)
    # Steps 14-17: RP ID hash, UP, UV when required, BS only with BE.
    verify_authenticator_data(auth_data, rp=rp, require_user_verification=require_user_verification)
    credential = auth_data.attested_credential
    if credential is None:
        raise AuthenticatorDataMalformed("a registration's authenticatorData must carry attested credential data")
    # The credential the authenticator created is the one the client reports (section 6.5.1, and
    # section 7.1 step 25 bounded its length while parsing).
    if credential.credential_id != response.credential_id:
        raise CredentialIdInvalid("the attested credential ID is not the credential's rawId")
    # Step 20: an algorithm we offered, with the key shape it requires.
    public_key = load_public_key(credential.public_key, algorithms)
    # Steps 21-24: the attestation statement and its trustworthiness under the policy.
    attestation = verify_attestation_statement(
        fmt,
        att_stmt,
        attestation_object=response.attestation_object,
        auth_data=auth_data,
        client_data_json=response.client_data_json,
        policy=policy,
        at=at,
    )
    return VerifiedRegistration(
        credential_id=credential.credential_id,
        public_key=credential.public_key,
        algorithm=public_key.algorithm,
        sign_count=auth_data.sign_count,
        aaguid=str(uuid.UUID(bytes=credential.aaguid)),
        attestation=attestation,
        user_verified=auth_data.user_verified,
        backup_eligible=auth_data.backup_eligible,
        backup_state=auth_data.backup_state,
        transports=response.transports,
        authenticator_attachment=response.authenticator_attachment,
    )


def _decode_attestation_object(raw: bytes) -> tuple[str, bytes, Mapping[str, Any]]:
    """Section 6.5.4: a CBOR map of fmt (text), attStmt (map) and authData (bytes)."""
    try:
        document = decode_exact(raw)
    except CborError as exc:
        raise AttestationObjectMalformed(f"attestationObject is {exc}") from None
    if not isinstance(document, dict):
        raise AttestationObjectMalformed("attestationObject is not a CBOR map")
    fmt, auth_data, att_stmt = document.get("fmt"), document.get("authData"), document.get("attStmt")
    if not isinstance(fmt, str):
        raise AttestationObjectMalformed("attestationObject.fmt is missing or not text")
    if not isinstance(auth_data, bytes):
        raise AttestationObjectMalformed("attestationObject.authData is missing or not bytes")
    if not isinstance(att_stmt, dict) or not all(isinstance(key, str) for key in att_stmt):
        raise AttestationObjectMalformed("attestationObject.attStmt is missing or not a map with text keys")
    return fmt, auth_data, att_stmt
