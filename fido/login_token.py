"""The signed login result: a short-lived JWT (RFC 7519) that tells the authorization server coordinating
the login who signed in, how and when, verifiable with our JWKS (``/.well-known/jwks.json``).

Header: ``typ: login-result+jwt`` (explicit typing, RFC 8725 section 3.11, so that it is never taken
for another kind of token we sign), ``alg``, ``kid``. Claims: ``iss``, ``sub`` (our account id),
``aud`` when configured, ``iat``, ``exp``, ``jti``, ``auth_time`` (OpenID Connect Core section 2),
``amr`` (RFC 8176: ``hwk`` for a device-bound passkey, ``swk`` for a synced one, i.e. backup eligible,
whose private key is managed in software by a passkey provider; and ``user``, the user-presence
test) and ``credential_id`` (base64url).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, KeySetSerialization, OKPKey

from attest.tokens.clock import from_numeric_date, is_numeric_date, require_aware, to_numeric_date
from attest.tokens.keys import SIGNING_ALGORITHMS, KeyState, SigningKey
from fido import base64url
from fido.errors import LoginTokenInvalid

LOGIN_RESULT_TYP = "login-result+jwt"


@dataclass(frozen=True)
class LoginResult:
    """The claims of a verified login result."""

    user_id: str
    credential_id: bytes
    auth_time: datetime
    amr: tuple[str, ...]
    expires_at: datetime
    jti: str


def authentication_methods(*, backup_eligible: bool) -> list[str]:
    """RFC 8176 ``amr``: the key's custody, then user presence."""
    return ["swk" if backup_eligible else "hwk", "user"]


def issue_login_token(
    *,
    key: SigningKey,
    issuer: str,
    user_id: str,
    credential_id: bytes,
    backup_eligible: bool,
    auth_time: datetime,
    ttl: timedelta,
    now: datetime,
    audience: str | None = None,
) -> str:
    """A signed login result (compact JWS) with the active signing key."""
    require_aware(now)
    if key.state is not KeyState.ACTIVE:
        raise LoginTokenInvalid(f"key {key.kid} is {key.state.value}; only the ACTIVE key signs")
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": user_id,
        "iat": to_numeric_date(now),
        "exp": to_numeric_date(now + ttl),
        "jti": secrets.token_urlsafe(16),
        "auth_time": to_numeric_date(auth_time),
        "amr": authentication_methods(backup_eligible=backup_eligible),
        "credential_id": base64url.encode(credential_id),
    }
    if audience is not None:
        claims["aud"] = audience
    header = {"typ": LOGIN_RESULT_TYP, "alg": key.alg, "kid": key.kid}
    private_key = key.private_key
    signer = (
        ECKey.import_key(private_key)
        if isinstance(private_key, ec.EllipticCurvePrivateKey)
        else OKPKey.import_key(private_key)
    )
    return jwt.encode(header, claims, signer, algorithms=[key.alg])


def verify_login_token(
    token: str,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    now: datetime,
    audience: str | None = None,
    leeway: timedelta = timedelta(seconds=30),
) -> LoginResult:
    """The authorization server's side: signature by a key of ``jwks``, ``typ``, issuer, audience (when
    expected), lifetime as of ``now``, and the claims' types."""
    require_aware(now)
    try:
        keys = KeySet.import_key_set(cast(KeySetSerialization, dict(jwks)))
        decoded = jwt.decode(token, keys, algorithms=list(SIGNING_ALGORITHMS))
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise LoginTokenInvalid(f"the login result does not verify: {type(exc).__name__}") from None
    if decoded.header.get("typ") != LOGIN_RESULT_TYP:
        raise LoginTokenInvalid(f"the token's typ is not {LOGIN_RESULT_TYP!r}")
    claims = decoded.claims
    if claims.get("iss") != issuer:
        raise LoginTokenInvalid("the login result was issued by another issuer")
    if audience is not None and claims.get("aud") != audience:
        raise LoginTokenInvalid("the login result is meant for another audience")
    for name in ("exp", "iat", "auth_time"):
        if not is_numeric_date(claims.get(name)):
            raise LoginTokenInvalid(f"the login result has no valid {name!r}")
    expires_at = from_numeric_date(claims["exp"])
    if expires_at + leeway <= now:
        raise LoginTokenInvalid(f"the login result expired at {expires_at.isoformat()}")
    if from_numeric_date(claims["iat"]) - leeway > now:
        raise LoginTokenInvalid("the login result was issued in the future")
    credential_id = base64url.decode(claims.get("credential_id"), max_bytes=1023)
    amr = claims.get("amr")
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("jti"), str) or credential_id is None:
        raise LoginTokenInvalid("the login result lacks sub, jti or credential_id")
    if not isinstance(amr, list) or not all(isinstance(method, str) for method in amr):
        raise LoginTokenInvalid("the login result's amr is not a list of strings")
    return LoginResult(
        user_id=claims["sub"],
        credential_id=credential_id,
        auth_time=from_numeric_date(claims["auth_time"]),
        amr=tuple(amr),
        expires_at=expires_at,
        jti=claims["jti"],
    )
