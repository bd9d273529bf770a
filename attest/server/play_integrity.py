"""Play Integrity next to Android Key Attestation: each client's token decoder, and the check.

A client's :class:`~attest.server.clients.PlayIntegrityConfig` names how its tokens are decoded
(locally with key files, or at Google with a service-account key file). Decoders are built on first
use and kept for the life of the process (a remote decoder caches its access token); replacing a key
file takes a restart. Both signals are bound to the one challenge the request consumed, and the
verdict must name the package the key attestation attested.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

import httpx

from attest.android.play_integrity.errors import IntegrityPackageMismatch, IntegrityTokenMissing
from attest.android.play_integrity.local import LocalTokenDecoder, PlayIntegrityKeys
from attest.android.play_integrity.policy import PlayIntegrityPolicy
from attest.android.play_integrity.remote import PlayIntegrityApiClient
from attest.android.play_integrity.verdict import DeviceRecognitionVerdict, IntegrityVerdict
from attest.android.play_integrity.verify import PlayIntegrityResult, verify_play_integrity
from attest.errors import ConfigurationError
from attest.server.clients import (
    AndroidClientConfig,
    PlayIntegrityConfig,
    PlayIntegrityLocalDecoding,
    PlayIntegrityRemoteDecoding,
)
from attest.tokens.client_attestation import PlayIntegrityClaim

_DEVICE_VERDICTS = {
    "basic": DeviceRecognitionVerdict.MEETS_BASIC_INTEGRITY,
    "device": DeviceRecognitionVerdict.MEETS_DEVICE_INTEGRITY,
    "strong": DeviceRecognitionVerdict.MEETS_STRONG_INTEGRITY,
}


class IntegrityTokenDecoder(Protocol):
    """Turns an integrity token into a verdict (decrypted and signature-checked, or decoded by Google)."""

    def decode(self, token: str, *, package_name: str) -> IntegrityVerdict: ...


class PlayIntegrityDecoders:
    """The decoders of all clients, built on first use. ``transport`` (tests) and ``timeout`` apply
    to Google's API and token endpoint; ``production`` refuses endpoints that are not https."""

    def __init__(
        self, *, production: bool, transport: httpx.BaseTransport | None = None, timeout: float = 10.0
    ) -> None:
        self._production = production
        self._transport = transport
        self._timeout = timeout
        self._decoders: dict[PlayIntegrityLocalDecoding | PlayIntegrityRemoteDecoding, IntegrityTokenDecoder] = {}
        self._lock = threading.Lock()

    def decoder_for(self, config: PlayIntegrityConfig) -> IntegrityTokenDecoder:
        decoding = config.decoding
        with self._lock:
            decoder = self._decoders.get(decoding)
            if decoder is None:
                decoder = self._build(config)
                self._decoders[decoding] = decoder
            return decoder

    def _build(self, config: PlayIntegrityConfig) -> IntegrityTokenDecoder:
        decoding = config.decoding
        if isinstance(decoding, PlayIntegrityLocalDecoding):
            return LocalTokenDecoder(
                PlayIntegrityKeys.from_files(decoding.decryption_key_file, decoding.verification_key_file)
            )
        insecure = config.insecure_urls()
        if self._production and insecure:
            raise ConfigurationError(f"Play Integrity endpoints must be https in production: {insecure}")
        return PlayIntegrityApiClient.from_service_account_file(
            decoding.service_account_file,
            token_uri=decoding.token_uri,
            api_base_url=decoding.api_base_url,
            transport=self._transport,
            timeout=self._timeout,
        )

    def close(self) -> None:
        with self._lock:
            for decoder in self._decoders.values():
                if isinstance(decoder, PlayIntegrityApiClient):
                    decoder.close()
            self._decoders.clear()


def check_play_integrity(
    config: AndroidClientConfig,
    token: str | None,
    *,
    challenge: bytes,
    attested_packages: Sequence[str],
    decoders: PlayIntegrityDecoders,
    at: datetime,
) -> PlayIntegrityResult | None:
    """Verify the request's integrity token under the client's Play Integrity configuration.

    None when the client does not use Play Integrity (a token sent anyway is not read, and the
    Client Attestation JWT says nothing about it), or when it is optional and none was sent.
    The policy's packages are those the key attestation attested *and* the client allows, so the
    two signals must name the same app; the certificate digests are the client's signer digests."""
    settings = config.play_integrity
    if settings is None:
        return None
    if token is None:
        if settings.mode == "required":
            raise IntegrityTokenMissing("this client requires a Play Integrity token (integrity_token)")
        return None
    packages = sorted(set(attested_packages) & set(config.packages))
    if not packages:
        raise IntegrityPackageMismatch("the key attestation named none of the client's packages")
    policy = PlayIntegrityPolicy(
        challenge=challenge,
        package_names=frozenset(packages),
        certificate_digests=frozenset(bytes.fromhex(digest) for digest in config.signer_digests),
        max_age=timedelta(seconds=settings.max_age_seconds),
        required_device_verdict=_DEVICE_VERDICTS[settings.required_device_verdict],
        require_licensed=settings.require_licensed,
    )
    # With several attested packages (a shared user id), Google is asked for the first; the policy
    # still accepts only a verdict naming one of them.
    verdict = decoders.decoder_for(settings).decode(token, package_name=packages[0])
    return verify_play_integrity(verdict, policy, at=at)


def claim_of(result: PlayIntegrityResult | None) -> PlayIntegrityClaim | None:
    """The ``attestation.play_integrity`` member of the Client Attestation JWT for a verified verdict."""
    if result is None:
        return None
    return PlayIntegrityClaim(
        device=result.device_level.value, app_recognized=result.app_recognized, licensed=result.licensed
    )
