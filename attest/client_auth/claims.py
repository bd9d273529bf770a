"""Reading JWT claims with their types checked (RFC 7519 section 4.1), and the time window of
proofs (draft section 10.7; RFC 9449 section 11.1)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, overload

from attest.client_auth.errors import ClientAuthError
from attest.tokens.clock import is_numeric_date

#: Longest ``jti`` accepted; RFC 9449 section 11.1 asks for at least 96 random bits, far less.
MAX_JTI_LENGTH = 256


@overload
def string_claim(
    claims: Mapping[str, Any], name: str, *, error: type[ClientAuthError], required: Literal[True] = True
) -> str: ...
@overload
def string_claim(
    claims: Mapping[str, Any], name: str, *, error: type[ClientAuthError], required: Literal[False]
) -> str | None: ...
def string_claim(
    claims: Mapping[str, Any], name: str, *, error: type[ClientAuthError], required: bool = True
) -> str | None:
    """A non-empty string claim; absent is allowed only when not ``required``."""
    value = claims.get(name)
    if value is None and not required and name not in claims:
        return None
    if not isinstance(value, str) or not value:
        raise error(f"claim {name!r} is {'missing' if name not in claims else 'not a non-empty string'}")
    return value


@overload
def numeric_date(
    claims: Mapping[str, Any], name: str, *, error: type[ClientAuthError], required: Literal[True] = True
) -> float: ...
@overload
def numeric_date(
    claims: Mapping[str, Any], name: str, *, error: type[ClientAuthError], required: Literal[False]
) -> float | None: ...
def numeric_date(
    claims: Mapping[str, Any], name: str, *, error: type[ClientAuthError], required: bool = True
) -> float | None:
    """A NumericDate claim (RFC 7519 section 2) as seconds since the epoch."""
    if name not in claims:
        if required:
            raise error(f"claim {name!r} is missing")
        return None
    value = claims[name]
    if not is_numeric_date(value):
        raise error(f"claim {name!r} is not a NumericDate")
    return float(value)


def jti_claim(claims: Mapping[str, Any], *, error: type[ClientAuthError]) -> str:
    """The ``jti`` (RFC 7519 section 4.1.7), bounded in length since it is stored."""
    jti = string_claim(claims, "jti", error=error)
    if len(jti) > MAX_JTI_LENGTH:
        raise error(f"jti of {len(jti)} characters exceeds {MAX_JTI_LENGTH}")
    return jti


def check_iat_window(
    iat: float, *, now: datetime, max_age: timedelta, skew: timedelta, error: type[ClientAuthError]
) -> None:
    """``iat`` no later than ``now + skew`` and no earlier than ``now - max_age - skew``."""
    now_s = now.timestamp()
    if iat > now_s + skew.total_seconds():
        raise error(f"iat {iat:.0f} is {iat - now_s:.0f} s in the future (skew {skew.total_seconds():.0f} s)")
    age = now_s - iat
    limit = (max_age + skew).total_seconds()
    if age > limit:
        raise error(f"iat {iat:.0f} is {age:.0f} s old; at most {limit:.0f} s accepted")


def check_exp_nbf(
    claims: Mapping[str, Any],
    *,
    now: datetime,
    skew: timedelta,
    malformed: type[ClientAuthError],
    expired: type[ClientAuthError],
    not_yet_valid: type[ClientAuthError],
    exp_required: bool,
) -> float | None:
    """``exp`` (RFC 7519 section 4.1.4) and ``nbf`` (section 4.1.5) with ``skew``; returns ``exp``."""
    now_s, skew_s = now.timestamp(), skew.total_seconds()
    exp = (
        numeric_date(claims, "exp", error=malformed)
        if exp_required
        else numeric_date(claims, "exp", error=malformed, required=False)
    )
    nbf = numeric_date(claims, "nbf", error=malformed, required=False)
    if exp is not None and now_s >= exp + skew_s:
        raise expired(f"exp {exp:.0f} passed {now_s - exp:.0f} s ago (skew {skew_s:.0f} s)")
    if nbf is not None and now_s < nbf - skew_s:
        raise not_yet_valid(f"nbf {nbf:.0f} is {nbf - now_s:.0f} s in the future (skew {skew_s:.0f} s)")
    return exp
