"""Errors of the client-attestation validator (draft-ietf-oauth-attestation-based-client-auth-10).

Each class sets ``code`` (stable, ``family.reason``) and ``oauth_error``: the OAuth error code to
return (draft section 7.4: ``invalid_client_attestation``, ``use_attestation_challenge``,
``use_fresh_attestation``; RFC 9449 section 7.1: ``invalid_dpop_proof``, ``use_dpop_nonce``).
Families: ``client_attestation.*`` (the Client Attestation JWT, section 7.1), ``pop.*`` (the Client
Attestation PoP JWT, section 7.2), ``dpop.*`` (the DPoP proof, RFC 9449 section 4.3, and combined
mode, section 7.3). Each docstring names what the check stops.
"""

from __future__ import annotations

from typing import ClassVar

from attest.errors import AttestationError

INVALID_CLIENT_ATTESTATION = "invalid_client_attestation"
USE_ATTESTATION_CHALLENGE = "use_attestation_challenge"
USE_FRESH_ATTESTATION = "use_fresh_attestation"
INVALID_DPOP_PROOF = "invalid_dpop_proof"
USE_DPOP_NONCE = "use_dpop_nonce"


class ClientAuthError(AttestationError):
    """A request's client attestation or proof of possession is rejected."""

    code = "client_auth.invalid"
    #: The OAuth ``error`` value to send.
    oauth_error: ClassVar[str] = INVALID_CLIENT_ATTESTATION
    #: True when the fault is ours (e.g. the attester's JWKS is unreachable): answer 503, not 401.
    server_fault: ClassVar[bool] = False


# --- the Client Attestation JWT (section 4, section 7.1) ---------------------------------------


class ClientAttestationError(ClientAuthError):
    """The Client Attestation JWT is rejected."""

    code = "client_attestation.invalid"


class AttestationMissing(ClientAttestationError):
    """No OAuth-Client-Attestation header: the client did not authenticate (section 7.1 step 1)."""

    code = "client_attestation.missing"


class AttestationMultiple(ClientAttestationError):
    """More than one OAuth-Client-Attestation value (section 7.1 step 1): stops a parser differential
    where one component checks one attestation and another uses the other."""

    code = "client_attestation.multiple"


class AttestationMalformed(ClientAttestationError):
    """Not a single compact JWS with JSON header and claims, or a ``crit``/``b64`` extension we do
    not implement (RFC 7515 sections 4.1.11, 7.1): stops parser confusion."""

    code = "client_attestation.malformed"


class AttestationTyp(ClientAttestationError):
    """``typ`` is not ``oauth-client-attestation+jwt`` (section 4; RFC 8725 section 3.11): stops
    another JWT signed by the same key (an ID token, a PoP) being passed off as an attestation."""

    code = "client_attestation.typ"


class AttestationAlg(ClientAttestationError):
    """``alg`` is ``none``, a MAC, not on the allow-list, or not the one the key is published for
    (section 7.1 step 3; RFC 8725 section 3.1): stops algorithm-substitution attacks, e.g. HS256
    keyed with the attester's public key."""

    code = "client_attestation.alg"


class AttestationKeyHeader(ClientAttestationError):
    """The header carries ``jku``, ``x5u``, ``jwk`` or ``x5c``: the token tries to name its own
    verification key. We trust only the configured JWKS, and reject rather than ignore such tokens
    so that a misconfigured attester is noticed (RFC 8725 section 3.10)."""

    code = "client_attestation.key_header"


class AttestationUnknownKid(ClientAttestationError):
    """No ``kid``, or a ``kid`` absent from the attester's JWKS even after one refetch: stops tokens
    signed by keys that are not (or no longer) the attester's."""

    code = "client_attestation.unknown_kid"


class AttestationJwksUnavailable(ClientAttestationError):
    """The attester's JWKS cannot be fetched and no usable copy is cached: fail closed."""

    code = "client_attestation.jwks_unavailable"
    server_fault = True


class AttestationSignature(ClientAttestationError):
    """The signature does not verify with the attester's key (section 7.1 step 4): stops forgeries."""

    code = "client_attestation.signature"


class AttestationClaims(ClientAttestationError):
    """A required claim (``sub``, ``exp``) is missing or of the wrong type, or an optional one
    (``iss``, ``iat``, ``nbf``) is ill-typed (section 4; RFC 7519 section 4.1)."""

    code = "client_attestation.claims"


class AttestationIssuer(ClientAttestationError):
    """``iss`` is not the configured attester (RFC 7519 section 4.1.1): stops attestations minted by
    another attester that happens to share a key source."""

    code = "client_attestation.iss"


class AttestationExpired(ClientAttestationError):
    """``exp`` has passed, beyond the allowed skew (section 4; RFC 7519 section 4.1.4): stops replay of
    old attestations. The client should fetch a new one, hence ``use_fresh_attestation``."""

    code = "client_attestation.expired"
    oauth_error = USE_FRESH_ATTESTATION


class AttestationNotYetValid(ClientAttestationError):
    """``nbf`` or ``iat`` lies in the future, beyond the allowed skew (RFC 7519 sections 4.1.5, 4.1.6):
    stops pre-minted attestations."""

    code = "client_attestation.not_yet_valid"


class AttestationStale(ClientAttestationError):
    """Older than the configured maximum age, or no ``iat`` to tell (section 7.1 step 6): the
    server wants a fresher device check."""

    code = "client_attestation.stale"
    oauth_error = USE_FRESH_ATTESTATION


class CnfMissing(ClientAttestationError):
    """No ``cnf.jwk`` (section 4; RFC 7800 section 3.2): an attestation bound to no key proves nothing
    about who presents it."""

    code = "client_attestation.cnf_missing"


class CnfPrivate(ClientAttestationError):
    """``cnf.jwk`` holds private members (section 7.1 step 5): the client instance key leaked, so
    possession of it proves nothing."""

    code = "client_attestation.cnf_private"


class CnfMalformed(ClientAttestationError):
    """``cnf.jwk`` is not a well-formed public key of a supported type: stops invalid-curve points
    and keys no proof could be checked against."""

    code = "client_attestation.cnf_malformed"


class SubMismatch(ClientAttestationError):
    """``sub`` is not the request's ``client_id`` (section 7.1 step 7, section 7.5): stops one
    client's attestation authenticating another client."""

    code = "client_attestation.sub_mismatch"


# --- the proof of possession (section 5, section 7) -------------------------------------------


class PopError(ClientAuthError):
    """The Client Attestation PoP JWT is rejected."""

    code = "pop.invalid"


class PopMissing(PopError):
    """Neither an OAuth-Client-Attestation-PoP header nor a DPoP proof (section 7): an attestation
    without a proof of possession is a bearer token anyone who copied it could replay."""

    code = "pop.missing"


class PopMethodNotAccepted(PopError):
    """The proof of possession method is not one this server accepts (section 7, third rule;
    section 7.6)."""

    code = "pop.method"


class PopMultiple(PopError):
    """More than one OAuth-Client-Attestation-PoP value (section 7.2 step 1)."""

    code = "pop.multiple"


class PopMalformed(PopError):
    """Not a single compact JWS with JSON header and claims, or a ``crit``/``b64`` extension."""

    code = "pop.malformed"


class PopTyp(PopError):
    """``typ`` is not ``oauth-client-attestation-pop+jwt`` (section 5.1): stops another JWT signed
    with the instance key (e.g. a DPoP proof) being replayed as a PoP."""

    code = "pop.typ"


class PopAlg(PopError):
    """``alg`` is ``none``, a MAC, not allowed, or unusable with the ``cnf`` key (section 5.1 rule 2,
    section 7.2 step 3)."""

    code = "pop.alg"


class PopSignature(PopError):
    """The PoP does not verify with the attestation's ``cnf.jwk`` (section 7.2 step 4): the sender does
    not hold the attested key, e.g. it copied someone else's attestation."""

    code = "pop.signature"


class PopClaims(PopError):
    """``aud``, ``jti`` or ``iat`` is missing or ill-typed (section 5.1)."""

    code = "pop.claims"


class PopAudience(PopError):
    """``aud`` is not this server's issuer identifier (or resource URL) (section 7.2 step 7): stops a
    PoP made for another server being forwarded here."""

    code = "pop.aud"


class PopIat(PopError):
    """``iat`` is outside the accepted window, in the past or the future (section 7.2 step 6,
    section 10.7): bounds how long a captured PoP is worth replaying."""

    code = "pop.iat"


class PopExpired(PopError):
    """The PoP carries an ``exp`` that has passed (RFC 7519 section 4.1.4; section 5.1 rule 4)."""

    code = "pop.expired"


class PopNotYetValid(PopError):
    """The PoP carries an ``nbf`` in the future (RFC 7519 section 4.1.5; section 5.1 rule 4)."""

    code = "pop.not_yet_valid"


class PopReplay(PopError):
    """The ``jti`` was already seen within the window (section 12.1): stops replay of a captured PoP."""

    code = "pop.replay"


class PopChallengeMissing(PopError):
    """The server requires a challenge and the PoP has none (section 6.1): the client must retry with
    the fresh challenge sent with the error."""

    code = "pop.challenge_missing"
    oauth_error = USE_ATTESTATION_CHALLENGE


class PopChallenge(PopError):
    """The PoP's ``challenge`` is not one the server issued, or was used up (section 7.2 step 5):
    stops pre-computed and replayed PoPs."""

    code = "pop.challenge"
    oauth_error = USE_ATTESTATION_CHALLENGE


# --- DPoP (RFC 9449 section 4.3; combined mode, section 5.2 and section 7.3) -------------------


class DpopError(ClientAuthError):
    """The DPoP proof is rejected (RFC 9449 section 4.3)."""

    code = "dpop.invalid"
    oauth_error = INVALID_DPOP_PROOF


class DpopMultiple(DpopError):
    """More than one DPoP header value (RFC 9449 section 4.3 step 1)."""

    code = "dpop.multiple"


class DpopMalformed(DpopError):
    """Not a single compact JWS with JSON header and claims (RFC 9449 section 4.3 step 2)."""

    code = "dpop.malformed"


class DpopTyp(DpopError):
    """``typ`` is not ``dpop+jwt`` (RFC 9449 section 4.3 step 4)."""

    code = "dpop.typ"


class DpopAlg(DpopError):
    """``alg`` is ``none``, a MAC, not allowed, or unusable with the ``jwk`` (RFC 9449 section 4.3
    step 5)."""

    code = "dpop.alg"


class DpopJwk(DpopError):
    """The ``jwk`` header is missing, private, or not a well-formed public key (RFC 9449 section 4.3
    step 7): a proof must name a public key, never leak a private one."""

    code = "dpop.jwk"


class DpopSignature(DpopError):
    """The proof does not verify with its ``jwk`` (RFC 9449 section 4.3 step 6)."""

    code = "dpop.signature"


class DpopClaims(DpopError):
    """``jti``, ``htm``, ``htu`` or ``iat`` is missing or ill-typed (RFC 9449 section 4.2)."""

    code = "dpop.claims"


class DpopHtm(DpopError):
    """``htm`` is not the request's method (RFC 9449 section 4.3 step 8): stops a proof made for one
    request being used for another."""

    code = "dpop.htm"


class DpopHtu(DpopError):
    """``htu`` is not the request's URI without query and fragment (RFC 9449 section 4.3 step 9)."""

    code = "dpop.htu"


class DpopIat(DpopError):
    """``iat`` is outside the accepted window (RFC 9449 section 4.3 step 11, section 11.1)."""

    code = "dpop.iat"


class DpopReplay(DpopError):
    """The ``jti`` was already seen within the window (RFC 9449 section 11.1)."""

    code = "dpop.replay"


class DpopNonceMissing(DpopError):
    """The server requires a DPoP nonce and the proof has none (RFC 9449 section 8; draft section 7.4)."""

    code = "dpop.nonce_missing"
    oauth_error = USE_DPOP_NONCE


class DpopNonce(DpopError):
    """The proof's ``nonce`` is not one the server provided (RFC 9449 section 4.3 step 10)."""

    code = "dpop.nonce"
    oauth_error = USE_DPOP_NONCE


class DpopAthMissing(DpopError):
    """A proof sent with an access token has no ``ath`` (RFC 9449 section 4.2, section 7)."""

    code = "dpop.ath_missing"


class DpopAth(DpopError):
    """``ath`` is not the hash of the presented access token (RFC 9449 section 4.3 step 12): stops a
    proof being paired with another token."""

    code = "dpop.ath"


class DpopKeyBinding(DpopError):
    """The proof's key is not the one the access token is bound to (``cnf.jkt``, RFC 9449 section 6):
    stops use of a stolen DPoP-bound token."""

    code = "dpop.jkt"


class DpopCnfMismatch(DpopError):
    """In combined mode the DPoP ``jwk`` is not the attestation's ``cnf.jwk`` (section 7.3 step 4,
    compared by RFC 7638 thumbprint): the proof shows possession of some other key."""

    code = "dpop.cnf_mismatch"
    oauth_error = INVALID_CLIENT_ATTESTATION
