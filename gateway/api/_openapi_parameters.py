"""The shared parameters of the OpenAPI document (``components/parameters``: path ids,
request headers; package-private, see :mod:`gateway.api.openapi`)."""

from __future__ import annotations

from typing import Any

from gateway.api._openapi_webhooks import CALLBACK_URL_DESCRIPTION
from gateway.api.middleware.request_id import REQUEST_ID_PATTERN
from gateway.core.identifiers import ID_PATTERN

__all__ = ["PARAMETERS"]

def _parameter(name: str, where: str, schema: dict[str, Any], description: str, *,
               required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema,
            "description": description}


_STRING: dict[str, Any] = {"type": "string"}
_UUID: dict[str, Any] = {"type": "string", "format": "uuid"}
_REQUEST_ID: dict[str, Any] = {"type": "string", "pattern": REQUEST_ID_PATTERN}

PARAMETERS: dict[str, Any] = {
    "ref": _parameter(
        "ref", "path", _STRING,
        "The function's id (all digits), else its name, else its `language_title` "
        "(`nodejs-calculator`); name and `language_title` match case-insensitively "
        "(`myfunction` finds `myFunction`), as names are unique that way."),
    "job_id": _parameter("job_id", "path", _UUID, "A job's id."),
    "request_id": _parameter(
        "request_id", "path", _UUID,
        "A session's id (`request_id` of `POST /api/v1/initialize`); anything that is not a "
        "known session's id → 404 `SESSION_NOT_FOUND`."),
    "trigger_id": _parameter(
        "trigger_id", "path", {"type": "string", "pattern": ID_PATTERN},
        "A trigger's id; anything else, or a trigger of another function → 404 "
        "`TRIGGER_NOT_FOUND`."),
    "fn_path": _parameter(
        "path", "path", _STRING,
        "The rest of the URL path after `/fn/`, slashes included (an HTTP trigger's "
        "`config.path` without its leading `/`; a trailing `/` is ignored)."),
    "Language-Title": _parameter(
        "Language-Title", "header", {"type": "string", "examples": ["nodejs-calculator"]},
        "The function: its `language_title` (`<language>-<name>`) or its name. Missing → 400 "
        "`INVALID_REQUEST` (`details.header`); no such function → 404 `FUNCTION_NOT_FOUND`."),
    "X-Cache-Control": _parameter(
        "X-Cache-Control", "header",
        {"type": "string", "examples": ["no-cache", "no-store", "max-age=60"]},
        "Exactly one of: `no-cache` (do not read the cache; run and store the fresh result), "
        "`no-store` (neither read nor write), `max-age=N` (serve a cached result at most N "
        "seconds old; store a fresh one with TTL min(N, `cache_ttl`); `max-age=0` is "
        "`no-cache`), N a non-negative integer. Case-insensitive, surrounding spaces ignored. "
        "Anything else (lists, other directives, a value after `no-cache`, …) → 400 "
        "`INVALID_REQUEST` with `details.header`.", required=False),
    "SessionRequestID": _parameter(
        "X-Request-ID", "header", _REQUEST_ID,
        "Echoed as usual; when it is a UUID it also becomes the session's id. The same caller "
        "initializing an active id again for the same function gets that session back as it "
        "stands; another caller, another function, or a closed or expired session → 409 "
        "`CONFLICT`. Otherwise the session gets a new UUID.", required=False),
    "X-Request-ID": _parameter(
        "X-Request-ID", "header", _REQUEST_ID,
        "Echoed in the response and error bodies; an invalid value is replaced by a new UUID, "
        "not refused.", required=False),
    "Idempotency-Key": _parameter(
        "Idempotency-Key", "header", {"type": "string", "minLength": 1, "maxLength": 255},
        "The same key from the same caller for the same function within 24 h returns the "
        "first call's job (its current state, which may still be pending or running) without "
        "running again; the same key with another body → 409 `CONFLICT`. Outside 1–255 chars "
        "→ 400.", required=False),
    "Prefer": _parameter(
        "Prefer", "header", {"type": "string", "examples": ["respond-async"]},
        "`respond-async` asks for a 202 with a pending job. `?async=` wins when both are "
        "given.", required=False),
    "X-Callback-URL": _parameter(
        "X-Callback-URL", "header", {"type": "string", "format": "uri", "maxLength": 2048},
        CALLBACK_URL_DESCRIPTION, required=False),
}
