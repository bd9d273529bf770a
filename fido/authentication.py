"""Signing in with a passkey: the request options (WebAuthn Level 3 section 5.5) and the verification of
an assertion (section 7.2, "Verifying an Authentication Assertion").

Pure: JSON and bytes in, a frozen :class:`VerifiedAuthentication` or a typed error out. The caller
looks the credential up by its ID and passes the stored record; updating it (step 24) is the caller's,
with a conditional write so that two concurrent sign-ins cannot both move the counter.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from webauthn import generate_authentication_options
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.structs import UserVerificationRequirement

from fido import credential_json
from fido.authenticator_data import parse_authenticator_data, verify_authenticator_data
from fido.client_data import GET, parse_client_data, verify_client_data
from fido.errors import (
    AuthenticatorDataMalformed,
    BackupFlagsInvalid,
    CredentialNotAllowed,
    SignatureInvalid,
    SignCountRegression,
    UserHandleMismatch,
)
from fido.public_key import load_public_key
from fido.registration import CredentialDescriptor
from fido.relying_party import RelyingParty

#: Assertions carry at most a few hundred bytes of signature (RSA-4096 is 512).
MAX_SIGNATURE_BYTES = 1024


def authentication_options(
    *,
    rp: RelyingParty,
    challenge: bytes,
    allow: Sequence[CredentialDescriptor],
    require_user_verification: bool,
    timeout: timedelta,
) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptionsJSON (section 5.5, serialized per section 5.1.8). An empty
    ``allow`` asks for a discoverable credential: the authenticator offers the accounts it holds
    (modal, or in the username field's autofill with ``mediation: "conditional"``)."""
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=int(timeout.total_seconds() * 1000),
        allow_credentials=[descriptor.to_py_webauthn() for descriptor in allow],
        user_verification=UserVerificationRequirement.REQUIRED
        if require_user_verification
        else UserVerificationRequirement.PREFERRED,
    )
    return options_to_json_dict(options)


@dataclass(frozen=True)
class AuthenticationResponse:
    """An AuthenticationResponseJSON (section 5.1.8), decoded."""

    credential_id: bytes
    client_data_json: bytes
    authenticator_data: bytes
    signature: bytes
    user_handle: bytes | None


def parse_authentication_response(credential: Mapping[str, Any]) -> AuthenticationResponse:
    """The members of an AuthenticationResponseJSON that authentication uses (section 7.2 steps 3-4, 7)."""
    raw_id = credential_json.credential_id(credential)
    response = credential_json.response_of(credential)
    return AuthenticationResponse(
        credential_id=raw_id,
        client_data_json=credential_json.binary(
            response, "clientDataJSON", max_bytes=credential_json.MAX_CLIENT_DATA_BYTES
        ),
        authenticator_data=credential_json.binary(
            response, "authenticatorData", max_bytes=credential_json.MAX_STRUCTURE_BYTES
        ),
        signature=credential_json.binary(response, "signature", max_bytes=MAX_SIGNATURE_BYTES),
        user_handle=credential_json.optional_binary(
            response, "userHandle", max_bytes=credential_json.MAX_USER_HANDLE_BYTES
        ),
    )


@dataclass(frozen=True)
class StoredCredential:
    """The parts of a credential record (section 4) that an assertion is checked against."""

    credential_id: bytes
    #: The user handle of the account that owns the credential.
    user_handle: bytes
    public_key: bytes
    sign_count: int
    backup_eligible: bool
    backup_state: bool


@dataclass(frozen=True)
class VerifiedAuthentication:
    """What a verified assertion tells, and the new state of the record (section 7.2 step 24).

    Attributes:
        credential_id: the credential that signed.
        sign_count: the authenticator's signature counter (0: the authenticator keeps none).
        user_verified: the UV flag.
        backup_eligible: the BE flag (equal to the stored value, or verification failed).
        backup_state: the BS flag now.
        backup_state_changed: BS differs from the stored value (a passkey was synced, or stopped being).
    """

    credential_id: bytes
    sign_count: int
    user_verified: bool
    backup_eligible: bool
    backup_state: bool
    backup_state_changed: bool


def verify_authentication(
    response: AuthenticationResponse,
    *,
    credential: StoredCredential,
    challenge: bytes,
    rp: RelyingParty,
    require_user_verification: bool,
    allowed_credentials: Sequence[bytes] = (),
    expected_user_handle: bytes | None = None,
) -> VerifiedAuthentication:
    """Section 7.2 steps 5-22, in order.

    ``credential`` is the record stored under ``response.credential_id``. ``allowed_credentials`` is
    the ceremony's allowCredentials (empty for a discoverable sign-in), ``expected_user_handle`` the
    handle of the account identified before the ceremony (username-first), or None."""
    # Step 5: a credential the ceremony allowed.
    if allowed_credentials and response.credential_id not in allowed_credentials:
        raise CredentialNotAllowed("the passkey used is not one this sign-in allowed")
    # Step 6: the account. Identified before the ceremony: the credential is that account's, and a
    # userHandle, if sent, names it. Not identified: userHandle is required and names the owner.
    if response.credential_id != credential.credential_id:
        raise CredentialNotAllowed("the stored credential is not the one that answered")
    if expected_user_handle is not None and not hmac.compare_digest(credential.user_handle, expected_user_handle):
        raise CredentialNotAllowed("the passkey used belongs to another account than the one signing in")
    if response.user_handle is None:
        if expected_user_handle is None:
            raise UserHandleMismatch("a sign-in without a username needs the userHandle of a discoverable passkey")
    elif not hmac.compare_digest(response.user_handle, credential.user_handle):
        raise UserHandleMismatch("the userHandle is not the handle of the passkey's account")
    # Steps 8-9: clientDataJSON, UTF-8 JSON; steps 10-14: type, challenge, origin, cross-origin.
    client_data = parse_client_data(response.client_data_json)
    verify_client_data(client_data, expected_type=GET, challenge=challenge, rp=rp)
    auth_data = parse_authenticator_data(response.authenticator_data)
    if auth_data.attested_credential is not None:
        raise AuthenticatorDataMalformed("an assertion's authenticatorData must not carry attested credential data")
    # Steps 15-18: RP ID hash, UP, UV when required, BS only with BE.
    verify_authenticator_data(auth_data, rp=rp, require_user_verification=require_user_verification)
    # Step 19: backup eligibility is fixed when a credential is created.
    if auth_data.backup_eligible != credential.backup_eligible:
        raise BackupFlagsInvalid(
            f"the BE flag is {int(auth_data.backup_eligible)} but was {int(credential.backup_eligible)} at registration"
        )
    # Steps 20-21: the signature over authenticatorData || SHA-256(clientDataJSON).
    public_key = load_public_key(credential.public_key)
    if not public_key.verify(response.signature, response.authenticator_data + client_data.hash):
        raise SignatureInvalid("the assertion signature does not verify with the registered public key")
    # Step 22: a counter that does not move forward is the sign of a cloned authenticator. Both
    # zero means the authenticator keeps no counter (most passkeys), which is not a regression.
    if (auth_data.sign_count or credential.sign_count) and auth_data.sign_count <= credential.sign_count:
        raise SignCountRegression(
            f"the signature counter is {auth_data.sign_count}, not above the stored {credential.sign_count}: "
            "the authenticator may have been cloned"
        )
    return VerifiedAuthentication(
        credential_id=credential.credential_id,
        sign_count=auth_data.sign_count,
        user_verified=auth_data.user_verified,
        backup_eligible=auth_data.backup_eligible,
        backup_state=auth_data.backup_state,
        backup_state_changed=auth_data.backup_state != credential.backup_state,
    )
