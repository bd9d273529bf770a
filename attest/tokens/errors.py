"""Errors of the token layer: signing keys, key rings, and the Client Attestation JWTs we issue.

Every class only sets ``code`` (see :mod:`attest.errors`); its docstring says what the check stops.
"""

from __future__ import annotations

from attest.errors import AttestationError


class TokenError(AttestationError):
    """A token cannot be issued as asked."""

    code = "token.invalid"


class SigningKeyInvalid(TokenError):
    """A signing key is unusable: an unsupported algorithm or curve, unreadable PEM, a ``kid`` that is
    not the RFC 7638 thumbprint of the key, or timestamps that contradict its state. Stops a
    mislabelled key from being published under one ``kid`` while signing as another."""

    code = "token.signing_key"


class SigningKeyNotActive(TokenError):
    """Only the ACTIVE key signs. A NEXT key may not be in relying parties' cached JWKS yet, and a
    RETIRED key is on its way out of the JWKS: tokens signed by either would fail to verify."""

    code = "token.signing_key_state"


class KeyRingInvalid(TokenError):
    """A key ring breaks the rotation rules (exactly one ACTIVE key, at most one NEXT key, unique
    ``kid``s, a NEXT key published long enough before it is promoted)."""

    code = "token.key_ring"


class VerdictInvalid(TokenError):
    """An attestation verdict holds a value outside its documented set: stops free-form (and
    possibly identifying) data from leaking into the ``attestation`` claim."""

    code = "token.verdict"


class JwkMalformed(TokenError):
    """A JWK is not a well-formed public key of a supported type (RFC 7517/7518, RFC 8037, AKP):
    stops unverifiable or ambiguous keys from being bound into a token."""

    code = "jwk.malformed"


class JwkPrivate(TokenError):
    """A JWK carries private key members (``d``, ``p``, ``q``, ``dp``, ``dq``, ``qi``, ``oth``, ``k``,
    ``priv``): stops a client's private key being published inside a token."""

    code = "jwk.private"
