"""``/healthz`` (the process answers) and ``/readyz`` (the database and the signing keys work)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import text

from attest.server.routes.dependencies import runtime_of
from attest.server.runtime import Runtime

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(runtime: Annotated[Runtime, Depends(runtime_of)]) -> dict[str, str]:
    with runtime.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    runtime.keys.ring().active()
    return {"status": "ready"}
