"""Errors of the service layer (requests, clients, challenges, stored keys), in the package hierarchy."""

from __future__ import annotations

from attest.errors import AttestationError, InputError


class RequestMalformed(InputError):
    """The request body is not the documented JSON shape (wrong types, missing fields, bad base64)."""

    code = "request.malformed"


class RequestTooLarge(InputError):
    """The request body exceeds the size limit: stops memory exhaustion before any parsing."""

    code = "request.too_large"


class ServiceError(AttestationError):
    """A service-level refusal that is not a verification failure."""

    code = "service.error"


class ClientUnknown(ServiceError):
    """No registered client has this client_id."""

    code = "client.unknown"


class ClientPlatformMismatch(ServiceError):
    """The client is registered for another platform: stops an Android client_id being used with an
    attestation from a platform its policy does not cover."""

    code = "client.platform_mismatch"


class ClientInvalid(ServiceError):
    """A client registration is inconsistent (CLI / config file)."""

    code = "client.invalid"


class ChallengeUnknown(ServiceError):
    """The challenge was never issued (or for another client or purpose): stops forged challenges."""

    code = "challenge.unknown"


class ChallengeExpired(ServiceError):
    """The challenge's short lifetime has passed: bounds the window for relaying an attestation."""

    code = "challenge.expired"


class ChallengeUsed(ServiceError):
    """The challenge was already consumed: every challenge is single use, which stops replay."""

    code = "challenge.used"


class MetricsUnauthorized(ServiceError):
    """``/metrics`` asked for without its bearer token, or with another one."""

    code = "metrics.unauthorized"


class DebugSecretInvalid(ServiceError):
    """The debug client's secret does not match."""

    code = "debug.secret_invalid"


class AppAttestKeyUnknown(ServiceError):
    """No attested App Attest key has this key id (for this client)."""

    code = "appattest.key_unknown"


class AppAttestKeyExists(ServiceError):
    """This App Attest key was attested before: an attestation is accepted once per key."""

    code = "appattest.key_exists"


class AppAttestKeyRevoked(ServiceError):
    """The App Attest key was revoked by an operator."""

    code = "appattest.key_revoked"


class ClientDataMalformed(InputError):
    """The Apple client data is not the documented JSON object (challenge + public JWK)."""

    code = "client_data.malformed"


class ServiceUnavailable(ServiceError):
    """A dependency (the database) is unavailable; nothing was written. Retry later."""

    code = "service.unavailable"
