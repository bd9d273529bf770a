"""What the passkey routes (fido/routes.py) and the recovery routes (fido/recovery_routes.py) share:
the deployment's relying-party configuration, the browser's cookies and sessions, and audit events."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from attest.server.audit import RequestAudit
from attest.server.routes.dependencies import request_id_of, runtime_of
from attest.server.runtime import Runtime
from attest.server.settings import Settings
from fido.attestation import AttestationPolicy
from fido.errors import SessionRequired
from fido.relying_party import RelyingParty
from fido.sessions import CookiePolicy, Recovering, SignedIn, resolve_recovery_session, resolve_session


@dataclass(frozen=True)
class PasskeyConfig:
    """The relying party and policies of this deployment, built once from the settings."""

    rp: RelyingParty
    attestation: AttestationPolicy
    cookies: CookiePolicy


@functools.lru_cache(maxsize=16)
def passkey_config(settings: Settings, served_port: int | None) -> PasskeyConfig:
    rp = RelyingParty.configure(
        rp_id=settings.rp_id,
        name=settings.rp_name,
        web_origins=settings.rp_origin_list,
        apk_key_hashes=settings.apk_key_hash_list,
        served_port=served_port,
    )
    require_trusted = settings.webauthn_attestation == "direct"
    anchors = settings.webauthn_trust_anchors_file
    attestation = (
        AttestationPolicy.from_pem_bundle(anchors.read_bytes(), require_trusted=require_trusted)
        if anchors is not None
        else AttestationPolicy(require_trusted=require_trusted)
    )
    secure = settings.is_production or any(origin.startswith("https://") for origin in rp.web_origins())
    return PasskeyConfig(rp=rp, attestation=attestation, cookies=CookiePolicy(secure=secure))


async def config_of(request: Request, runtime: Annotated[Runtime, Depends(runtime_of)]) -> PasskeyConfig:
    # The port the service listens on (the ASGI server's socket, not the client's Host header) makes
    # the development default origin http://localhost:<port>. ``async`` to run on the event loop rather
    # than in the thread pool (see runtime_of); the configuration is built once per settings and port.
    server = request.scope.get("server")
    return passkey_config(runtime.settings, server[1] if server else None)


Config = Annotated[PasskeyConfig, Depends(config_of)]
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


def audit_event(request: Request, runtime: Runtime, event: str) -> RequestAudit:
    return RequestAudit(
        runtime.sessions, runtime.now(), event, None, "webauthn", request_id_of(request), runtime.metrics
    )


def no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


def set_cookie(response: Response, config: PasskeyConfig, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=config.cookies.secure, httponly=True, samesite="strict"
    )


def signed_in_of(request: Request, runtime: Runtime, config: PasskeyConfig) -> SignedIn | None:
    with runtime.sessions() as session:
        return resolve_session(session, request.cookies.get(config.cookies.session_cookie), now=runtime.now())


def recovering_of(request: Request, runtime: Runtime, config: PasskeyConfig) -> Recovering | None:
    """The browser's live recovery session (fido.recovery), or None."""
    with runtime.sessions() as session:
        return resolve_recovery_session(session, request.cookies.get(config.cookies.recovery_cookie), now=runtime.now())


def signed_in_user(request: Request, runtime: RuntimeDep, config: Config) -> SignedIn:
    signed_in = signed_in_of(request, runtime, config)
    if signed_in is None:
        raise SessionRequired("sign in first: this request needs a session")
    return signed_in


SignedInUser = Annotated[SignedIn, Depends(signed_in_user)]
