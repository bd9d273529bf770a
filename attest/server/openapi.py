"""The published OpenAPI document says what the service really answers: every error is RFC 9457
problem+json (FastAPI's default 422 validation response does not exist here; it is a 400)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `code` is the stable machine-readable error code.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
    },
    "required": ["type", "title", "status", "detail", "code"],
}

_STATUSES = {
    "400": "Malformed request, unknown or used challenge",
    "401": "Unknown client or wrong secret",
    "403": "Verification failed (the code names the check)",
    "404": "Not found",
    "409": "Conflict (e.g. an App Attest key attested twice)",
    "413": "Request body too large",
    "429": "Rate limited (see Retry-After)",
    "500": "Internal error (never for bad input)",
    "503": "A dependency is unavailable; nothing was written",
}


def install_problem_openapi(app: FastAPI) -> None:
    """Replace the generated 422 responses with the problem responses every operation can give."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
            for path_item in document.get("paths", {}).values():
                for operation in path_item.values():
                    responses = operation.setdefault("responses", {})
                    responses.pop("422", None)
                    for status, description in _STATUSES.items():
                        responses.setdefault(
                            status,
                            {
                                "description": description,
                                "content": {
                                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                                },
                            },
                        )
            for name in ("HTTPValidationError", "ValidationError"):
                document["components"]["schemas"].pop(name, None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
