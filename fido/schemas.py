"""Request and response bodies of the passkey API (JSON). ``credential`` members carry the browser's
PublicKeyCredential JSON as ``PublicKeyCredential.toJSON()`` and ``@simplewebauthn/browser`` produce it
(WebAuthn Level 3 section 5.1.8); fido.registration / fido.authentication read it strictly."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

CeremonyId = Annotated[str, Field(min_length=1, max_length=64)]
Username = Annotated[str, Field(min_length=1, max_length=256)]
ShortText = Annotated[str, Field(max_length=256)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RegistrationOptionsRequest(_Request):
    username: Username
    display_name: ShortText = ""


class RegistrationVerifyRequest(_Request):
    ceremony_id: CeremonyId
    credential: dict[str, Any]
    label: ShortText | None = None


class AuthenticationOptionsRequest(_Request):
    #: Absent or null: a discoverable-credential ceremony (the authenticator offers the accounts).
    username: Username | None = None


class AuthenticationVerifyRequest(_Request):
    ceremony_id: CeremonyId
    credential: dict[str, Any]


class RenameRequest(_Request):
    label: ShortText


class CeremonyOptions(BaseModel):
    ceremony_id: str
    #: PublicKeyCredentialCreationOptionsJSON or PublicKeyCredentialRequestOptionsJSON.
    options: dict[str, Any]


class RegistrationResult(BaseModel):
    credential_id: str


class LoginResponse(BaseModel):
    login_token: str
    user_id: str


class AccountView(BaseModel):
    user_id: str
    username: str
    display_name: str
    email: str | None
    email_verified: bool


class PasskeyView(BaseModel):
    credential_id: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    transports: list[str]
    aaguid: str
    #: A synced passkey (backup eligible), as opposed to one bound to a single device.
    synced: bool
    backed_up: bool
    attestation_format: str


class PasskeyList(BaseModel):
    account: AccountView
    passkeys: list[PasskeyView]
