"""What each HTTP figure sends, and what the service must hold beforehand for it to succeed.

The service runs with test settings (never production ones): a test trust-anchor file with the roots of
the test factories (``tests/attest/android/factory.py``, ``tests/attest/apple/factory.py``), a fixed clock
at the factories' "now", and no per-address rate limit (every request comes from 127.0.0.1). Inputs are
prepared before a phase, outside the timing: single-use challenges and WebAuthn ceremonies are written
straight into the database, one per request.

* challenge: ``POST /v1/challenge``, nothing to prepare.
* Android attest: a fleet of devices (one attestation-key certificate each, under one RKP-shaped test
  PKI); each request is a fresh leaf, with its own seeded challenge, signed by a device's attestation
  key, as ``KeyStore.getCertificateChain()`` returns it after a new key generation.
* Apple assertion -> JWT: one App Attest key per virtual user, attested over HTTP during setup; each
  request an assertion with that key's next counter over client data naming a seeded challenge.
* passkey login verify: one account with one passkey per virtual user, registered over HTTP during
  setup; each request the assertion for a sign-in ceremony seeded beforehand (what
  ``/v1/passkeys/authentication/options`` stores), with its browser-binding cookie.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from attest.apple.policy import Environment
from attest.jwk import public_key_to_jwk
from attest.server.challenges import Purpose, encode_challenge, store_challenge
from attest.server.clients import AndroidClientConfig, AppleClientConfig, ClientRegistration, add_client
from attest.server.db.engine import make_engine, make_sessionmaker
from attest.server.runtime import prepare_database
from attest.server.settings import Settings
from bench.http_client import Request
from fido import base64url
from fido.ceremonies import CeremonyKind, start_ceremony
from tests.attest.android import factory as android_factory
from tests.attest.apple.factory import TEST_APP_ID, AppAttestFactory, make_assertion
from tests.fido.authenticator import SoftAuthenticator

#: The service's clock: the Android factory's "now", inside every factory certificate's validity.
FIXED_TIME: datetime = android_factory.FACTORY_NOW
STATUS_LIST = Path(__file__).resolve().parents[1] / "fixtures" / "android" / "status-list-sample.json"
ANDROID_CLIENT, APPLE_CLIENT = "bench-android", "bench-ios"
CHALLENGE_TTL = timedelta(minutes=5)
CEREMONY_TTL = timedelta(minutes=5)
#: The binding cookie of sign-in ceremonies over plain http (fido.sessions.CookiePolicy, not secure).
BINDING_COOKIE = "passkey_ceremony"
#: Setup requests in flight at once.
SETUP_THREADS = 8


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


@dataclass
class Service:
    """A prepared deployment: its settings (as ``ATTEST_*`` variables) and a connection for seeding."""

    environment: dict[str, str]
    engine: Engine
    sessions: sessionmaker[Session]
    apple: AppAttestFactory
    android_pki: android_factory.TestPki
    url: str = ""

    def close(self) -> None:
        self.engine.dispose()


def prepare_service(database_url: str, workdir: Path) -> Service:
    """Migrate the database, create the signing keys, register the clients, write the test anchors."""
    apple = AppAttestFactory(now=FIXED_TIME)
    android_pki = android_factory.TestPki(name="bench")
    anchors = workdir / "test-anchors.pem"
    anchors.write_bytes(
        b"".join(
            certificate.public_bytes(serialization.Encoding.PEM)
            for certificate in (android_pki.root_certificate(), apple.root)
        )
    )
    environment = {
        "ATTEST_DATABASE_URL": database_url,
        "ATTEST_STATE_DIR": str(workdir / "state"),
        "ATTEST_ISSUER": "https://attest.bench.example",
        "ATTEST_REVOCATION": "required",
        "ATTEST_STATUS_LIST_FILE": str(STATUS_LIST),
        "ATTEST_STATUS_LIST_MAX_AGE": "P3650D",
        "ATTEST_TEST_TRUST_ANCHORS_FILE": str(anchors),
        "ATTEST_FIXED_TIME": FIXED_TIME.isoformat(),
        "ATTEST_RATE_LIMIT_PER_ADDRESS": "0",
    }
    # The values the workers read from their environment (which also holds ours); no .env file.
    values: dict[str, Any] = {name.removeprefix("ATTEST_").lower(): value for name, value in environment.items()}
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    prepare_database(settings)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        for registration in (
            ClientRegistration(
                client_id=ANDROID_CLIENT,
                config=AndroidClientConfig(
                    packages=(android_factory.DEFAULT_PACKAGE_NAME,),
                    signer_digests=(android_factory.DEFAULT_SIGNER_DIGEST.hex(),),
                ),
            ),
            ClientRegistration(
                client_id=APPLE_CLIENT,
                config=AppleClientConfig(app_ids=(TEST_APP_ID,), environment="development"),
            ),
        ):
            add_client(session, registration, now=FIXED_TIME, production=False)
    return Service(environment, engine, sessions, apple, android_pki)


def _seed_challenges(service: Service, client_id: str, purpose: Purpose, count: int) -> list[tuple[bytes, str]]:
    """``count`` fresh challenges stored for ``client_id``: (raw bytes, the string the app sends)."""
    challenges = []
    with service.sessions.begin() as session:
        for _ in range(count):
            raw = secrets.token_bytes(32)
            value = encode_challenge(raw)
            store_challenge(session, value, client_id=client_id, purpose=purpose, now=FIXED_TIME, ttl=CHALLENGE_TTL)
            challenges.append((raw, value))
    return challenges


class Endpoint(Protocol):
    """One HTTP figure: ``setup`` once per server, then ``streams`` before each phase."""

    name: str
    path: str

    def setup(self, service: Service, users: int) -> None: ...

    def streams(self, service: Service, users: int, per_user: int) -> list[Iterator[Request]]:
        """One stream of ``per_user`` prepared requests for each of ``users`` virtual users."""
        ...


@dataclass
class ChallengeEndpoint:
    name: str = "challenge"
    path: str = "/v1/challenge"

    def setup(self, service: Service, users: int) -> None:
        return None

    def streams(self, service: Service, users: int, per_user: int) -> list[Iterator[Request]]:
        request = Request(self.path, _json({"client_id": ANDROID_CLIENT}))
        return [itertools.repeat(request, per_user) for _ in range(users)]


@dataclass
class _AndroidDevice:
    """The certificates above the attested key, and the key that signs the attested certificates."""

    above_leaf: tuple[bytes, ...]
    issuer: x509.Name
    attestation_key: ec.EllipticCurvePrivateKey


@dataclass
class AndroidEndpoint:
    name: str = "Android attest"
    path: str = "/v1/attest/android"
    devices: int = 16
    _fleet: list[_AndroidDevice] = field(default_factory=list)
    _leaf_key: ec.EllipticCurvePrivateKey | None = None
    _template: x509.Certificate | None = None

    def setup(self, service: Service, users: int) -> None:
        pki = service.android_pki
        key = android_factory.cached_private_key(
            android_factory.KeyType.EC_P256, f"{pki.name}/{android_factory.Role.ATTESTATION_CA}"
        )
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        for _ in range(self.devices):
            # Each call signs the CA certificates anew: distinct DER, as distinct devices send.
            chain = pki.chain()
            certificate = chain.certificate(android_factory.Role.ATTESTATION_CA)
            if certificate.public_key() != key.public_key():
                raise RuntimeError("the Android factory no longer keys its attestation CA as this benchmark assumes")
            self._fleet.append(_AndroidDevice(chain.certificates[1:], certificate.subject, key))
            self._template = chain.leaf_certificate
            leaf_key = chain.leaf_private_key
            assert isinstance(leaf_key, ec.EllipticCurvePrivateKey)
            self._leaf_key = leaf_key

    def streams(self, service: Service, users: int, per_user: int) -> list[Iterator[Request]]:
        challenges = iter(_seed_challenges(service, ANDROID_CLIENT, Purpose.ATTEST, users * per_user))
        devices = itertools.cycle(self._fleet)
        return [iter([self._request(next(devices), *next(challenges)) for _ in range(per_user)]) for _ in range(users)]

    def _request(self, device: _AndroidDevice, raw: bytes, value: str) -> Request:
        leaf = self._leaf(device, android_factory.KeyDescriptionSpec(attestation_challenge=raw).to_der())
        chain = [b64(der) for der in (leaf, *device.above_leaf)]
        return Request(self.path, _json({"client_id": ANDROID_CLIENT, "challenge": value, "certificate_chain": chain}))

    def _leaf(self, device: _AndroidDevice, key_description: bytes) -> bytes:
        """The factory's leaf with ``key_description`` as its attestation extension, issued by ``device``."""
        template, leaf_key = self._template, self._leaf_key
        assert template is not None
        assert leaf_key is not None
        builder = (
            x509.CertificateBuilder()
            .subject_name(template.subject)
            .issuer_name(device.issuer)
            .public_key(leaf_key.public_key())
            .serial_number(template.serial_number)
            .not_valid_before(template.not_valid_before_utc)
            .not_valid_after(template.not_valid_after_utc)
        )
        for extension in template.extensions:
            value = extension.value
            if extension.oid.dotted_string == android_factory.KEY_DESCRIPTION_OID:
                value = x509.UnrecognizedExtension(extension.oid, key_description)
            builder = builder.add_extension(value, critical=extension.critical)
        return builder.sign(device.attestation_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@dataclass
class _AppleDevice:
    key_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    jwk: dict[str, str]
    counter: int = 0


@dataclass
class AppleAssertionEndpoint:
    name: str = "Apple assertion -> JWT"
    path: str = "/v1/attest/apple/assertion"
    _devices: list[_AppleDevice] = field(default_factory=list)

    def setup(self, service: Service, users: int) -> None:
        """One attested App Attest key per user, through ``/v1/challenge`` and ``/v1/attest/apple``."""
        with ThreadPoolExecutor(SETUP_THREADS) as pool:
            self._devices = list(pool.map(lambda _: self._attested_device(service), range(users)))

    def _attested_device(self, service: Service) -> _AppleDevice:
        with httpx.Client(base_url=service.url, timeout=60) as http:
            answer = http.post("/v1/challenge", json={"client_id": APPLE_CLIENT})
            answer.raise_for_status()
            jwk = dict(public_key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
            client_data = _json({"challenge": answer.json()["attestation_challenge"], "jwk": jwk})
            built = service.apple.attestation(
                app_id=TEST_APP_ID, environment=Environment.DEVELOPMENT, client_data=client_data
            )
            answer = http.post(
                "/v1/attest/apple",
                json={
                    "client_id": APPLE_CLIENT,
                    "key_id": b64(built.key_id),
                    "attestation_object": b64(built.data),
                    "client_data": b64(client_data),
                },
            )
        if answer.status_code != 200:
            raise RuntimeError(f"App Attest setup failed: {answer.status_code} {answer.text}")
        return _AppleDevice(built.key_id, built.private_key, jwk)

    def streams(self, service: Service, users: int, per_user: int) -> list[Iterator[Request]]:
        challenges = iter(_seed_challenges(service, APPLE_CLIENT, Purpose.ASSERTION, users * per_user))
        return [iter([self._request(device, next(challenges)[1]) for _ in range(per_user)]) for device in self._devices]

    def _request(self, device: _AppleDevice, challenge: str) -> Request:
        device.counter += 1
        client_data = _json({"challenge": challenge, "jwk": device.jwk})
        assertion = make_assertion(
            device.private_key, client_data=client_data, counter=device.counter, app_id=TEST_APP_ID
        )
        body = {
            "client_id": APPLE_CLIENT,
            "key_id": b64(device.key_id),
            "assertion": b64(assertion),
            "client_data": b64(client_data),
        }
        return Request(self.path, _json(body))


@dataclass
class PasskeyLoginEndpoint:
    name: str = "passkey login verify"
    path: str = "/v1/passkeys/authentication/verify"
    _accounts: list[tuple[SoftAuthenticator, bytes]] = field(default_factory=list)
    _origin: str = ""

    def setup(self, service: Service, users: int) -> None:
        """One account with one device-bound passkey (no signature counter, like most passkeys) per user,
        registered through the passkey API."""
        # The development RP: ID localhost, origin http://localhost:<the served port>.
        self._origin = "http://localhost:" + service.url.rsplit(":", 1)[1]
        with ThreadPoolExecutor(SETUP_THREADS) as pool:
            self._accounts = list(pool.map(lambda index: self._registered(service, index), range(users)))

    def _registered(self, service: Service, index: int) -> tuple[SoftAuthenticator, bytes]:
        authenticator = SoftAuthenticator(counter=0)
        with httpx.Client(base_url=service.url, timeout=60) as http:
            answer = http.post(
                "/v1/passkeys/registration/options",
                json={"username": f"bench-{index}-{secrets.token_hex(4)}", "display_name": "Bench"},
            )
            answer.raise_for_status()
            options = answer.json()
            credential = authenticator.create(options["options"], origin=self._origin)
            answer = http.post(
                "/v1/passkeys/registration/verify",
                json={"ceremony_id": options["ceremony_id"], "credential": credential},
            )
        if answer.status_code != 201:
            raise RuntimeError(f"passkey setup failed: {answer.status_code} {answer.text}")
        return authenticator, next(iter(authenticator.credentials))

    def streams(self, service: Service, users: int, per_user: int) -> list[Iterator[Request]]:
        binding = base64url.encode(secrets.token_bytes(32))
        cookie = (("Cookie", f"{BINDING_COOKIE}={binding}"),)
        ceremonies = []
        with service.sessions.begin() as session:
            for _ in range(users * per_user):
                ceremony = start_ceremony(
                    session,
                    kind=CeremonyKind.AUTHENTICATION,
                    binding=binding,
                    now=FIXED_TIME,
                    ttl=CEREMONY_TTL,
                    require_user_verification=True,
                )
                ceremonies.append((ceremony.ceremony_id, ceremony.challenge))
        pending = iter(ceremonies)
        streams = []
        for authenticator, credential_id in self._accounts[:users]:
            requests = []
            for _ in range(per_user):
                ceremony_id, challenge = next(pending)
                # A discoverable sign-in: empty allowCredentials, the account named by the userHandle.
                options = {"rpId": "localhost", "challenge": base64url.encode(challenge), "allowCredentials": []}
                credential = authenticator.get(options, origin=self._origin, credential_id=credential_id)
                body = _json({"ceremony_id": ceremony_id, "credential": credential})
                requests.append(Request(self.path, body, cookie))
            streams.append(iter(requests))
        return streams


def endpoints() -> list[Endpoint]:
    return [ChallengeEndpoint(), AndroidEndpoint(), AppleAssertionEndpoint(), PasskeyLoginEndpoint()]
