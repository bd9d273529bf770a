"""Request and response bodies of the passkey API (JSON). ``credential`` members carry the browser's
PublicKeyCredential JSON as ``PublicKeyCredential.toJSON()`` and ``@simplewebauthn/browser`` produce it
(WebAuthn Level 3 section 5.1.8); fido.registration / fido.authentication read it strictly."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


# --- email verification and recovery (fido/recovery_routes.py) -----------------------------------------

#: Checked by fido.email_verification.normalize_email (254 octets at most); the bound here stops giant input.
EmailText = Annotated[str, Field(min_length=1, max_length=320)]
#: 8 digits as mailed; spaces and hyphens a user types are allowed.
CodeText = Annotated[str, Field(min_length=1, max_length=32)]
#: The link's token: base64url of 32 bytes (43 characters).
TokenText = Annotated[str, Field(min_length=1, max_length=64)]


class EmailVerificationRequest(_Request):
    #: Absent: the account's current address (e.g. the email it signed up with).
    email: EmailText | None = None


class EmailConfirmRequest(_Request):
    """Exactly one of ``code`` (signed in) and ``token`` (from the link)."""

    code: CodeText | None = None
    token: TokenText | None = None

    @model_validator(mode="after")
    def _one_of(self) -> EmailConfirmRequest:
        if (self.code is None) == (self.token is None):
            raise ValueError("send either code or token")
        return self


class RecoveryStartRequest(_Request):
    email: EmailText


class RecoveryVerifyRequest(_Request):
    """``email`` and ``code`` (typed), or ``token`` (from the link)."""

    email: EmailText | None = None
    code: CodeText | None = None
    token: TokenText | None = None

    @model_validator(mode="after")
    def _one_way(self) -> RecoveryVerifyRequest:
        by_code = self.email is not None and self.code is not None and self.token is None
        by_token = self.token is not None and self.email is None and self.code is None
        if not (by_code or by_token):
            raise ValueError("send either email and code, or token")
        return self


class RecoveryCompleteRequest(_Request):
    #: True: remove every passkey of the account except the one this recovery added.
    remove_other_passkeys: bool


class EmailVerificationStarted(BaseModel):
    email: str
    expires_in: int


class EmailVerified(BaseModel):
    email: str
    email_verified: bool


class RecoveryStarted(BaseModel):
    """The same for every address, known or not."""

    status: str
    detail: str
    expires_in: int


class RecoveryView(BaseModel):
    user_id: str
    username: str
    display_name: str
    #: The recovery added its passkey; what is left is the choice about the other passkeys.
    passkey_added: bool
    #: Passkeys of the account other than the one this recovery added.
    other_passkeys: int
    expires_at: datetime


class RecoveryCompleted(BaseModel):
    removed_passkeys: int
